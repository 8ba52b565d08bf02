package decide_test

import (
	"slices"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// floorRows counts the floor states written for a room after row id since.
func (f *fixture) floorRows(room string, since int64) int {
	n := 0
	for _, s := range f.outbox(room) {
		if s.ID > since && s.Kind == matrix.KindState && s.Request.EventType == floor.TypeFloor {
			n++
		}
	}
	return n
}

func idleFloor() map[string]any { return map[string]any{"term": 0, "queue": []any{}, "listeners": 0} }

// An admin edits the floor state while Walkie is down. The reload at
// start-up decides it as live: an overwrite, answered by publishing
// Walkie's own floor state again, not a reason to stop managing the room.
func TestReloadAnswersAFloorStateWrittenWhileWalkieWasDown(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice)
	f.deliver(f.ev(room, bot, floor.TypeFloor, sk(""), idleFloor())) // the echo of our first floor state
	edit := f.ev(room, admin, floor.TypeFloor, sk(""), map[string]any{"term": 99, "queue": []any{}, "listeners": 0})
	since := f.lastID(room)

	out := f.reload(room, append(f.roomState(room, alice), edit)...)
	if r := f.room(room); r.Passive || !r.Managed {
		t.Fatalf("after the reload: passive %v, managed %v; log %+v", r.Passive, r.Managed, out.Log)
	}
	if n := f.floorRows(room, since); n != 1 {
		t.Fatalf("%d floor states published over the admin's edit, want 1", n)
	}
}

// A member at the permit level overwrites alice's permit with an empty
// one while she holds the floor. Live, the forgery is ignored; a reload
// reads it from room state and must ignore it just as well.
func TestReloadKeepsARealPermitOverAForgery(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil))
	f.deliver(f.request(room, alice, "A", "request", nil))
	forgery := f.ev(room, bob, floor.TypePermit, sk("_"+alice+"_A"), map[string]any{})
	f.deliver(forgery)
	if h := holderOf(f.room(room)); h != alice+"/A" {
		t.Fatalf("a live forgery moved the floor: holder %q", h)
	}
	since := f.lastID(room)

	f.reload(room, append(f.roomState(room, alice, bob), forgery)...)
	if h := holderOf(f.room(room)); h != alice+"/A" {
		t.Fatalf("after the reload the forgery cost alice the floor: holder %q", h)
	}
	if got := f.responses(room, since); len(got) != 0 {
		t.Fatalf("responses after the reload: %+v", got)
	}
}

// Our own floor state's echo arriving while /state loads does not make
// the snapshot stale: it holds nothing the snapshot would lose.
func TestOwnFloorEchoDoesNotStaleAReload(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice)
	state := f.roomState(room, alice) // /state is read ...
	snap, _ := matrix.Snapshot(room, state)
	snap.AsOf = f.room(room).StateVersion
	f.deliver(f.ev(room, bot, floor.TypeFloor, sk(""), idleFloor())) // ... while our echo arrives
	out, err := f.d.DecideInputs(f.ctx, room, snap)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(out.Log, func(e floor.LogEntry) bool { return e.Action == floor.LogSnapshotStale }) {
		t.Fatal("the snapshot was ignored as stale because of our own floor state's echo")
	}
}
