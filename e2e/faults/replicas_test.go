package faults

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// Two walkie processes share one database; the homeserver's transactions
// go to either at random. Thousands of talk requests fight over the floors
// of 20 rooms. The floor log must never show two holders in a room, terms
// must strictly increase, and every request must be answered exactly once.
func TestTwoReplicas(t *testing.T) {
	runTwoReplicas(t, 2000)
}

// concurrentPushers is how many transactions are in flight at once: far
// more contention than one homeserver makes, on purpose.
const concurrentPushers = 8

func runTwoReplicas(t *testing.T, requests int) {
	r := newRig(t, pgtest.NewDatabase(t))
	r.start()
	replica := NewReplica(t, r.walkie)
	MustStart(t, r.ctx, replica)
	rooms := NewRooms("rep", 20, 6)
	r.setUp(rooms...)

	// From here on, every transaction goes to either process at random.
	r.push = NewPusher(r.walkie.Config.AppService.HSToken, "rep", r.walkie.URL(), replica.URL())
	// Transactions of one to three requests, handed out to the pushers.
	batches := make(chan int, requests)
	for left := requests; left > 0; {
		n := min(1+rand.IntN(3), left)
		batches <- n
		left -= n
	}
	close(batches)
	var wg sync.WaitGroup
	errs := make(chan error, concurrentPushers)
	for w := range concurrentPushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for n := range batches {
				events := make([]json.RawMessage, n)
				for i := range events {
					room := rooms[rng.IntN(len(rooms))]
					d := room.Devices[rng.IntN(len(room.Devices))]
					events[i], _ = r.ev.Request(room.ID, d, contendedAction(rng))
				}
				if err := r.push.Push(r.ctx, events...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r.waitIdle()
	r.walkie.Stop()
	replica.Stop()

	stats := r.push.Stats()
	decisionsA := strings.Count(r.walkie.Output(), `"Floor decision"`)
	decisionsB := strings.Count(replica.Output(), `"Floor decision"`)
	if stats.ByTarget[r.walkie.URL()] == 0 || stats.ByTarget[replica.URL()] == 0 || decisionsA == 0 || decisionsB == 0 {
		t.Errorf("both replicas must take part: transactions %v, decisions logged %d and %d", stats.ByTarget, decisionsA, decisionsB)
	}
	r.auditAll(figures{
		"rooms":                          len(rooms),
		"transactions to replica A":      stats.ByTarget[r.walkie.URL()],
		"transactions to replica B":      stats.ByTarget[replica.URL()],
		"decisions logged by replica A":  decisionsA,
		"decisions logged by replica B":  decisionsB,
		"transactions in flight at once": concurrentPushers,
	})
}

// contendedAction is mostly requests, with some releases and cancels so
// floors change hands and queues move.
func contendedAction(rng *rand.Rand) string {
	switch n := rng.IntN(10); {
	case n == 0:
		return floor.ActionRelease
	case n == 1:
		return floor.ActionCancel
	}
	return floor.ActionRequest
}
