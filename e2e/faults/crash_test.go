package faults

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// crashPlan sizes a crash run.
type crashPlan struct {
	busy  time.Duration // how long conversations run while Walkie is killed
	rooms int
	// expireLeases ends the outbox leases of the killed process before
	// each restart, as the 30 s lease would by itself; without it, a room
	// whose sending a kill cut off waits until the lease runs out.
	expireLeases bool
}

// The real walkie binary is SIGKILLed at random moments while four rooms
// hold busy conversations, and started again each time. The homeserver
// keeps retrying each transaction until Walkie acknowledges it. Afterwards
// every acknowledged event must have been decided exactly once, every
// outbox row delivered exactly once (after deduplication by txn ID, as a
// homeserver does) and in its room's order, and a timer that fell due while
// no Walkie ran must fire after the restart.
func TestCrashAtRandomPoints(t *testing.T) {
	runCrash(t, crashPlan{busy: 12 * time.Second, rooms: 4, expireLeases: true})
}

func runCrash(t *testing.T, plan crashPlan) {
	r := newRig(t, pgtest.NewDatabase(t))
	r.expireLeasesOnKill = plan.expireLeases
	r.start()
	rooms := NewRooms("busy", plan.rooms, 4)
	timerRoom := NewRooms("timer", 1, 2)[0]
	r.setUp(append(rooms, timerRoom)...)

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	stop := make(chan struct{})
	done := r.busyPusher(rooms, stop)
	var kills, killsWithWorkLeft int
	var cutSends int64
	for end := time.Now().Add(plan.busy); time.Now().Before(end); {
		time.Sleep(between(rng, 500*time.Millisecond, 2*time.Second))
		r.awaitWork(time.Second)
		cutSends += r.kill()
		kills++
		if b, err := ReadBacklog(r.ctx, r.db); err == nil && (b.Inbox > 0 || b.Outbox > 0) {
			killsWithWorkLeft++
		}
		time.Sleep(between(rng, 0, 300*time.Millisecond))
		MustStart(t, r.ctx, r.walkie)
	}
	if err := stopAndWait(stop, done); err != nil {
		t.Fatalf("pusher: %v\n%s", err, r.walkie.OutputTail())
	}

	timerFiredAfterRestart(t, r, timerRoom)
	r.waitIdle()
	r.walkie.Stop()

	stats := r.push.Stats()
	fig := figures{
		"SIGKILLs":                           kills,
		"kills that left work undone":        killsWithWorkLeft,
		"rooms whose sending a kill cut off": cutSends,
		"transactions acknowledged":          stats.Transactions,
		"transaction attempts (w/ retries)":  stats.Attempts,
		"attempts refused (Walkie down)":     stats.NetworkErrors,
		"walkie processes started":           r.walkie.Starts(),
	}
	r.auditAll(fig)
	if kills < 3 || killsWithWorkLeft == 0 {
		t.Errorf("%d kills, %d of them with work left: the run did not crash Walkie mid-work", kills, killsWithWorkLeft)
	}
}

// awaitWork waits, at most limit, for a moment when Walkie has work in
// flight (events not yet decided, rows not yet sent), so the kill that
// follows is likely to interrupt it. Walkie decides on receipt and sends at
// once, so a kill at a purely random moment often finds nothing to break:
// a run of 8 such kills once found none, which the test rightly refuses.
func (r *rig) awaitWork(limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if b, err := ReadBacklog(r.ctx, r.db); err == nil && (b.Inbox > 0 || b.Outbox > 0) {
			return
		}
	}
}

// timerFiredAfterRestart holds a floor with a started broadcast and no
// chunks, kills Walkie, lets the inactivity deadline pass while no Walkie
// runs, and expects the restarted process to revoke the floor: the timer
// lives in the database, not in the process that set it.
func timerFiredAfterRestart(t *testing.T, r *rig, room Room) {
	t.Helper()
	d := room.Devices[0]
	req, reqID := r.ev.Request(room.ID, d, floor.ActionRequest)
	started, startedID := r.ev.Started(room.ID, d)
	if err := r.push.Push(r.ctx, req, started); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the grant and the start of the broadcast", func() bool {
		return r.logHas(room.ID, "started", startedID)
	})
	r.kill()
	eventually(t, time.Minute, "the inactivity deadline to pass", func() bool {
		var due bool
		err := r.db.QueryRow(r.ctx, `SELECT next_deadline <= clock_timestamp() FROM room WHERE room_id = $1`, room.ID).Scan(&due)
		return err == nil && due
	})
	restartedAt := r.dbNow()
	MustStart(t, r.ctx, r.walkie)
	eventually(t, time.Minute, "the revocation of the silent floor", func() bool {
		return r.logHas(room.ID, "revoke", reqID)
	})
	var at time.Time
	var reason floor.Reason
	if err := r.db.QueryRow(r.ctx, `SELECT at, reason FROM floor_log WHERE room_id = $1 AND action = 'revoke' AND event_id = $2`,
		room.ID, reqID).Scan(&at, &reason); err != nil {
		t.Fatal(err)
	}
	if reason != floor.ReasonInactive || at.Before(restartedAt) {
		t.Errorf("floor revoked for %q at %v; want %q after the restart at %v", reason, at, floor.ReasonInactive, restartedAt)
	}
}

// kill SIGKILLs Walkie and returns how many rooms' sending it cut off
// (their outbox leases are still live); with expireLeasesOnKill it ends
// those leases, as their running out would.
func (r *rig) kill() int64 {
	r.t.Helper()
	r.walkie.Kill()
	n, err := LeasedRooms(r.ctx, r.db)
	if err != nil {
		r.t.Fatal(err)
	}
	if r.expireLeasesOnKill {
		if _, err := ExpireLeases(r.ctx, r.db); err != nil {
			r.t.Fatal(err)
		}
	}
	return n
}

// logHas reports whether the room's floor log has action for eventID.
func (r *rig) logHas(roomID, action, eventID string) bool {
	var n int
	err := r.db.QueryRow(r.ctx, `SELECT count(*) FROM floor_log WHERE room_id = $1 AND action = $2 AND event_id = $3`,
		roomID, action, eventID).Scan(&n)
	return err == nil && n > 0
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
}
