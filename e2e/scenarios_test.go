package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// Scenario 1: the bot joins on invite, sets up power levels, publishes an
// idle floor.
func TestBotJoinsAndSetsUpRoom(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	room := managedRoom(t, shared, admin)
	levels := admin.waitPermitLevel(room)
	if levels[floor.TypePermit] != 0 || levels[floor.TypeBroadcastInfo] != 0 || levels[floor.TypeFloor] != 100 {
		t.Fatalf("power levels after setup: %+v", levels)
	}
}

// Scenario 2: grant, queue, talk burst, release to the next in queue.
func TestGrantQueueTalkRelease(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice, bob := newUser(t, shared, "alice", "ALICEPHONE"), newUser(t, shared, "bob", "BOBPHONE")
	room := talkRoom(t, admin, alice, bob)

	reqA := alice.request(room, "request", nil)
	if r := alice.waitResponse(room, reqA); r.Status != floor.StatusGranted || r.Term != 1 {
		t.Fatalf("alice's request: %+v", r)
	}
	bob.waitFloor(room, "alice holds, term 1", func(f floor.FloorState) bool { return holderIs(alice)(f) && f.Term == 1 })
	reqB := bob.request(room, "request", nil)
	if r := bob.waitResponse(room, reqB); r.Status != floor.StatusQueued || r.Position != 1 {
		t.Fatalf("bob's request: %+v", r)
	}
	started := alice.broadcast(matrix.TypeBroadcastInfo, room, "started", "", map[string]any{floor.TermKey: 1})
	bob.waitFloor(room, "alice's broadcast", func(f floor.FloorState) bool { return f.BroadcastEventID == started.String() })
	for i := 1; i <= 3; i++ {
		alice.chunk(room, started, i)
	}
	alice.broadcast(matrix.TypeBroadcastInfo, room, "stopped", started, nil)
	f := alice.waitFloor(room, "bob holds after alice stopped", holderIs(bob))
	if f.Term != 2 || len(f.Queue) != 0 {
		t.Fatalf("after release: %+v", f)
	}
	if r := bob.waitResponse(room, reqB); r.Status != floor.StatusGranted && r.Status != floor.StatusQueued {
		t.Fatalf("bob's grant: %+v", r)
	}
}

// Scenario 3 and 7: the implicit fast path, in MSC3888's and Element's dialects.
func TestImplicitFastPathBothDialects(t *testing.T) {
	for _, tc := range []struct {
		name      string
		info      event.Type
		chunkType string
	}{
		{"msc3888", matrix.TypeBroadcastInfo, "m.voice_broadcast_chunk"},
		{"element", matrix.TypeBroadcastInfoElement, "m.room.message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			admin := newUser(t, shared, "admin", "ADM")
			carol, dave := newUser(t, shared, "carol", "CAROL"), newUser(t, shared, "dave", "DAVE")
			room := talkRoom(t, admin, carol, dave)
			started := carol.broadcast(tc.info, room, "started", "", nil)
			dave.waitFloor(room, "carol holds with her broadcast", func(f floor.FloorState) bool {
				return holderIs(carol)(f) && f.BroadcastEventID == started.String()
			})
			content := map[string]any{"m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": started}}
			chunkType := event.Type{Type: tc.chunkType, Class: event.MessageEventType}
			if tc.chunkType == "m.room.message" {
				content["msgtype"], content["body"] = "m.audio", "Voice broadcast chunk"
				content["io.element.voice_broadcast_chunk"] = map[string]any{"sequence": 1}
			}
			// dave's chunk for carol's broadcast: a forgery, redacted; his own
			// started while carol talks: redacted too.
			forged, err := dave.c.SendMessageEvent(context.Background(), room, chunkType, content)
			if err != nil {
				t.Fatal(err)
			}
			if reason := carol.waitRedacted(room, forged.EventID); reason == "" {
				t.Fatal("the redaction of dave's forged chunk carries no reason")
			}
			daveStart := dave.broadcast(tc.info, room, "started", "", nil)
			if reason := dave.waitRedacted(room, daveStart); reason == "" {
				t.Fatal("the redaction of dave's start carries no reason")
			}
			if r := dave.waitResponse(room, daveStart); r.Status != floor.StatusQueued || r.Reason != floor.ReasonFloorTaken {
				t.Fatalf("dave's implicit request: %+v", r)
			}
		})
	}
}

// Scenario 4: denials with the right reason; an unauthorised start is redacted.
func TestDenials(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	nopermit, listener, expired := newUser(t, shared, "nopermit", "N"), newUser(t, shared, "listener", "L"), newUser(t, shared, "expired", "E")
	room := managedRoom(t, shared, admin, nopermit, listener, expired)
	listener.permit(room, false, true, time.Time{})
	expired.permit(room, true, true, time.Now().Add(-time.Hour))
	admin.waitFloor(room, "the listener counted", func(f floor.FloorState) bool { return f.Listeners == 1 })
	for _, tc := range []struct {
		dev    *device
		reason floor.Reason
	}{{nopermit, floor.ReasonNoPermit}, {listener, floor.ReasonListenOnly}, {expired, floor.ReasonPermitExpired}} {
		req := tc.dev.request(room, "request", nil)
		if r := tc.dev.waitResponse(room, req); r.Status != floor.StatusDenied || r.Reason != tc.reason {
			t.Fatalf("%s: got %+v, want denied/%s", tc.dev.user, r, tc.reason)
		}
	}
	started := nopermit.broadcast(matrix.TypeBroadcastInfo, room, "started", "", nil)
	if reason := admin.waitRedacted(room, started); !contains(reason, string(floor.ReasonNoPermit)) {
		t.Fatalf("redaction reason %q does not name no_permit", reason)
	}
}

// Scenario 5: a talker whose client dies loses the floor to inactivity and
// the next in queue gets it.
func TestCrashedTalkerFreesTheFloor(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice, bob := newUser(t, shared, "alice", "A"), newUser(t, shared, "bob", "B")
	room := talkRoom(t, admin, alice, bob)
	started := alice.broadcast(matrix.TypeBroadcastInfo, room, "started", "", nil)
	bob.waitFloor(room, "alice holds", holderIs(alice))
	reqB := bob.request(room, "request", nil)
	bob.waitResponse(room, reqB)
	alice.chunk(room, started, 1) // then her client dies
	bob.waitFloor(room, "bob holds after alice went silent", holderIs(bob))
}

// Scenario 6: a moderator pre-empts, then uses the chair revoke.
func TestPreemptAndChairRevoke(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice := newUser(t, shared, "alice", "A")
	room := talkRoom(t, admin, alice, admin)
	alice.request(room, "request", nil)
	admin.waitFloor(room, "alice holds", holderIs(alice))
	pre := admin.request(room, "request", map[string]any{"preempt": true})
	if r := admin.waitResponse(room, pre); r.Status != floor.StatusGranted {
		t.Fatalf("pre-emption: %+v", r)
	}
	alice.waitFloor(room, "admin holds after pre-empting", holderIs(admin))
	alice.request(room, "request", nil)
	alice.waitFloor(room, "alice queued", func(f floor.FloorState) bool { return len(f.Queue) == 1 })
	admin.request(room, "release", nil)
	admin.waitFloor(room, "alice holds again", holderIs(alice))
	rev := admin.request(room, "revoke", map[string]any{"target": map[string]any{"user_id": alice.user, "device_id": alice.device}})
	if r := admin.waitResponse(room, rev); r.Status != floor.StatusRevoked {
		t.Fatalf("chair revoke: %+v", r)
	}
	alice.waitFloor(room, "idle after the chair revoke", func(f floor.FloorState) bool { return f.Holder == nil })
}

// Scenario 8: Walkie is killed (SIGKILL) mid-talk and restarted: the floor,
// the queue and the timers carry on from the database.
func TestKillMinus9MidTalk(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice, bob := newUser(t, shared, "alice", "A"), newUser(t, shared, "bob", "B")
	room := talkRoom(t, admin, alice, bob)
	started := alice.broadcast(matrix.TypeBroadcastInfo, room, "started", "", nil)
	bob.waitFloor(room, "alice holds", holderIs(alice))
	reqB := bob.request(room, "request", nil)
	if r := bob.waitResponse(room, reqB); r.Status != floor.StatusQueued {
		t.Fatalf("bob: %+v", r)
	}
	alice.chunk(room, started, 1)

	shared.Walkie.Kill()
	if err := shared.Walkie.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// alice said nothing more: the inactivity deadline, stored in the
	// database, fires in the restarted process and bob gets the floor.
	f := bob.waitFloor(room, "bob holds after the restart", holderIs(bob))
	if f.Term != 2 {
		t.Fatalf("term after restart = %d, want 2", f.Term)
	}
	raw, _ := json.Marshal(f)
	t.Logf("floor after restart: %s", raw)
}
