package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// quietWindow is how long a settled room is watched for floor states that
// nothing asked for: a republishing exchange between two controllers
// would show there. It bounds a count, not a speed.
const quietWindow = 5 * time.Second

// Issue 11, item 1: two Walkies (each its own process, registration, bot
// and database) invited into one room by the same createRoom, both at
// power 100. Exactly one stays active: it alone answers a request, redacts
// an unauthorised start and publishes floor state; the other sends
// nothing, and the floor states stop.
func TestTwoControllersInvitedAtOnce(t *testing.T) {
	s := rivalStack(t, "walkie-b")
	a, b := s.Walkie.BotUserID(), s.Rivals[0].BotUserID()
	admin := newUser(t, s, "admin", "ADM")
	alice, bob := newUser(t, s, "alice", "ALICE"), newUser(t, s, "bob", "BOB")
	ctx := context.Background()
	resp, err := admin.c.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{
			id.UserID(admin.user): 100, id.UserID(a): 100, id.UserID(b): 100}},
		Invite: []id.UserID{id.UserID(a), id.UserID(b), id.UserID(alice.user), id.UserID(bob.user)},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	for _, m := range []*device{alice, bob} {
		if _, err := m.c.JoinRoomByID(ctx, room); err != nil {
			t.Fatal(err)
		}
	}
	admin.waitPermitLevel(room)
	alice.permit(room, true, true, time.Time{})
	bob.permit(room, true, true, time.Time{})
	admin.waitFloor(room, "2 listeners", func(f floor.FloorState) bool { return f.Listeners == 2 })

	// The owner is the controller whose first floor state came first, as
	// every member sees it.
	owner, other := a, b
	if first := firstFloorState(admin, room, a, b); first.Sender.String() == b {
		owner, other = b, a
	}
	t.Logf("owner %s, passive %s", owner, other)
	// Until the other has seen the owner's earlier floor state and its own
	// echo it acts as the owner and may publish again (a permit changed
	// the listener count): that race is inherent. Once it knows, it must
	// publish nothing more.
	loser := s.Walkie
	if s.Rivals[0].BotUserID() == other {
		loser = s.Rivals[0]
	}
	for deadline := time.Now().Add(waitLimit); !adminStatus(t, loser, room).Passive; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never went passive", other)
		}
	}
	loserFloors := 0
	for _, ev := range eventsOf(admin, room, floor.TypeFloor) {
		if ev.Sender.String() == other {
			loserFloors++
		}
	}

	req := alice.request(room, "request", nil)
	if r := alice.waitResponse(room, req); r.Status != floor.StatusGranted || r.Term != 1 {
		t.Fatalf("alice's request: %+v", r)
	}
	bob.waitFloor(room, "alice holds, term 1", func(f floor.FloorState) bool { return holderIs(alice)(f) && f.Term == 1 })
	// bob's start while alice holds: redacted, and answered as a request.
	started := bob.broadcast(matrix.TypeBroadcastInfo, room, "started", "", nil)
	bob.waitRedacted(room, started)
	bob.waitResponse(room, started)
	cancel := bob.request(room, "cancel", nil)
	release := alice.request(room, "release", nil)
	admin.waitFloor(room, "idle after the turns", func(f floor.FloorState) bool {
		return f.Holder == nil && len(f.Queue) == 0 && f.Term >= 1
	})

	// Settled: nothing asks for a change now, so no floor state may come.
	before := len(eventsOf(admin, room, floor.TypeFloor))
	time.Sleep(quietWindow)
	evs := roomEvents(admin, room)
	floors := eventsOfType(evs, floor.TypeFloor)
	if len(floors) != before {
		t.Errorf("%d floor states in a quiet room after %d", len(floors)-before, before)
	}
	for w, passive := range map[*walkieproc.Process]bool{s.Walkie: s.Walkie.BotUserID() == other, s.Rivals[0]: s.Rivals[0].BotUserID() == other} {
		if st := adminStatus(t, w, room); st.Passive != passive {
			t.Errorf("%s says passive %v", w.BotUserID(), st.Passive)
		}
	}
	bySender := map[string]int{}
	for _, ev := range floors {
		bySender[ev.Sender.String()]++
	}
	t.Logf("floor states: %v", bySender)
	if n := bySender[other]; n != loserFloors {
		t.Errorf("the passive controller published %d floor states after it went passive", n-loserFloors)
	}
	if last := floors[len(floors)-1]; last.Sender.String() != owner {
		t.Errorf("the room's floor state is %s's", last.Sender)
	}
	for _, ev := range evs {
		if ev.Sender.String() == other && ev.StateKey == nil {
			t.Errorf("the passive controller sent a %s", ev.Type.Type)
		}
	}
	// A request is answered again when its turn ends (the start timeout
	// may end alice's before her release): every answer is the owner's.
	for what, to := range map[string]id.EventID{"alice's request": req, "bob's start": started, "bob's cancel": cancel, "alice's release": release} {
		got := answersTo(evs, floor.TypeResponse, to)
		for _, sender := range got {
			if sender != owner {
				t.Errorf("%s was answered by %s", what, sender)
			}
		}
		if len(got) == 0 && (to == req || to == started) {
			t.Errorf("%s was not answered", what)
		}
	}
	if got := answersTo(evs, event.EventRedaction.Type, started); len(got) != 1 || got[0] != owner {
		t.Errorf("bob's start was redacted by %v, want by %s once", got, owner)
	}
}

// Issue 11, item 2: an admin rewrites the floor state while Walkie is
// down. The restarted Walkie does not take the edit for another
// controller's claim: it publishes its own floor state over it and keeps
// arbitrating.
func TestRestartDoesNotHandTheRoomAway(t *testing.T) {
	ctx := context.Background()
	admin := newUser(t, shared, "admin", "ADM")
	alice := newUser(t, shared, "alice", "ALICE")
	room := talkRoom(t, admin, alice)
	bot := shared.Walkie.BotUserID()
	published := currentFloor(admin, room)
	if published.Sender.String() != bot {
		t.Fatalf("the room's floor state is %s's", published.Sender)
	}

	shared.Walkie.Stop()
	defer func() { // the other scenarios need Walkie
		if !shared.Walkie.Running() {
			if err := shared.Walkie.Start(ctx); err != nil {
				t.Error(err)
			}
		}
	}()
	edit := map[string]any{"holder": map[string]any{"user_id": admin.user, "device_id": admin.device},
		"term": 41, "queue": []any{}, "listeners": 0}
	edited, err := admin.c.SendStateEvent(ctx, room, matrix.TypeFloor, "", edit)
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Walkie.Start(ctx); err != nil {
		t.Fatal(err)
	}

	ev := waitCurrentFloor(admin, room, "Walkie's floor state over the admin's edit", func(ev *event.Event) bool {
		return ev.Sender.String() == bot && ev.ID != published.ID && ev.ID != edited.EventID
	})
	var f floor.FloorState
	if err := json.Unmarshal(ev.Content.VeryRaw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Holder != nil || f.Term != 0 || f.Listeners != 1 {
		t.Fatalf("the republished floor state is not Walkie's own: %s", ev.Content.VeryRaw)
	}

	if st := adminStatus(t, shared.Walkie, room); st.Passive || !st.Managed {
		t.Fatalf("after the restart Walkie says passive %v, managed %v", st.Passive, st.Managed)
	}
	overwrite := false
	for _, e := range adminLog(t, shared.Walkie, room) {
		overwrite = overwrite || e.Action == floor.LogForeignFloorState && e.EventID == edited.EventID.String()
	}
	if !overwrite {
		t.Errorf("the floor log names no overwrite by %s", edited.EventID)
	}

	req := alice.request(room, "request", nil)
	if r := alice.waitResponse(room, req); r.Status != floor.StatusGranted || r.Term != 1 {
		t.Fatalf("alice's request after the restart: %+v", r)
	}
	waitCurrentFloor(admin, room, "alice holds, term 1", func(ev *event.Event) bool {
		var f floor.FloorState
		return ev.Sender.String() == bot && json.Unmarshal(ev.Content.VeryRaw, &f) == nil && holderIs(alice)(f) && f.Term == 1
	})
}

// rivalStack is a stack of its own whose homeserver also runs the named
// rival controllers. Its log is kept when the test fails.
func rivalStack(t *testing.T, rivals ...string) *stack.Stack {
	t.Helper()
	logFile, err := os.CreateTemp("", "walkie-e2e-rivals-*.log")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Log: logFile, Floor: e2eFloor, Rivals: rivals})
	if err != nil {
		logFile.Close()
		t.Fatalf("start a stack with rivals %v: %v (log: %s)", rivals, err, logFile.Name())
	}
	t.Cleanup(func() {
		s.Stop()
		logFile.Close()
		if t.Failed() {
			t.Logf("Walkie and Dendrite logs are in %s", logFile.Name())
		} else {
			_ = os.Remove(logFile.Name())
		}
	})
	return s
}

// roomEvents is the room's whole timeline as d sees it, oldest first.
func roomEvents(d *device, room id.RoomID) []*event.Event {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var evs []*event.Event
	from := ""
	for {
		resp, err := d.c.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			d.t.Fatal(err)
		}
		for _, ev := range resp.Chunk {
			evs = append([]*event.Event{ev}, evs...)
		}
		if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
			return evs
		}
		from = resp.End
	}
}

func eventsOf(d *device, room id.RoomID, typ string) []*event.Event {
	return eventsOfType(roomEvents(d, room), typ)
}

func eventsOfType(evs []*event.Event, typ string) []*event.Event {
	var out []*event.Event
	for _, ev := range evs {
		if ev.Type.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// firstFloorState is the first of the controllers' floor states by
// origin_server_ts, then event ID: the claim the protocol ranks by.
func firstFloorState(d *device, room id.RoomID, controllers ...string) *event.Event {
	d.t.Helper()
	var first *event.Event
	for _, ev := range eventsOf(d, room, floor.TypeFloor) {
		ours := false
		for _, c := range controllers {
			ours = ours || ev.Sender.String() == c
		}
		if ours && (first == nil || ev.Timestamp < first.Timestamp ||
			ev.Timestamp == first.Timestamp && ev.ID < first.ID) {
			first = ev
		}
	}
	if first == nil {
		d.t.Fatal("no controller published floor state")
	}
	return first
}

// answersTo names the senders of the events of typ that point at target:
// responses by their m.reference, redactions by what they redact.
func answersTo(evs []*event.Event, typ string, target id.EventID) []string {
	var senders []string
	for _, ev := range evs {
		if ev.Type.Type != typ {
			continue
		}
		var c struct {
			Redacts   id.EventID `json:"redacts"`
			RelatesTo *struct {
				EventID id.EventID `json:"event_id"`
			} `json:"m.relates_to"`
		}
		_ = json.Unmarshal(ev.Content.VeryRaw, &c)
		if ev.Redacts == target || c.Redacts == target || c.RelatesTo != nil && c.RelatesTo.EventID == target {
			senders = append(senders, ev.Sender.String())
		}
	}
	return senders
}

// currentFloor is the room's floor state event, sender included.
func currentFloor(d *device, room id.RoomID) *event.Event {
	d.t.Helper()
	state, err := d.c.StateAsArray(context.Background(), room)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, ev := range state {
		if ev.Type.Type == floor.TypeFloor && ev.StateKey != nil && *ev.StateKey == "" {
			return ev
		}
	}
	d.t.Fatalf("%s has no floor state", room)
	return nil
}

// waitCurrentFloor waits until the room's floor state event matches.
func waitCurrentFloor(d *device, room id.RoomID, what string, match func(*event.Event) bool) *event.Event {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var last *event.Event
	for {
		if last = currentFloor(d, room); match(last) {
			return last
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("the floor state never became %s; last %s by %s: %s", what, last.ID, last.Sender, last.Content.VeryRaw)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// adminStatus is what w's admin API says about the room.
func adminStatus(t *testing.T, w *walkieproc.Process, room id.RoomID) (st struct{ Managed, Passive bool }) {
	t.Helper()
	adminGet(t, w, "/_walkie/admin/v1/rooms/"+url.PathEscape(room.String()), &st)
	return st
}

// adminLog is the newest part of w's floor log of the room.
func adminLog(t *testing.T, w *walkieproc.Process, room id.RoomID) []store.LogRow {
	t.Helper()
	var log struct {
		Entries []store.LogRow `json:"entries"`
	}
	adminGet(t, w, "/_walkie/admin/v1/rooms/"+url.PathEscape(room.String())+"/log?limit=500", &log)
	return log.Entries
}

func adminGet(t *testing.T, w *walkieproc.Process, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.Config.AppService.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, out) != nil {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
}
