package faults

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// The homeserver becomes unreachable (every connection dropped) while
// conversations go on, and one room refuses every send with 403 throughout.
// Decisions must go on and their events wait in the outbox; once the
// homeserver is back, every room's events must arrive, in the room's order,
// each once; the refusing room's rows must be given up without holding up
// any other room.
func TestHomeserverOutage(t *testing.T) {
	runHomeserverOutage(t, 5*time.Second)
}

func runHomeserverOutage(t *testing.T, outage time.Duration) {
	r := newRig(t, pgtest.NewDatabase(t))
	r.start()
	rooms := NewRooms("hs", 5, 4)
	forbidden := NewRooms("forbidden", 1, 4)[0]
	r.setUp(append(rooms, forbidden)...)
	r.waitIdle() // setup delivered everywhere before the forbidden room turns hostile
	r.hs.Forbid(forbidden.ID)
	deliveredBefore := len(r.hs.Deliveries())

	stop := make(chan struct{})
	done := r.busyPusher(append(rooms, forbidden), stop)
	time.Sleep(time.Second)
	r.hs.Down(true)
	atOutage := len(r.hs.Deliveries())
	var maxQueued int64
	for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if b, err := ReadBacklog(r.ctx, r.db); err == nil {
			maxQueued = max(maxQueued, b.Outbox)
		}
	}
	if got := len(r.hs.Deliveries()); got != atOutage {
		t.Fatalf("the stand-in applied %d sends while down", got-atOutage)
	}
	r.hs.Down(false)
	time.Sleep(time.Second)
	if err := stopAndWait(stop, done); err != nil {
		t.Fatalf("pusher: %v\n%s", err, r.walkie.OutputTail())
	}
	r.waitIdle()
	r.walkie.Stop()
	if maxQueued == 0 {
		t.Error("no outbox row waited during the outage: the test proves nothing")
	}

	rows, err := ReadOutbox(r.ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	var forbiddenRows, failedElsewhere int
	for _, row := range rows {
		switch {
		case row.RoomID == forbidden.ID && row.Failed:
			forbiddenRows++
		case row.Failed:
			failedElsewhere++
		}
	}
	for _, d := range r.hs.Deliveries()[deliveredBefore:] {
		if d.RoomID == forbidden.ID {
			t.Errorf("the forbidden room got a %s delivered", d.Kind)
		}
	}
	if forbiddenRows == 0 {
		t.Error("the forbidden room produced no failed rows: the test proves nothing")
	}
	if failedElsewhere > 0 {
		t.Errorf("%d rows failed in rooms the homeserver never refused", failedElsewhere)
	}
	r.auditAll(figures{
		"outage":                          outage,
		"most rows waiting in the outbox": maxQueued,
		"rows given up in the 403 room":   forbiddenRows,
		"calls refused by the stand-in":   r.hs.Refused(),
		"rows delivered after the outage": len(r.hs.Deliveries()) - atOutage,
	})
}
