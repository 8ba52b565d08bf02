package decide_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// A process that acknowledged a transaction but died before deciding
// leaves the events in the inbox; the next process decides them.
func TestAcknowledgedEventsSurviveCrashBeforeDecision(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	f.setupRoom(room, alice)
	raw := f.permit(room, alice, "A", nil)
	req := f.request(room, alice, "A", "request", nil)
	if _, _, err := f.st.SaveTransaction(f.ctx, "T-crash", []store.InboxEvent{
		{EventID: eventID(raw), RoomID: room, Raw: raw}, {EventID: eventID(req), RoomID: room, Raw: req}}); err != nil {
		t.Fatal(err)
	}
	restarted := f.open()
	pending, err := restarted.PendingRooms(f.ctx, 10)
	if err != nil || len(pending) != 1 || pending[0] != room {
		t.Fatalf("pending rooms after restart: %v %v", pending, err)
	}
	// What the operator sees meanwhile (walkie_inbox_* gauges).
	if n, age, err := restarted.InboxBacklog(f.ctx); err != nil || n != 2 || age <= 0 {
		t.Fatalf("inbox backlog before the decision: %d events, oldest %v, %v", n, age, err)
	}
	if _, _, err := f.decider(restarted).Decide(f.ctx, room); err != nil {
		t.Fatal(err)
	}
	if n, age, err := restarted.InboxBacklog(f.ctx); err != nil || n != 0 || age != 0 {
		t.Fatalf("inbox backlog after the decision: %d events, oldest %v, %v", n, age, err)
	}
	if r := f.room(room); holderOf(r) != alice+"/A" {
		t.Fatalf("the acknowledged request was not decided after restart: holder %q", holderOf(r))
	}
}

// Many goroutines on two store instances (two replicas) hammer one room:
// the floor log must never show two holders at once, and terms strictly
// increase.
func TestConcurrentReplicasNeverGrantTwoHolders(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	devices := []string{alice, bob, carol, "@dave:test", "@erin:test", "@frank:test"}
	f.setupRoom(room, devices...)
	for _, u := range devices {
		f.deliver(f.permit(room, u, "D", nil))
	}
	replicas := []*decide.Decider{f.d, f.decider(f.open())}
	var wg sync.WaitGroup
	const perWorker = 25
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := replicas[w%2]
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWorker {
				u := devices[rng.IntN(len(devices))]
				action := []string{"request", "request", "release", "cancel"}[rng.IntN(4)]
				raw := f.request(room, u, "D", action, nil)
				txn := fmt.Sprintf("w%d-%d", w, i)
				if _, err := d.Transaction(context.Background(), txn, []json.RawMessage{raw}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if pending, _ := f.st.PendingRooms(f.ctx, 10); len(pending) != 0 {
		t.Fatalf("events left undecided: %v", pending)
	}
	rows, err := f.st.Pool().Query(f.ctx, `SELECT action, user_id, term FROM floor_log WHERE room_id = $1 ORDER BY id`, room)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	holder, lastTerm, grants := "", int64(0), 0
	for rows.Next() {
		var action, user string
		var term int64
		if err := rows.Scan(&action, &user, &term); err != nil {
			t.Fatal(err)
		}
		switch action {
		case "grant":
			if holder != "" {
				t.Fatalf("%s granted at term %d while %s still held the floor", user, term, holder)
			}
			if term <= lastTerm {
				t.Fatalf("term %d after %d: terms must strictly increase", term, lastTerm)
			}
			holder, lastTerm = user, term
			grants++
		case "release", "revoke":
			if user == holder {
				holder = ""
			}
		}
	}
	if grants < 2 {
		t.Fatalf("the hammering produced only %d grants; the test proves nothing", grants)
	}
	var responses int
	for _, s := range f.outbox(room) {
		if s.Kind == matrix.KindMessage && s.Request.EventType == floor.TypeResponse {
			var rc matrix.ResponseContent
			_ = json.Unmarshal(s.Request.Content, &rc)
			responses++
		}
	}
	if responses < 8*perWorker {
		t.Fatalf("every explicit request gets a response: %d responses for %d requests", responses, 8*perWorker)
	}
}
