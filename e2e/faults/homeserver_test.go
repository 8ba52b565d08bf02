package faults

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// The homeserver becomes unreachable (every connection dropped) while
// conversations go on, and one room answers every send with 403 until the
// homeserver is back (as a homeserver that restarts, or reloads its
// registrations, may). Decisions must go on and their events wait in the
// outbox; once the homeserver is back, every room's events must arrive, in
// the room's order, each once: the 403s are retried, not dropped, and they
// hold up no other room.
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
	if got := len(r.hs.Deliveries()) - deliveredBefore; got == 0 {
		t.Error("nothing was delivered before the outage: the test proves nothing")
	}
	r.hs.Down(false)
	// The 403 room's rows are refused again after the outage, and wait.
	var refusedRows int
	eventually(t, time.Minute, "a row of the 403 room to be refused with 403 and kept", func() bool {
		refusedRows = countRefused(t, r, forbidden.ID)
		return refusedRows > 0
	})
	r.hs.Allow(forbidden.ID)
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
	var failed int
	for _, row := range rows {
		if row.Failed {
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d rows failed: a 403 or an outage must be retried, not dropped", failed)
	}
	if refusedRows == 0 {
		t.Error("no row of the 403 room was retried: the test proves nothing")
	}
	delivered := 0
	for _, d := range r.hs.Deliveries()[deliveredBefore:] {
		if d.RoomID == forbidden.ID {
			delivered++
		}
	}
	if delivered == 0 {
		t.Error("the 403 room got nothing delivered once the homeserver accepted it again")
	}
	r.auditAll(figures{
		"outage":                          outage,
		"most rows waiting in the outbox": maxQueued,
		"rows retried in the 403 room":    refusedRows,
		"calls refused by the stand-in":   r.hs.Refused(),
		"rows delivered after the outage": len(r.hs.Deliveries()) - atOutage,
	})
}

// countRefused counts the unsent, not failed rows of a room whose last
// attempt the homeserver answered with 403.
func countRefused(t *testing.T, r *rig, roomID string) int {
	t.Helper()
	var n int
	if err := r.db.QueryRow(r.ctx, `SELECT count(*) FROM outbox WHERE room_id = $1 AND sent_at IS NULL AND NOT failed
		AND last_error LIKE '%M_FORBIDDEN%'`, roomID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
