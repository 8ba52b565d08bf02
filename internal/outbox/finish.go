package outbox

import (
	"context"
	"sync"

	"github.com/walkie-ptt/walkie/internal/store"
)

// finisher records the results of rooms sent at the same moment in one
// commit (store.FinishRooms). A room's goroutine that finds no round in
// flight leads one, recording whatever waits; otherwise it waits for the
// round that records its room, or to be handed the lead for the next.
// Nobody waits on purpose: a lone room is recorded at once.
type finisher struct {
	mu      sync.Mutex
	waiting []*finishJob
	leading bool
}

type finishJob struct {
	finished store.Finished
	dueAgain bool // a room of its round is due again at once
	err      error
	done     chan struct{} // closed when another round recorded it
	lead     chan struct{} // closed when it is to lead the next round
}

// finish records a leased room's results (see store.FinishRoom); dueAgain
// says that a room of the round is due again at once.
func (s *Sender) finish(ctx context.Context, b store.RoomBatch, res store.RoomResult) (dueAgain bool, err error) {
	j := &finishJob{finished: store.Finished{Room: b, Result: res}, done: make(chan struct{}), lead: make(chan struct{})}
	f := &s.finisher
	f.mu.Lock()
	f.waiting = append(f.waiting, j)
	if f.leading {
		f.mu.Unlock()
		select {
		case <-j.done:
			return j.dueAgain, j.err
		case <-j.lead:
		}
		f.mu.Lock()
	}
	f.leading = true
	round := f.waiting // j among them
	f.waiting = nil
	f.mu.Unlock()

	rooms := make([]store.Finished, len(round))
	for i, r := range round {
		rooms[i] = r.finished
	}
	n, err := s.Store.FinishRooms(ctx, s.owner, rooms)
	for _, r := range round {
		r.err, r.dueAgain = err, n > 0
		if r != j {
			close(r.done)
		}
	}

	f.mu.Lock()
	if len(f.waiting) > 0 {
		close(f.waiting[0].lead)
	} else {
		f.leading = false
	}
	f.mu.Unlock()
	return n > 0, err
}
