package decide

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Group commit. Every decision (Decide, DecideInputs, a room worker's run,
// an appservice transaction) is a job for the committer. Jobs that are
// waiting when a batch slot is free share one database transaction and
// one commit: their rooms are locked together in sorted order (one round
// trip), decided one after the other, and written and committed together
// (one more). Nobody waits on purpose: a lone decision commits at once,
// and batches form only when decisions arrive while others commit.
//
// What it keeps:
//   - The room lock. Every room of a batch is locked before any is
//     decided, in sorted order, like every other multi-room transaction,
//     here or in another replica: no deadlock on rooms.
//   - The order within a room. A room is in one batch at a time, and a
//     job waits behind any earlier job that shares a room with it.
//   - Durability before acknowledgement. A caller returns only after the
//     shared commit (or with an error).
//   - Isolation of failures. When one room's decision fails or panics,
//     the others are decided again without it, and it is decided alone,
//     so its caller sees its own error (and the set-aside of poison
//     events works as before).

const (
	// maxBatches bounds the batches in flight at once (each holds a
	// database connection). More than one lets Walkie's side of one batch
	// overlap PostgreSQL's side of another.
	maxBatches = 2
	// maxBatchRooms bounds a batch's rooms, so the locks it holds stay short.
	maxBatchRooms = 64
)

// job is one caller's decision.
type job struct {
	ctx   context.Context
	rooms []string // sorted, each once
	// limit is how many pending events of each room to decide.
	limit  int
	inputs []floor.Input // a room decision's own inputs
	txn    *txnJob       // an appservice transaction to store first, or nil
	// check, when set, may refuse a room decision's outcome: the decision
	// is then rolled back (see Decider.decideChecked).
	check func(Outcome) error

	state jobState // under committer.mu
	outs  []Outcome
	err   error
}

type jobState int

const (
	queued jobState = iota
	running
	done
)

// txnJob is an appservice transaction's part of a job: its events are
// stored in the batch, then its rooms decided.
type txnJob struct {
	id     string
	events []store.InboxEvent
	parsed map[string]matrix.Envelope
	replay bool
}

// envelopes are the transaction's events in room, in order.
func (t *txnJob) envelopes(room string) []matrix.Envelope {
	var envs []matrix.Envelope
	for _, ev := range t.events {
		if ev.RoomID == room {
			envs = append(envs, t.parsed[ev.EventID])
		}
	}
	return envs
}

// owner names the transaction's statements (store.Tx.SetOwner); room IDs
// start with '!', so it names no room.
func (t *txnJob) owner() string { return "txn " + t.id }

// committer forms batches of jobs and runs them.
type committer struct {
	d *Decider

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*job
	busy    map[string]bool // rooms of the batches in flight
	running int             // batches in flight
	paused  bool            // tests hold batches back to form one (export_test.go)
}

func newCommitter(d *Decider) *committer {
	c := &committer{d: d, busy: map[string]bool{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// do returns when j is decided (its outs or err set). While a batch slot
// is free, the caller itself runs a batch of whatever waits, its own job
// or others'. A job whose context ends while it waits is withdrawn; once
// in a batch it stays until the batch ends.
func (c *committer) do(j *job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = append(c.queue, j)
	stop := context.AfterFunc(j.ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	for j.state != done {
		if j.state == queued && j.ctx.Err() != nil {
			c.queue = slices.DeleteFunc(c.queue, func(q *job) bool { return q == j })
			j.err, j.state = j.ctx.Err(), done
			return
		}
		if c.running < maxBatches && !c.paused {
			if batch := c.take(); len(batch) > 0 {
				c.running++
				c.mu.Unlock()
				c.run(batch)
				c.mu.Lock()
				c.running--
				c.cond.Broadcast()
				continue
			}
		}
		c.cond.Wait()
	}
}

// take removes the next batch from the queue: jobs in arrival order whose
// rooms are not in a batch in flight, nor in an earlier job left waiting.
func (c *committer) take() []*job {
	var batch, left []*job
	blocked := map[string]bool{}
	rooms := 0
	for _, j := range c.queue {
		free := !slices.ContainsFunc(j.rooms, func(r string) bool { return c.busy[r] || blocked[r] })
		if !free || len(batch) > 0 && rooms+len(j.rooms) > maxBatchRooms {
			for _, r := range j.rooms {
				blocked[r] = true
			}
			left = append(left, j)
			continue
		}
		batch = append(batch, j)
		rooms += len(j.rooms)
		for _, r := range j.rooms {
			c.busy[r] = true
		}
		j.state = running
	}
	c.queue = left
	return batch
}

// finish hands jobs back to their callers, with err for those without a
// result of their own.
func (c *committer) finish(jobs []*job, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, j := range jobs {
		if j.state == done {
			continue
		}
		if j.outs == nil && j.err == nil {
			j.err = err
		}
		j.state = done
		for _, r := range j.rooms {
			delete(c.busy, r)
		}
	}
	c.cond.Broadcast()
}

// run decides a batch. Its context ends when every caller's has ended: a
// caller that gives up does not cancel the others' commit.
func (c *committer) run(batch []*job) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	var left atomic.Int32
	left.Store(int32(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, j := range batch {
		stops[i] = context.AfterFunc(j.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}()
	defer func() {
		// A bug here must not leave the callers waiting for ever.
		if p := recover(); p != nil {
			c.finish(batch, panicked(p))
		}
	}()
	c.decide(ctx, batch)
}

// decide commits jobs together; should that fail, it decides them again
// without the job that failed, and that one alone (or, when no job is to
// blame, each alone).
func (c *committer) decide(ctx context.Context, jobs []*job) {
	outs, committed, err := c.attempt(ctx, jobs)
	if err == nil {
		if c.d.metrics != nil {
			c.d.metrics.DecisionCommits.Inc()
		}
		for _, j := range jobs {
			j.outs = outs[j]
			for i := range j.outs {
				j.outs[i].CommittedAt = committed
				c.d.committed(j.outs[i])
			}
		}
		c.finish(jobs, nil)
		return
	}
	if len(jobs) == 1 || ctx.Err() != nil {
		c.finish(jobs, cause(err))
		return
	}
	if g := guilty(err, jobs); g != nil {
		c.decide(ctx, slices.DeleteFunc(slices.Clone(jobs), func(j *job) bool { return j == g }))
		c.decide(ctx, []*job{g})
		return
	}
	for _, j := range jobs {
		c.decide(ctx, []*job{j})
	}
}

// attempt decides jobs in one database transaction: the transactions'
// events are stored and every room locked in one round trip, then the
// rooms are decided in sorted order (each sees the writes of those before
// it: a device granted there is busy here), and everything is written
// and committed in another.
func (c *committer) attempt(ctx context.Context, jobs []*job) (map[*job][]Outcome, time.Time, error) {
	var outs map[*job][]Outcome
	committed, err := c.d.store.InTx(ctx, func(tx *store.Tx) error {
		outs = make(map[*job][]Outcome, len(jobs))
		var locks []store.RoomLock
		byRoom := map[string]*job{}
		// Envelopes by event ID: the transactions' now, pending events'
		// once read, so each event is parsed once.
		parsed := map[string]matrix.Envelope{}
		for _, j := range jobs {
			if t := j.txn; t != nil {
				tx.SetOwner(t.owner())
				tx.SaveTransaction(t.id, t.events, func(replay bool, _ []string) { t.replay = replay })
				maps.Copy(parsed, t.parsed)
			}
			for _, r := range j.rooms {
				devices := requesters(j.inputs)
				if t := j.txn; t != nil {
					devices = requesters(eventInputs(t.envelopes(r)))
				}
				locks = append(locks, store.RoomLock{RoomID: r, Limit: j.limit, Devices: devices})
				byRoom[r] = j
			}
		}
		tx.SetOwner("")
		if len(locks) == 0 {
			return nil // transactions without events: stored with the commit
		}
		slices.SortFunc(locks, func(a, b store.RoomLock) int { return strings.Compare(a.RoomID, b.RoomID) })
		locked, err := tx.LockRooms(locks)
		if err != nil {
			return err
		}
		if err := tx.LockDevices(c.d.devicesAhead(locks, locked, byRoom, parsed)); err != nil {
			return err
		}
		for _, l := range locks {
			j := byRoom[l.RoomID]
			tx.SetOwner(l.RoomID)
			out, err := c.d.decideGuarded(tx, l.RoomID, j, parsed)
			if err == nil && j.check != nil {
				err = j.check(out)
			}
			if err != nil {
				return &jobError{job: j, err: err}
			}
			outs[j] = append(outs[j], out)
		}
		return nil
	})
	return outs, committed, err
}

// devicesAhead are the devices the locked rooms' decisions will most
// likely check (devices.go), now that their pending events are read; it
// parses those events into parsed.
func (d *Decider) devicesAhead(locks []store.RoomLock, locked []store.LockedRoom, byRoom map[string]*job, parsed map[string]matrix.Envelope) []floor.Device {
	var devices []floor.Device
	for i, l := range locks {
		var envs []matrix.Envelope
		for _, ev := range locked[i].Events {
			env, ok := parsed[ev.EventID]
			if !ok {
				var err error
				if env, err = matrix.ParseEnvelope(ev.Raw); err != nil {
					continue // the decision logs it
				}
				parsed[ev.EventID] = env
			}
			envs = append(envs, env)
		}
		inputs := append(slices.Clone(byRoom[l.RoomID].inputs), eventInputs(envs)...)
		devices = append(devices, requesters(inputs)...)
		devices = append(devices, nextInQueue(locked[i], inputs)...)
	}
	return devices
}

// decideGuarded decides one room of a batch; a panic fails this room's
// job only (store.InTx would blame the whole batch).
func (d *Decider) decideGuarded(tx *store.Tx, roomID string, j *job, parsed map[string]matrix.Envelope) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked(p)
		}
	}()
	return d.decideRoom(tx, roomID, j.limit, j.inputs, parsed)
}

// panicked is the poison error of a decision that panicked.
func panicked(p any) error {
	return store.Poison(fmt.Errorf("decision panicked: %v\n%s", p, debug.Stack()))
}

// jobError is a room's decision that failed on Walkie's side (it could
// not be encoded, it panicked, the room's state could not be read).
type jobError struct {
	job *job
	err error
}

func (e *jobError) Error() string { return e.err.Error() }
func (e *jobError) Unwrap() error { return e.err }

// guilty is the job a batch failed for: the owner of the statement
// PostgreSQL refused, or the job whose decision failed on Walkie's side;
// nil when the batch failed as a whole (the connection, the commit).
func guilty(err error, jobs []*job) *job {
	if owner, ok := store.FailedOwner(err); ok {
		for _, j := range jobs {
			if slices.Contains(j.rooms, owner) || j.txn != nil && j.txn.owner() == owner {
				return j
			}
		}
	}
	var je *jobError
	if errors.As(err, &je) && slices.Contains(jobs, je.job) {
		return je.job
	}
	return nil
}

// cause strips the batch's wrapping from a job's own error.
func cause(err error) error {
	var je *jobError
	if errors.As(err, &je) {
		return je.err
	}
	return err
}
