package store_test

import (
	"encoding/json"
	"testing"

	"github.com/walkie-ptt/walkie/internal/store"
)

// Two replicas may both find a room's poisoned event. The second must not
// set aside the innocent event after it: SetAside names the event that
// failed, and does nothing once another replica has handled it.
func TestSetAsideTouchesOnlyTheEventThatFailed(t *testing.T) {
	f := newFixture(t)
	const room = "!poison:test"
	bad := f.ev(room, alice, "m.room.message", map[string]any{"body": "bad"})
	good := f.ev(room, alice, "m.room.message", map[string]any{"body": "good"})
	events := []store.InboxEvent{{EventID: eventID(bad), RoomID: room, Raw: json.RawMessage(bad)}, {EventID: eventID(good), RoomID: room, Raw: json.RawMessage(good)}}
	if _, _, err := f.st.SaveTransaction(f.ctx, "t", events); err != nil {
		t.Fatal(err)
	}
	seq, ok, err := f.st.OldestPending(f.ctx, room)
	if err != nil || !ok {
		t.Fatalf("oldest pending: %v %v", ok, err)
	}
	if id, err := f.st.SetAside(f.ctx, room, seq, "poisoned"); err != nil || id != eventID(bad) {
		t.Fatalf("first replica set aside %q (%v), want %s", id, err, eventID(bad))
	}
	// The second replica read the same seq before the first set it aside.
	if id, err := f.st.SetAside(f.ctx, room, seq, "poisoned"); err != nil || id != "" {
		t.Fatalf("second replica set aside %q (%v), want nothing", id, err)
	}
	if next, ok, _ := f.st.OldestPending(f.ctx, room); !ok || next == seq {
		t.Fatal("the innocent event after the poisoned one is no longer pending")
	}
}
