package decide_test

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

func expectResponse(t *testing.T, got []matrix.ResponseContent, i int, status floor.Status, reason floor.Reason) {
	t.Helper()
	if len(got) <= i {
		t.Fatalf("want response #%d %s/%s, got %d responses: %+v", i, status, reason, len(got), got)
	}
	if got[i].Status != status || got[i].Reason != reason {
		t.Fatalf("response #%d = %s/%s, want %s/%s", i, got[i].Status, got[i].Reason, status, reason)
	}
}

func TestRoomSetupPublishesIdleFloor(t *testing.T) {
	f := newFixture(t)
	f.setupRoom("!r:test", alice)
	var floorRows int
	for _, s := range f.outbox("!r:test") {
		if s.Kind == matrix.KindState && s.Request.EventType == floor.TypeFloor {
			floorRows++
		}
		if s.Kind == matrix.KindLoadState {
			floorRows += 0
		}
	}
	if floorRows != 1 {
		t.Fatalf("want exactly one floor state after setup, got %d", floorRows)
	}
	kinds := map[string]bool{}
	for _, s := range f.outbox("!r:test") {
		kinds[s.Kind] = true
	}
	if !kinds[matrix.KindLoadState] {
		t.Fatal("joining must schedule a state load")
	}
}

func TestGrantQueueReleaseNext(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	since := f.lastID(room)

	reqA := f.request(room, alice, "A", "request", nil)
	reqB := f.request(room, bob, "B", "request", nil)
	f.deliver(reqA, reqB)
	r := f.room(room)
	if holderOf(r) != alice+"/A" || r.Term != 1 || len(r.Queue) != 1 || r.Queue[0].UserID != bob {
		t.Fatalf("holder %s term %d queue %+v", holderOf(r), r.Term, r.Queue)
	}
	resps := f.responses(room, since)
	expectResponse(t, resps, 0, floor.StatusGranted, "")
	expectResponse(t, resps, 1, floor.StatusQueued, floor.ReasonFloorTaken)
	if resps[0].RelatesTo == nil || resps[0].RelatesTo.EventID.String() != eventID(reqA) || resps[0].Term != 1 {
		t.Fatalf("grant must reference the request and carry term 1: %+v", resps[0])
	}
	if resps[1].Position != 1 {
		t.Fatalf("bob queued at position %d, want 1", resps[1].Position)
	}

	since = f.lastID(room)
	f.deliver(f.request(room, alice, "A", "release", nil))
	r = f.room(room)
	if holderOf(r) != bob+"/B" || r.Term != 2 || len(r.Queue) != 0 {
		t.Fatalf("after release: holder %s term %d queue %d", holderOf(r), r.Term, len(r.Queue))
	}
	resps = f.responses(room, since)
	expectResponse(t, resps, 0, floor.StatusReleased, "")
	expectResponse(t, resps, 1, floor.StatusGranted, "")
	if resps[1].RelatesTo.EventID.String() != eventID(reqB) {
		t.Fatal("the queued device's grant must reference its original request")
	}
}

func TestImplicitFastPathAndUnauthorisedStart(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob, carol)
	f.deliver(f.permit(room, carol, "C", nil), f.permit(room, alice, "A", nil))
	since := f.lastID(room)

	started := f.broadcast(room, carol, "C", "started", "", nil)
	f.deliver(started)
	r := f.room(room)
	if holderOf(r) != carol+"/C" || r.Holder.BroadcastEventID != eventID(started) || r.Holder.Phase != floor.PhaseTalking {
		t.Fatalf("fast path: holder %s broadcast %q phase %s", holderOf(r), r.Holder.BroadcastEventID, r.Holder.Phase)
	}
	if got := f.responses(room, since); len(got) != 0 {
		t.Fatalf("a granted implicit request gets no response, got %+v", got)
	}

	since = f.lastID(room)
	bobStart := f.broadcast(room, bob, "B", "started", "", nil) // bob has no permit
	aliceStart := f.broadcast(room, alice, "A", "started", "", nil)
	f.deliver(bobStart, aliceStart)
	red := f.redactions(room, since)
	if red[eventID(bobStart)] == "" || red[eventID(aliceStart)] == "" {
		t.Fatalf("both unauthorised starts must be redacted with a reason: %v", red)
	}
	resps := f.responses(room, since)
	expectResponse(t, resps, 0, floor.StatusDenied, floor.ReasonNoPermit)
	expectResponse(t, resps, 1, floor.StatusQueued, floor.ReasonFloorTaken)

	// bob's client sends encrypted chunks of his refused broadcast anyway.
	encrypted := f.chunk(room, bob, "m.room.encrypted", eventID(bobStart))
	f.deliver(encrypted)
	if f.redactions(room, since)[eventID(encrypted)] == "" {
		t.Fatal("an encrypted chunk of a refused broadcast must be redacted")
	}
}

func TestChunkEnforcementAllDialectsAndRevokeGrace(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	started := f.broadcast(room, alice, "A", "started", "", nil)
	f.deliver(started)
	since := f.lastID(room)

	good := []string{"m.voice_broadcast_chunk", "org.matrix.msc3888.voice_broadcast_chunk", "m.room.message", "m.room.encrypted"}
	for _, typ := range good {
		f.deliver(f.chunk(room, alice, typ, eventID(started)))
	}
	if red := f.redactions(room, since); len(red) != 0 {
		t.Fatalf("the holder's chunks must not be redacted: %v", red)
	}
	rogue := f.chunk(room, bob, "m.voice_broadcast_chunk", "$not-a-broadcast")
	f.deliver(rogue)
	if f.redactions(room, since)[eventID(rogue)] == "" {
		t.Fatal("a chunk of a broadcast without the floor must be redacted")
	}
	poll := f.chunk(room, bob, "m.room.encrypted", "$some-poll")
	f.deliver(poll)
	if _, ok := f.redactions(room, since)[eventID(poll)]; ok {
		t.Fatal("an encrypted reference to something that is not a broadcast is not a chunk")
	}

	// Pre-empting alice revokes her broadcast: late chunks are tolerated
	// for revoke_grace, then redacted.
	f.deliver(f.ev(room, admin, "m.room.power_levels", sk(""), map[string]any{
		"users": map[string]int{bot: 100, admin: 100, bob: 60}, "state_default": 50, "redact": 50,
		"events": map[string]int{floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeFloor: 100}}))
	f.deliver(f.request(room, bob, "B", "request", map[string]any{"preempt": true}))
	if r := f.room(room); holderOf(r) != bob+"/B" {
		t.Fatalf("preemption: holder %s", holderOf(r))
	}
	since = f.lastID(room)
	late := f.chunk(room, alice, "m.voice_broadcast_chunk", eventID(started))
	f.deliver(late)
	if _, ok := f.redactions(room, since)[eventID(late)]; ok {
		t.Fatal("a chunk inside revoke_grace must be tolerated")
	}
	f.st.AdvanceClock(testDefaults.RevokeGrace + time.Second)
	tooLate := f.chunk(room, alice, "m.room.encrypted", eventID(started))
	f.deliver(tooLate)
	if f.redactions(room, since)[eventID(tooLate)] == "" {
		t.Fatal("a chunk after revoke_grace must be redacted")
	}
}

func TestTimers(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(f *fixture, room string)
		advance time.Duration
		reason  floor.Reason
	}{
		{"start_timeout", func(f *fixture, room string) {
			f.deliver(f.request(room, alice, "A", "request", nil))
		}, testDefaults.StartTimeout + time.Second, floor.ReasonNoMedia},
		{"inactivity_timeout", func(f *fixture, room string) {
			f.deliver(f.broadcast(room, alice, "A", "started", "", nil))
		}, testDefaults.InactivityTimeout + time.Second, floor.ReasonInactive},
		{"max_talk", func(f *fixture, room string) {
			started := f.broadcast(room, alice, "A", "started", "", nil)
			f.deliver(started)
			for i := 0; i < 4; i++ { // keep talking past max_talk
				f.st.AdvanceClock(8 * time.Second)
				f.deliver(f.chunk(room, alice, "m.voice_broadcast_chunk", eventID(started)))
			}
		}, 0, floor.ReasonMaxTalkTime},
		{"pause_grace", func(f *fixture, room string) {
			started := f.broadcast(room, alice, "A", "started", "", nil)
			f.deliver(started)
			f.deliver(f.broadcast(room, alice, "A", "paused", eventID(started), nil))
		}, testDefaults.PauseGrace + time.Second, floor.ReasonPaused},
		{"permit expiry mid-talk", func(f *fixture, room string) {
			expires := time.Now().Add(2 * time.Second).UnixMilli()
			f.deliver(f.permit(room, alice, "A", map[string]any{"device_id": "A", "send": true, "receive": true, "expires_ts": expires}))
			f.deliver(f.broadcast(room, alice, "A", "started", "", nil))
		}, 3 * time.Second, floor.ReasonPermitExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			const room = "!r:test"
			f.setupRoom(room, alice, bob)
			f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
			tc.prepare(f, room)
			f.deliver(f.request(room, bob, "B", "request", nil))
			since := f.lastID(room)
			f.tick(room, tc.advance)
			r := f.room(room)
			if holderOf(r) != bob+"/B" {
				t.Fatalf("after %s the queued device must hold the floor, holder %q", tc.name, holderOf(r))
			}
			var revoked bool
			for _, resp := range f.responses(room, 0) {
				if resp.Status == floor.StatusRevoked && resp.Reason == tc.reason {
					revoked = true
				}
			}
			if !revoked && tc.name != "pause_grace" {
				t.Fatalf("no revoked/%s response; responses since: %+v", tc.reason, f.responses(room, since))
			}
		})
	}
}

func TestQueueTimeout(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	// A room override lets alice talk past queue_timeout, so bob's wait ends first.
	f.deliver(f.ev(room, admin, floor.TypeFloorConfig, sk(""), map[string]any{"max_talk_ms": 600000}))
	f.deliver(f.broadcast(room, alice, "A", "started", "", nil))
	f.deliver(f.request(room, bob, "B", "request", nil))
	// alice keeps her broadcast alive with chunks while the clock runs.
	started := f.room(room).Holder.BroadcastEventID
	since := f.lastID(room)
	for elapsed := time.Duration(0); elapsed <= testDefaults.QueueTimeout; elapsed += 5 * time.Second {
		f.st.AdvanceClock(5 * time.Second)
		f.deliver(f.chunk(room, alice, "m.voice_broadcast_chunk", started))
		if len(f.room(room).Queue) == 0 {
			break
		}
	}
	var cancelled bool
	for _, resp := range f.responses(room, since) {
		if resp.Status == floor.StatusCancelled && resp.Reason == floor.ReasonQueueTimeout {
			cancelled = true
		}
	}
	if !cancelled {
		t.Fatalf("bob must be dropped from the queue with cancelled/queue_timeout: %+v", f.responses(room, since))
	}
}

func TestLeaveDropsEverything(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	f.deliver(f.request(room, alice, "A", "request", nil), f.request(room, bob, "B", "request", nil))
	f.deliver(f.ev(room, admin, "m.room.member", sk(alice), map[string]any{"membership": "ban"}))
	r := f.room(room)
	if holderOf(r) != bob+"/B" {
		t.Fatalf("ban must free the floor for the next in queue, holder %q", holderOf(r))
	}
	if _, ok := r.Permits["_"+alice+"_A"]; ok {
		t.Fatal("a banned user's permits must be dropped")
	}
	f.deliver(f.ev(room, bob, "m.room.member", sk(bob), map[string]any{"membership": "leave"}))
	if r := f.room(room); r.Holder != nil {
		t.Fatalf("leave must free the floor, holder %q", holderOf(r))
	}
}

func TestChairRevokeAndStaleTerm(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	f.deliver(f.request(room, alice, "A", "request", nil))
	since := f.lastID(room)
	f.deliver(f.request(room, bob, "B", "revoke", nil))
	expectResponse(t, f.responses(room, since), 0, floor.StatusDenied, floor.ReasonInsufficientPower)
	f.deliver(f.request(room, admin, "ADM", "revoke", nil))
	if r := f.room(room); r.Holder != nil {
		t.Fatalf("a moderator's revoke must free the floor, holder %q", holderOf(r))
	}
	// alice asks again (term 2) but starts with the fencing token of term 1.
	f.deliver(f.request(room, alice, "A", "request", nil))
	since = f.lastID(room)
	stale := f.broadcast(room, alice, "A", "started", "", map[string]any{floor.TermKey: 1})
	f.deliver(stale)
	if f.redactions(room, since)[eventID(stale)] == "" {
		t.Fatal("a started with a stale term must be redacted")
	}
	expectResponse(t, f.responses(room, since), 0, floor.StatusDenied, floor.ReasonStaleTerm)
}

func TestBusyElsewhere(t *testing.T) {
	f := newFixture(t)
	f.setupRoom("!one:test", alice)
	f.setupRoom("!two:test", alice)
	f.deliver(f.permit("!one:test", alice, "A", nil))
	f.deliver(f.permit("!two:test", alice, "A", nil))
	f.deliver(f.request("!one:test", alice, "A", "request", nil))
	since := f.lastID("!two:test")
	f.deliver(f.request("!two:test", alice, "A", "request", nil))
	expectResponse(t, f.responses("!two:test", since), 0, floor.StatusDenied, floor.ReasonBusyElsewhere)
}

// botKickedWhileAliceHolds: alice, with permits in rooms one and two,
// holds the floor in room one; then the bot is kicked from it. It returns
// room one's last outbox row before the kick.
func botKickedWhileAliceHolds(f *fixture) int64 {
	f.setupRoom("!one:test", alice)
	f.setupRoom("!two:test", alice)
	f.deliver(f.permit("!one:test", alice, "A", nil), f.permit("!two:test", alice, "A", nil))
	f.deliver(f.request("!one:test", alice, "A", "request", nil))
	before := f.lastID("!one:test")
	f.deliver(f.ev("!one:test", admin, "m.room.member", sk(bot), map[string]any{"membership": "leave"}))
	return before
}

func TestFloorInARoomTheBotLeftHoldsNobody(t *testing.T) {
	f := newFixture(t)
	botKickedWhileAliceHolds(f)
	f.st.AdvanceClock(time.Hour) // alice's start_timeout is long due
	if due, _ := f.st.DueRooms(f.ctx, 10); len(due) != 0 {
		t.Fatalf("a room the bot left must fire no timers: %v", due)
	}
	since := f.lastID("!two:test")
	f.deliver(f.request("!two:test", alice, "A", "request", nil))
	expectResponse(t, f.responses("!two:test", since), 0, floor.StatusGranted, "")
}

// The bot is kicked from a room where alice holds the floor; meanwhile she
// takes the floor in another room (busy_elsewhere counts only joined
// rooms). When the bot is back, the room it left must not still name her
// holder: a device never holds the floor in two joined rooms.
func TestRejoinedRoomGivesNoDeviceASecondFloor(t *testing.T) {
	f := newFixture(t)
	kicked := botKickedWhileAliceHolds(f)
	if rows := f.outbox("!one:test"); rows[len(rows)-1].ID != kicked {
		t.Fatalf("a room the bot was kicked from got outbox rows: %+v", rows[len(rows)-1])
	}
	f.deliver(f.request("!two:test", alice, "A", "request", nil))
	if h := holderOf(f.room("!two:test")); h != alice+"/A" {
		t.Fatalf("room two holder %q", h)
	}

	f.deliver(f.ev("!one:test", bot, "m.room.member", sk(bot), map[string]any{"membership": "join"}))
	if h := holderOf(f.room("!one:test")); h != "" {
		t.Fatalf("%s holds the floor in both joined rooms", h)
	}
	// The join's state load finds the floor state from before the kick,
	// which still names alice, and replaces it.
	since := f.lastID("!one:test")
	stale := f.ev("!one:test", bot, floor.TypeFloor, sk(""), map[string]any{"holder": map[string]any{"user_id": alice, "device_id": "A"},
		"term": 1, "queue": []any{}, "listeners": 1})
	f.reload("!one:test", append(f.roomState("!one:test", alice), f.permit("!one:test", alice, "A", nil), stale)...)
	if f.floorRows("!one:test", since) != 1 {
		t.Fatal("the stale floor state must be replaced after the re-join")
	}
	since = f.lastID("!one:test")
	f.deliver(f.request("!one:test", alice, "A", "request", nil))
	expectResponse(t, f.responses("!one:test", since), 0, floor.StatusDenied, floor.ReasonBusyElsewhere)
}

// One appservice transaction asks for the floor in two rooms for the same
// device: decide.Transaction decides both rooms in one database transaction,
// and the second room must see the first room's grant.
func TestBusyElsewhereWithinOneTransaction(t *testing.T) {
	f := newFixture(t)
	f.setupRoom("!one:test", alice)
	f.setupRoom("!two:test", alice)
	f.deliver(f.permit("!one:test", alice, "A", nil), f.permit("!two:test", alice, "A", nil))
	since := f.lastID("!two:test")
	f.deliverAndDecide(f.request("!one:test", alice, "A", "request", nil), f.request("!two:test", alice, "A", "request", nil))
	if h := holderOf(f.room("!one:test")); h != alice+"/A" {
		t.Fatalf("room one holder %q", h)
	}
	if h := holderOf(f.room("!two:test")); h != "" {
		t.Fatalf("the same device also holds room two: %q", h)
	}
	expectResponse(t, f.responses("!two:test", since), 0, floor.StatusDenied, floor.ReasonBusyElsewhere)

	// And a release in one room frees the device for the other in the
	// same transaction.
	since = f.lastID("!two:test")
	f.deliverAndDecide(f.request("!one:test", alice, "A", "release", nil), f.request("!two:test", alice, "A", "request", nil))
	if h := holderOf(f.room("!two:test")); h != alice+"/A" {
		t.Fatalf("after the release in room one, room two holder %q", h)
	}
	expectResponse(t, f.responses("!two:test", since), 0, floor.StatusGranted, "")
}

// An invite from a user the config does not permit is declined with a
// reason naming the inviter (docs/admin.md quotes it).
func TestAnInviteFromABlockedUserIsDeclinedWithAReason(t *testing.T) {
	f := newFixture(t)
	const room = "!invited:test"
	f.deliver(f.ev(room, carol, "m.room.member", sk(bot), map[string]any{"membership": "invite"}))
	rows := f.outbox(room)
	if len(rows) != 1 || rows[0].Kind != matrix.KindLeave ||
		rows[0].Request.Reason != carol+" may not invite Walkie (see permissions in its config)" {
		t.Fatalf("outbox after a blocked invite: %+v", rows)
	}
	f.deliver(f.ev("!welcome:test", admin, "m.room.member", sk(bot), map[string]any{"membership": "invite"}))
	if rows := f.outbox("!welcome:test"); len(rows) != 1 || rows[0].Kind != matrix.KindJoin {
		t.Fatalf("outbox after a permitted invite: %+v", rows)
	}
}
