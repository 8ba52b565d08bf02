package decide

import (
	"context"
	"sync"
	"time"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Hand-off at commit (store/handoff.go). A decision that writes outbox
// rows for a room it finds idle leases the room to this process's outbox
// sender in its own transaction; after the commit the rows go to the
// sender through HandOffs, which it reads as it reads OutboxReady: no
// claim, no reading the rows back. The sender chooses its owner name and
// lease (HandOffTo); decide only passes what the store leased.

// HandOffs are the rooms this process's decisions leased to one outbox
// sender at commit, oldest first. Nothing here blocks a decision: the
// queue grows instead, by at most one batch per room (a leased room is
// not idle, so it is not handed off again until released).
type HandOffs struct {
	d      *Decider
	lessee store.Lessee
	ready  chan struct{}

	mu      sync.Mutex
	queue   []HandedOff
	stopped bool
}

// HandedOff is a room leased to the sender at commit: its rows, and the
// calls they encode (Calls[i] is Room.Items[i]'s), so the sender need not
// decode them again.
type HandedOff struct {
	Room  store.RoomBatch
	Calls []matrix.Call
}

// HandOffTo makes this Decider's decisions lease the idle rooms they
// write rows for to the sender named owner, for lease, until Stop. There
// is one such sender per Decider: nil when another holds it (that one
// gets the hand-offs, this one claims).
func (d *Decider) HandOffTo(owner string, lease time.Duration) *HandOffs {
	h := &HandOffs{d: d, lessee: store.Lessee{Owner: owner, Lease: lease, Now: time.Now}, ready: make(chan struct{}, 1)}
	if !d.handOffs.CompareAndSwap(nil, h) {
		return nil
	}
	return h
}

// Ready receives a value when hand-offs were queued.
func (h *HandOffs) Ready() <-chan struct{} { return h.ready }

// Take removes up to n hand-offs from the queue, oldest first. Each is
// the sender's from then on: it sends it, or at least releases it
// (store.FinishRooms), before its Deadline.
func (h *HandOffs) Take(n int) []HandedOff {
	h.mu.Lock()
	defer h.mu.Unlock()
	n = min(n, len(h.queue))
	taken := h.queue[:n:n]
	h.queue = h.queue[n:]
	if len(h.queue) == 0 {
		h.queue = nil
	}
	return taken
}

// Waiting is how many hand-offs wait to be taken.
func (h *HandOffs) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.queue)
}

// Stop ends hand-offs to this sender and returns those it has not taken,
// for it to release. A decision that leased a room before Stop and
// commits after it releases the room itself.
func (h *HandOffs) Stop() []HandedOff {
	h.d.handOffs.CompareAndSwap(h, nil)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	left := h.queue
	h.queue = nil
	return left
}

// push queues a hand-off; false when the sender has stopped.
func (h *HandOffs) push(b HandedOff) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	h.queue = append(h.queue, b)
	select {
	case h.ready <- struct{}{}:
	default:
	}
	return true
}

// handOff is a decision's request for a hand-off, where it goes, and
// the calls its rows encode.
type handOff struct {
	to    *HandOffs
	lease *store.HandOff
	calls []matrix.Call
}

// leaseOutbox asks the transaction to lease the room to the sender when
// it is idle, if a sender takes hand-offs and the decision wrote rows
// (the calls, just appended).
func (d *Decider) leaseOutbox(tx *store.Tx, roomID string, calls []matrix.Call) *handOff {
	h := d.handOffs.Load()
	if h == nil || len(calls) == 0 {
		return nil
	}
	return &handOff{to: h, lease: tx.LeaseOutbox(roomID, h.lessee), calls: calls}
}

// handOver gives a committed decision's leased rows to the sender; false
// when the room was not leased (a claim sends its rows). Rows leased to
// a sender that has stopped are released at once, for a claim.
func (d *Decider) handOver(out Outcome) bool {
	if out.handOff == nil {
		return false
	}
	b, ok := out.handOff.lease.Batch()
	if !ok {
		return false
	}
	if out.handOff.to.push(HandedOff{Room: b, Calls: out.handOff.calls[:len(b.Items)]}) {
		return true
	}
	ctx, cancel := context.WithDeadline(context.Background(), b.Deadline())
	defer cancel()
	if _, err := d.store.FinishRooms(ctx, out.handOff.lease.Owner(), []store.Finished{{Room: b}}); err != nil {
		d.log.Warn().Err(err).Str("room_id", out.RoomID).Msg("Could not release a room handed to a stopped outbox sender; its lease runs out")
	}
	return false
}
