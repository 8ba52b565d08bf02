package engine

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// grantTracker pairs every grant the load generator waits for with the
// floor state that announces it. The latency of a grant runs from the
// moment the generator started the transaction that causes it (a
// talk_request to an idle floor, or the holder's `stopped` that hands the
// floor to the queue) to the moment the floor-state PUT carrying the new
// term reached the homeserver stand-in: everything Walkie does in between
// (inbox commit, scheduling, decision transaction, outbox claim, send).
//
// A room whose grant is awaited is parked: the generator moves on to other
// rooms and the tracker requeues the room when its grant arrives, as a
// client would only start broadcasting after seeing its grant.
type grantTracker struct {
	rooms   map[string]*roomTrack // fixed after construction
	byIndex []*roomTrack
	requeue func(index int)

	mu      sync.Mutex
	samples []time.Duration

	timeouts   atomic.Int64 // awaited grants that never came
	unexpected atomic.Int64 // awaited grants that came with another term
}

type roomTrack struct {
	index int

	mu         sync.Mutex
	published  bool  // a floor state arrived at all
	seenTerm   int64 // highest term published
	awaitTerm  int64 // 0: no grant awaited
	awaitSince time.Time
	parked     bool
	parkedTill time.Time
}

func newGrantTracker(roomIDs []string, requeue func(index int)) *grantTracker {
	t := &grantTracker{rooms: make(map[string]*roomTrack, len(roomIDs)), requeue: requeue}
	for i, id := range roomIDs {
		rt := &roomTrack{index: i}
		t.rooms[id] = rt
		t.byIndex = append(t.byIndex, rt)
	}
	return t
}

// FloorPublished implements fakehs.FloorObserver.
func (t *grantTracker) FloorPublished(roomID string, term int64, at time.Time) {
	rt := t.rooms[roomID]
	if rt == nil {
		return
	}
	rt.mu.Lock()
	rt.published = true
	rt.seenTerm = max(rt.seenTerm, term)
	wake := false
	if rt.awaitTerm != 0 && term >= rt.awaitTerm {
		if term == rt.awaitTerm {
			t.record(at.Sub(rt.awaitSince))
		} else {
			t.unexpected.Add(1)
		}
		rt.awaitTerm = 0
		wake, rt.parked = rt.parked, false
	}
	rt.mu.Unlock()
	if wake {
		t.requeue(rt.index)
	}
}

func (t *grantTracker) record(d time.Duration) {
	t.mu.Lock()
	t.samples = append(t.samples, d)
	t.mu.Unlock()
}

// term is the highest term published in room index.
func (t *grantTracker) term(index int) int64 {
	rt := t.byIndex[index]
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.seenTerm
}

// expect announces that the transaction about to be sent at since should
// make Walkie grant the floor of room index with the next term.
func (t *grantTracker) expect(index int, since time.Time) {
	rt := t.byIndex[index]
	rt.mu.Lock()
	rt.awaitTerm, rt.awaitSince = rt.seenTerm+1, since
	rt.mu.Unlock()
}

// park holds room index until its awaited grant arrives or until till. It
// reports false when the grant already arrived: the room is ready now.
func (t *grantTracker) park(index int, till time.Time) bool {
	rt := t.byIndex[index]
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.awaitTerm == 0 {
		return false
	}
	rt.parked, rt.parkedTill = true, till
	return true
}

// expire gives up on grants awaited past their deadline, so one lost
// grant cannot stall its room for the rest of the run, and requeues the
// rooms.
func (t *grantTracker) expire(now time.Time) {
	for _, rt := range t.byIndex {
		rt.mu.Lock()
		expired := rt.parked && now.After(rt.parkedTill)
		if expired {
			rt.parked, rt.awaitTerm = false, 0
		}
		rt.mu.Unlock()
		if expired {
			t.timeouts.Add(1)
			t.requeue(rt.index)
		}
	}
}

// unpublished counts rooms without any floor state yet.
func (t *grantTracker) unpublished() int {
	n := 0
	for _, rt := range t.byIndex {
		rt.mu.Lock()
		if !rt.published {
			n++
		}
		rt.mu.Unlock()
	}
	return n
}

// latencies returns the grant latencies recorded so far, sorted.
func (t *grantTracker) latencies() []time.Duration {
	t.mu.Lock()
	out := slices.Clone(t.samples)
	t.mu.Unlock()
	slices.Sort(out)
	return out
}

// LatencySummary describes a latency distribution.
type LatencySummary struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

// summarise computes nearest-rank percentiles of sorted samples.
func summarise(sorted []time.Duration) LatencySummary {
	n := len(sorted)
	if n == 0 {
		return LatencySummary{}
	}
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(n))) - 1
		return sorted[min(max(i, 0), n-1)]
	}
	return LatencySummary{N: n, P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: sorted[n-1]}
}
