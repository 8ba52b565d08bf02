package decide_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

// Rooms decided together in batches end exactly as rooms decided one at
// a time: the same floor-log lines, the same outbox rows, the same floor.
func TestBatchedRoomsDecideAsSequentialOnes(t *testing.T) {
	seq, batched := newFixture(t), newFixture(t)
	const n = 10
	var rooms []string
	for i := range n {
		room := fmt.Sprintf("!room%d:test", i)
		rooms = append(rooms, room)
		for _, f := range []*fixture{seq, batched} {
			f.setupRoom(room, fmt.Sprintf("@a%d:test", i), fmt.Sprintf("@b%d:test", i))
		}
	}
	// Built by another builder than the fixtures' own, so no step shares
	// an event ID with an event of a room's setup (the inbox would drop it).
	steps := buildSteps(seq, rooms)
	since, bsince := map[string]int64{}, map[string]int64{}
	for _, room := range rooms {
		since[room], bsince[room] = seq.lastLogID(room), batched.lastLogID(room)
	}

	for step := range steps[rooms[0]] {
		for _, room := range rooms {
			seq.deliverAndDecide(steps[room][step])
		}
		// Every room's step in one batch: half as appservice
		// transactions, half stored first and decided by a room worker.
		var calls []func() error
		for i, room := range rooms {
			ev := steps[room][step]
			if i%2 == 0 {
				calls = append(calls, func() error {
					_, err := batched.d.Transaction(batched.ctx, fmt.Sprintf("b-%s-%d", room, step), []json.RawMessage{ev})
					return err
				})
				continue
			}
			if _, _, err := batched.st.SaveTransaction(batched.ctx, fmt.Sprintf("s-%s-%d", room, step), batched.inbox(ev)); err != nil {
				t.Fatal(err)
			}
			calls = append(calls, func() error { _, err := batched.d.Room(batched.ctx, room); return err })
		}
		for _, err := range inOneBatch(t, batched.d, nil, calls...) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	for _, room := range rooms {
		want, got := seq.logLines(room, since[room]), batched.logLines(room, bsince[room])
		if !slices.Equal(want, got) {
			t.Errorf("%s: floor log\n batched    %v\n sequential %v", room, got, want)
		}
		if w, g := outboxKinds(seq.outbox(room)), outboxKinds(batched.outbox(room)); !slices.Equal(w, g) {
			t.Errorf("%s: outbox %v, sequential %v", room, g, w)
		}
		w, g := seq.room(room), batched.room(room)
		if holderOf(w) != holderOf(g) || w.Term != g.Term || len(w.Queue) != len(g.Queue) || w.Term != 3 {
			t.Errorf("%s: holder %q term %d queue %d; sequential %q %d %d (want term 3)", room,
				holderOf(g), g.Term, len(g.Queue), holderOf(w), w.Term, len(w.Queue))
		}
	}
}

// buildSteps makes each room's script once, so both databases get the
// same events: a and b take their permits; a is granted, b queued; a
// releases and b is granted from the queue; a queues, b releases, a is
// granted and releases.
func buildSteps(f *fixture, rooms []string) map[string][]json.RawMessage {
	g := *f
	g.evs = roomevents.New("step")
	g.evs.Undated = true
	steps := map[string][]json.RawMessage{}
	for i, room := range rooms {
		a, b := fmt.Sprintf("@a%d:test", i), fmt.Sprintf("@b%d:test", i)
		steps[room] = []json.RawMessage{
			g.permit(room, a, "A", nil), g.permit(room, b, "B", nil),
			g.request(room, a, "A", "request", nil), g.request(room, b, "B", "request", nil),
			g.request(room, a, "A", "release", nil), g.request(room, a, "A", "request", nil),
			g.request(room, b, "B", "release", nil), g.request(room, a, "A", "release", nil),
		}
	}
	return steps
}

// A room whose decision fails does not take the rooms it shares a batch
// with down: they commit, its caller gets its own error, and the room
// worker sets the guilty event aside as it would without batches.
func TestAFailingRoomDoesNotFailItsBatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(env matrix.Envelope) []matrix.Call
	}{
		{"it panics", func(matrix.Envelope) []matrix.Call { panic("a bug") }},
		{"PostgreSQL refuses its write", func(matrix.Envelope) []matrix.Call {
			return []matrix.Call{{Kind: matrix.KindMessage, Request: matrix.Request{EventType: "m.room.message",
				Content: json.RawMessage(`{"body":"\u0000"}`)}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testFailingRoomInBatch(t, tc.fault) })
	}
}

func testFailingRoomInBatch(t *testing.T, fault func(env matrix.Envelope) []matrix.Call) {
	f := newFixture(t)
	const n, poisoned = 6, "!r3:test"
	var rooms []string
	for i := range n {
		room := fmt.Sprintf("!r%d:test", i)
		rooms = append(rooms, room)
		f.setupRoom(room, alice)
	}
	var bad, after json.RawMessage
	for _, room := range rooms {
		events := []json.RawMessage{f.permit(room, alice, "A", nil)}
		if room == poisoned {
			bad = f.ev(room, alice, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie status"})
			after = f.permit(room, bob, "B", nil)
			events = append(events, bad, after)
		}
		if _, _, err := f.st.SaveTransaction(f.ctx, "pending-"+room, f.inbox(events...)); err != nil {
			t.Fatal(err)
		}
	}
	f.d.InjectFault(func(env matrix.Envelope) []matrix.Call {
		if env.EventID == eventID(bad) {
			return fault(env)
		}
		return nil
	})

	calls := make([]func() error, n)
	for i, room := range rooms {
		calls[i] = func() error { _, _, err := f.d.Decide(f.ctx, room); return err }
	}
	for i, err := range inOneBatch(t, f.d, nil, calls...) {
		switch {
		case rooms[i] == poisoned && !store.IsPoisoned(err):
			t.Fatalf("the failing room's decision: %v, want its own poison error", err)
		case rooms[i] != poisoned && err != nil:
			t.Fatalf("%s failed with the room it shared a batch with: %v", rooms[i], err)
		}
	}
	for _, room := range rooms {
		want := 1
		if room == poisoned {
			want = 0 // a failed decision changes nothing
		}
		if got := len(f.room(room).Permits); got != want {
			t.Fatalf("%s: %d permits, want %d", room, got, want)
		}
	}

	if _, err := f.d.Room(f.ctx, poisoned); err != nil {
		t.Fatal(err)
	}
	if got := len(f.room(poisoned).Permits); got != 2 {
		t.Fatalf("after setting the bad event aside: %d permits, want 2 (the events around it)", got)
	}
	log, _ := f.st.FloorLog(f.ctx, poisoned, 0, 20)
	if !slices.ContainsFunc(log, func(l store.LogRow) bool { return l.Action == store.LogSetAside && l.EventID == eventID(bad) }) {
		t.Fatalf("no %s line for the bad event: %+v", store.LogSetAside, log)
	}
}

// Decisions of one room wait for one another in the order they came, and
// each caller gets its own outcome: a room is in one batch at a time.
func TestOneRoomFromSeveralCallersKeepsTheirOrder(t *testing.T) {
	f := newFixture(t)
	const room, other = "!room:test", "!other:test"
	f.setupRoom(room, alice, bob, carol)
	f.setupRoom(other, alice)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil), f.permit(room, carol, "C", nil),
		f.permit(other, alice, "A", nil))
	since := f.lastLogID(room)

	resume := f.d.PauseCommits()
	defer resume()
	type result struct {
		out decide.Outcome
		err error
	}
	users := []string{alice, bob, carol}
	results := make([]result, len(users)+1)
	var wg sync.WaitGroup
	request := func(i int, room, user, device string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := floor.TalkRequest{EventID: fmt.Sprintf("$req%d", i), Sender: user, Action: floor.ActionRequest, DeviceID: device}
			results[i].out, results[i].err = f.d.DecideInputs(f.ctx, room, in)
		}()
		waitFor(t, "the request waits for a batch", func() bool { return f.d.WaitingDecisions() == i+1 })
	}
	for i, user := range users {
		request(i, room, user, string(rune('A'+i)))
	}
	request(len(users), other, alice, "B") // another room: shares the first batch
	resume()
	wg.Wait()

	wantAction := []floor.LogAction{floor.LogGrant, floor.LogQueue, floor.LogQueue}
	for i, r := range results[:len(users)] {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.out.Log) != 1 || r.out.Log[0].Action != wantAction[i] || r.out.Log[0].Device.UserID != users[i] {
			t.Fatalf("request %d (%s): outcome %+v, want its own %s line", i, users[i], r.out.Log, wantAction[i])
		}
		if i > 0 && !r.out.CommittedAt.After(results[i-1].out.CommittedAt) {
			t.Fatalf("request %d committed at %s, not after request %d (%s): one batch held the room twice",
				i, r.out.CommittedAt, i-1, results[i-1].out.CommittedAt)
		}
	}
	if got := f.logLines(room, since); !slices.Equal(got, []string{
		"grant @alice:test/A 1", "queue @bob:test/B 1 floor_taken", "queue @carol:test/C 1 floor_taken"}) {
		t.Fatalf("floor log %v, want alice granted, then bob and carol queued in that order", got)
	}
	r := f.room(room)
	if holderOf(r) != alice+"/A" || len(r.Queue) != 2 || r.Queue[0].Device.UserID != bob || r.Queue[1].Device.UserID != carol {
		t.Fatalf("holder %q, queue %+v", holderOf(r), r.Queue)
	}
}

// Two Walkie processes deciding the same rooms at once, each batching its
// own decisions, never let two devices hold one floor, nor one device
// hold two floors (alice's device A is in every room): replayed in the
// order the floor log was written, every grant finds the floor free and
// the device free.
func TestTwoReplicasBatchingNeverGrantTwoHolders(t *testing.T) {
	f := newFixture(t)
	g := f.reopen()
	const rooms, workers, ops = 4, 4, 40
	type device struct{ user, id string }
	roomIDs := make([]string, rooms)
	devices := map[string][]device{}
	for i := range rooms {
		room := fmt.Sprintf("!room%d:test", i)
		roomIDs[i] = room
		other := fmt.Sprintf("@u%d:test", i)
		f.setupRoom(room, alice, other)
		f.deliver(f.permit(room, alice, "A", nil), f.permit(room, other, "D", nil))
		devices[room] = []device{{alice, "A"}, {other, "D"}}
	}
	var from int64
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT coalesce(max(id), 0) FROM floor_log`).Scan(&from); err != nil {
		t.Fatal(err)
	}

	// Each worker makes random requests and releases in random rooms
	// through its replica.
	var seq atomic.Int64
	work := func(replica *fixture, rnd *rand.Rand) error {
		for range ops {
			room := roomIDs[rnd.IntN(rooms)]
			dev := devices[room][rnd.IntN(2)]
			action := floor.ActionRequest
			if rnd.IntN(2) == 0 {
				action = floor.ActionRelease
			}
			in := floor.TalkRequest{EventID: fmt.Sprintf("$op%d", seq.Add(1)), Sender: dev.user, Action: action, DeviceID: dev.id}
			if _, err := replica.d.DecideInputs(replica.ctx, room, in); err != nil {
				return err
			}
		}
		return nil
	}
	var calls []func() error
	for i := range 2 * workers {
		replica, rnd := []*fixture{f, g}[i%2], rand.New(rand.NewPCG(uint64(i), 7))
		calls = append(calls, func() error { return work(replica, rnd) })
	}
	for _, err := range all(calls...) {
		if err != nil {
			t.Fatal(err)
		}
	}

	rows, err := f.st.Pool().Query(f.ctx, `SELECT id, room_id, action, user_id, device_id, term FROM floor_log WHERE id > $1 ORDER BY id`, from)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	holder := map[string]string{} // room → device
	heldIn := map[string]string{} // device → room
	term := map[string]int64{}
	grants := 0
	for rows.Next() {
		var id, tm int64
		var room, action, user, dev string
		if err := rows.Scan(&id, &room, &action, &user, &dev, &tm); err != nil {
			t.Fatal(err)
		}
		d := user + "/" + dev
		switch floor.LogAction(action) {
		case floor.LogGrant:
			grants++
			if h := holder[room]; h != "" {
				t.Fatalf("line %d: %s granted %s at term %d while %s holds it", id, room, d, tm, h)
			}
			if r := heldIn[d]; r != "" {
				t.Fatalf("line %d: %s granted %s while it holds %s", id, room, d, r)
			}
			if tm != term[room]+1 {
				t.Fatalf("line %d: %s granted term %d after term %d", id, room, tm, term[room])
			}
			holder[room], heldIn[d], term[room] = d, room, tm
		case floor.LogRelease, floor.LogRevoke:
			if holder[room] != d || tm != term[room] {
				t.Fatalf("line %d: %s %s ends term %d of %s, but %s holds term %d", id, room, action, tm, d, holder[room], term[room])
			}
			delete(heldIn, d)
			holder[room] = ""
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if grants == 0 {
		t.Fatal("no grant at all: the workload tested nothing")
	}
	for _, room := range roomIDs {
		if got := holderOf(f.room(room)); got != holder[room] {
			t.Fatalf("%s: holder %q, the floor log says %q", room, got, holder[room])
		}
	}
}

// all runs the calls at once and returns their errors.
func all(calls ...func() error) []error {
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
	}
	wg.Wait()
	return errs
}

// lastLogID is the newest floor-log line of a room (0: none).
func (f *fixture) lastLogID(room string) int64 {
	f.t.Helper()
	log, err := f.st.FloorLog(f.ctx, room, 0, 1)
	if err != nil {
		f.t.Fatal(err)
	}
	if len(log) == 0 {
		return 0
	}
	return log[0].ID
}

// logLines are a room's floor-log lines after since, oldest first, as
// "action user/device term reason".
func (f *fixture) logLines(room string, since int64) []string {
	f.t.Helper()
	log, err := f.st.FloorLog(f.ctx, room, 0, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var lines []string
	for _, l := range slices.Backward(log) {
		if l.ID <= since {
			continue
		}
		line := fmt.Sprintf("%s %s/%s %d", l.Action, l.Device.UserID, l.Device.DeviceID, l.Term)
		if l.Reason != "" {
			line += " " + string(l.Reason)
		}
		lines = append(lines, line)
	}
	return lines
}

// outboxKinds lists a room's outbox rows as kind and event type.
func outboxKinds(rows []sent) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Kind+" "+r.Request.EventType)
	}
	return out
}

// A device asking for the floor in two rooms of one batch gets one floor:
// the room decided second sees the first one's grant, although the
// device's check was answered ahead for both.
func TestOneDeviceInTwoRoomsOfOneBatch(t *testing.T) {
	f := newFixture(t)
	rooms := []string{"!one:test", "!two:test", "!three:test"}
	for _, room := range rooms {
		f.setupRoom(room, alice)
		f.deliver(f.permit(room, alice, "A", nil))
	}
	// alice holds !three already: a batch must see committed floors too.
	if _, err := f.d.DecideInputs(f.ctx, "!three:test", floor.TalkRequest{EventID: "$held", Sender: alice, Action: floor.ActionRequest, DeviceID: "A"}); err != nil {
		t.Fatal(err)
	}
	request := func(room string) func() error {
		return func() error {
			_, err := f.d.DecideInputs(f.ctx, room, floor.TalkRequest{EventID: "$in" + room, Sender: alice, Action: floor.ActionRequest, DeviceID: "A"})
			return err
		}
	}
	for _, err := range inOneBatch(t, f.d, nil, request("!one:test"), request("!two:test")) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, room := range rooms[:2] {
		if h := holderOf(f.room(room)); h != "" {
			t.Fatalf("%s granted to %s while alice's device holds !three", room, h)
		}
	}

	// Released there, one of the two rooms may grant it, not both.
	if _, err := f.d.DecideInputs(f.ctx, "!three:test", floor.TalkRequest{EventID: "$free", Sender: alice, Action: floor.ActionRelease, DeviceID: "A"}); err != nil {
		t.Fatal(err)
	}
	for _, err := range inOneBatch(t, f.d, nil, request("!one:test"), request("!two:test")) {
		if err != nil {
			t.Fatal(err)
		}
	}
	one, two := holderOf(f.room("!one:test")), holderOf(f.room("!two:test"))
	if one != alice+"/A" || two != "" {
		t.Fatalf("holders %q and %q: want alice in !one (decided first, in sorted order) and nobody in !two", one, two)
	}
	log, _ := f.st.FloorLog(f.ctx, "!two:test", 0, 1)
	if len(log) != 1 || log[0].Action != floor.LogDeny || log[0].Reason != floor.ReasonBusyElsewhere {
		t.Fatalf("!two's last line %+v, want a busy_elsewhere denial", log)
	}
}

// A floor-channel request refused after its decision (the controller is
// not in the room) is rolled back alone: the requests it shared a batch
// with are granted, and no row is created for the unknown room.
func TestARefusedChannelRequestDoesNotFailItsBatch(t *testing.T) {
	f := newFixture(t)
	rooms := f.managedRooms(3, func(i int) (string, []string) { return fmt.Sprintf("!r%d:test", i), []string{alice} })
	for _, room := range rooms {
		f.deliver(f.permit(room, alice, "A", nil))
	}
	rooms = append(rooms, "!unknown:test")
	answers := make([]floor.Response, len(rooms))
	calls := make([]func() error, len(rooms))
	for i, room := range rooms {
		calls[i] = func() (err error) {
			answers[i], _, err = f.d.ChannelRequest(f.ctx, room, channelRequest(fmt.Sprint("c", i), alice, "A", floor.ActionRequest))
			return err
		}
	}
	errs := inOneBatch(t, f.d, nil, calls...)
	if !errors.Is(errs[3], decide.ErrNotJoined) {
		t.Fatalf("unknown room: %v, want ErrNotJoined", errs[3])
	}
	granted := 0
	for i, err := range errs[:3] {
		if err != nil {
			t.Fatalf("%s failed with the refused request: %v", rooms[i], err)
		}
		if answers[i].Status == floor.StatusGranted {
			granted++
		}
	}
	if granted != 1 {
		t.Fatalf("%d grants for alice's device, want 1 (one floor per device): %+v", granted, answers)
	}
	if _, _, err := f.st.Room(f.ctx, "!unknown:test"); !errors.Is(err, store.ErrUnknownRoom) {
		t.Fatalf("the unknown room has a row now: %v", err)
	}
}
