package decide

import "github.com/walkie-ptt/walkie/internal/matrix"

// InjectFault makes every event's translation call fault, which may add
// calls or panic (see Decider.fault).
func (d *Decider) InjectFault(fault func(env matrix.Envelope) []matrix.Call) { d.fault = fault }

// PauseCommits holds batches back until resume is called: decisions made
// meanwhile wait, and form one batch when resumed.
func (d *Decider) PauseCommits() (resume func()) {
	c := d.commits
	c.mu.Lock()
	c.paused = true
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.paused = false
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// WaitingDecisions is how many decisions wait for a batch.
func (d *Decider) WaitingDecisions() int {
	c := d.commits
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}
