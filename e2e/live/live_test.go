package live

import (
	"context"
	"net/http"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	lk "github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

// threeInACall is a live room of its own, whose talkers alice, bob and
// carol each joined the call (carol, who only listens, first).
func threeInACall(t *testing.T) (room id.RoomID, alice, bob, carol *member) {
	t.Helper()
	admin, alice, bob, carol := newMember(t, "admin"), newMember(t, "alice"), newMember(t, "bob"), newMember(t, "carol")
	room = liveRoom(t, admin, alice, bob, carol)
	for _, m := range []*member{carol, alice, bob} {
		m.joinCall(room)
	}
	return room, alice, bob, carol
}

// Only the floor holder is on the air: a participant without the floor
// that sends all along gets no packet to the listener; the holder does,
// granted through a talk_request, once its microphone is published (the
// webhook makes it the talker); its release silences it, though it keeps
// sending.
func TestOnlyTheHolderIsHeard(t *testing.T) {
	room, alice, bob, carol := threeInACall(t)

	// bob talks without the floor: 150 frames (3 s) go out, none arrives.
	bob.publish()
	bob.waitStats("150 frames sent without the floor", func(s lkpeer.Stats) bool { return s.Bound >= 150 })
	if n := carol.stats().Received[bob.identity]; n != 0 {
		t.Fatalf("the listener received %d packets from a participant without the floor", n)
	}

	alice.ask(room, floor.ActionRequest)
	carol.waitFloor(room, "alice holds", heldBy(alice))
	alice.publish()
	carol.hears(alice, 50)
	carol.waitFor("alice is talking (her track_published webhook was decided)", func(context.Context) bool {
		h := adminRoom(t, room).Holder
		return h != nil && h.UserID == alice.user && h.Phase == string(floor.PhaseTalking)
	})
	if n := carol.stats().Received[bob.identity]; n != 0 {
		t.Fatalf("the listener received %d packets from bob while alice held the floor", n)
	}

	alice.ask(room, floor.ActionRelease)
	carol.waitFloor(room, "the floor is free", func(f floor.FloorState) bool { return f.Holder == nil })
	carol.silenced(alice)
	if n := carol.stats().Received[bob.identity]; n != 0 {
		t.Fatalf("the listener received %d packets from bob, who never held the floor", n)
	}
}

// A holder whose participant dies frees the floor at once: LiveKit's
// participant_left webhook is decided, and the next in the queue gets the
// floor and is heard.
func TestADroppedHolderFreesTheFloor(t *testing.T) {
	room, alice, bob, carol := threeInACall(t)
	alice.publish()
	bob.publish()

	alice.ask(room, floor.ActionRequest)
	carol.waitFloor(room, "alice holds", heldBy(alice))
	carol.hears(alice, 50)
	bob.ask(room, floor.ActionRequest)
	carol.waitFloor(room, "bob waits behind alice", func(f floor.FloorState) bool {
		return heldBy(alice)(f) && len(f.Queue) == 1 && f.Queue[0] == bob.dev()
	})
	if n := carol.stats().Received[bob.identity]; n != 0 {
		t.Fatalf("the listener received %d packets from bob while he waited", n)
	}

	const left = `walkie_sfu_webhooks_total{event="participant_left",result="decided"}`
	before := metric(t, left)
	alice.peer.Kill()
	carol.waitFloor(room, "bob holds after alice dropped off", heldBy(bob))
	if metric(t, left) <= before {
		t.Fatalf("%s did not grow: the floor moved on without LiveKit's webhook", left)
	}
	carol.hears(bob, 50)
}

// Walkie restarted mid-turn sets the SFU right: a permission given behind
// its back while it was down is withdrawn by the reconciler at start-up
// (no webhook tells of it: the participant does not publish), while the
// holder keeps talking throughout. A member who leaves the Matrix room is
// disconnected from the call.
func TestRestartReconcilesTheSFU(t *testing.T) {
	room, alice, bob, carol := threeInACall(t)
	alice.publish()
	alice.ask(room, floor.ActionRequest)
	carol.waitFloor(room, "alice holds", heldBy(alice))
	carol.hears(alice, 50)

	rooms := lk.NewRooms(sfu.APIURL(), sfu.APIKey(), sfu.APISecret())
	name := lk.RoomName(room.String())
	ctx := t.Context()
	denied := metric(t, `walkie_sfu_reconciled_total{fix="deny"}`)
	shared.Walkie.Stop()
	if err := rooms.SetPublish(ctx, name, bob.identity, true); err != nil {
		t.Fatal(err)
	}
	bob.waitStats("the server tells bob he may publish", func(s lkpeer.Stats) bool { return s.CanPublish })
	if err := shared.Walkie.Start(ctx); err != nil {
		t.Fatal(err)
	}
	bob.waitStats("bob's permission withdrawn again", func(s lkpeer.Stats) bool { return !s.CanPublish })
	if got := metric(t, `walkie_sfu_reconciled_total{fix="deny"}`); got <= denied {
		t.Fatalf("walkie_sfu_reconciled_total{fix=\"deny\"} is %v, was %v: the reconciler did not withdraw it", got, denied)
	}
	participants, err := rooms.Participants(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range participants {
		if p.CanPublish != (p.Identity == alice.identity) {
			t.Fatalf("after the restart %s may publish: %v; only alice should", p.Identity, p.CanPublish)
		}
	}
	carol.hears(alice, 50)
	if h := adminRoom(t, room).Holder; h == nil || h.UserID != alice.user {
		t.Fatalf("after the restart the holder is %+v, want alice", h)
	}

	// carol leaves the Matrix room: the reconciler disconnects her.
	if _, err := carol.c.LeaveRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	carol.waitFor("carol is removed from the call", func(ctx context.Context) bool {
		ps, err := rooms.Participants(ctx, name)
		if err != nil {
			return false
		}
		for _, p := range ps {
			if p.Identity == carol.identity {
				return false
			}
		}
		return true
	})
}

// The token service on the walkie binary's listener refuses a token
// request whose OpenID token proves nothing, or whose user may not listen.
func TestTokenRequestsAreChecked(t *testing.T) {
	admin, alice, stranger := newMember(t, "admin"), newMember(t, "alice"), newMember(t, "stranger")
	room := liveRoom(t, admin, alice)

	madeUp := alice.openID()
	madeUp.AccessToken = "made-up"
	foreign := alice.openID()
	foreign.MatrixServerName = "elsewhere.example.org"
	for _, c := range []struct {
		name    string
		status  int
		errcode string
		req     func() (int, map[string]any)
	}{
		{"a made-up OpenID token", http.StatusUnauthorized, "M_UNAUTHORIZED",
			func() (int, map[string]any) { return tokenRequest(t, room, madeUp, alice.device) }},
		{"a token naming a server Walkie does not serve", http.StatusForbidden, "M_FORBIDDEN",
			func() (int, map[string]any) { return tokenRequest(t, room, foreign, alice.device) }},
		{"a user not in the room", http.StatusForbidden, "M_FORBIDDEN",
			func() (int, map[string]any) { return tokenRequest(t, room, stranger.openID(), stranger.device) }},
	} {
		if status, out := c.req(); status != c.status || out["errcode"] != c.errcode || out["jwt"] != nil {
			t.Errorf("%s: %d %v, want %d %s and no token", c.name, status, out, c.status, c.errcode)
		}
	}
	if status, out := tokenRequest(t, room, alice.openID(), alice.device); status != http.StatusOK || out["jwt"] == nil {
		t.Fatalf("a member's request: %d %v, want a token", status, out)
	}
}
