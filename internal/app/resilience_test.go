package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
)

// A member who joins while the bot is loading /state after its own join
// must not be lost: the homeserver answered /state before bob's join, the
// stream delivered the join before the answer was applied. (This raced in
// the end-to-end tests: bob's permit then never counted as a listener.)
// The stale snapshot is ignored and /state fetched again; a room whose
// state keeps changing is left to the sender's backoff after a few tries.
func TestStateLoadedDuringAJoinDoesNotForgetTheJoin(t *testing.T) {
	const room = "!race:example.org"
	var svc *Service
	var loads atomic.Int32
	joinsDuringLoad := 1 // how many /state answers a join overtakes
	member := func(user string) map[string]any {
		return map[string]any{"type": "m.room.member", "sender": user, "state_key": user, "event_id": "$join-" + user,
			"room_id": room, "content": map[string]any{"membership": "join"}}
	}
	power := map[string]any{"type": "m.room.power_levels", "sender": alice, "state_key": "", "event_id": "$pl", "room_id": room,
		"content": map[string]any{"users": map[string]any{alice: 100, bot: 100}}}
	var joined []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/state") {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"event_id":"$sent"}`))
			return
		}
		state := []map[string]any{power, member(alice), member(bot)}
		for _, u := range joined {
			state = append(state, member(u))
		}
		if n := int(loads.Add(1)); n <= joinsDuringLoad {
			// Someone joins between the homeserver's answer and its use.
			u := fmt.Sprintf("@late%d:example.org", len(joined)+1)
			deliver(t, svc, "join-"+u, member(u))
			joined = append(joined, u)
		}
		_ = json.NewEncoder(w).Encode(state)
	}))
	defer hs.Close()
	svc, _ = newTestServiceOn(t, hs.URL)
	ctx := context.Background()
	staleLines := func() int {
		var n int
		_ = svc.store.Pool().QueryRow(ctx, `SELECT count(*) FROM floor_log WHERE room_id = $1 AND action = $2`,
			room, floor.LogSnapshotStale).Scan(&n)
		return n
	}

	if err := svc.loader.Load(ctx, room); err != nil {
		t.Fatalf("load: %v", err)
	}
	r, _, _ := svc.store.Room(ctx, room)
	if r.Members["@late1:example.org"] != "join" || r.Members[alice] != "join" || !r.Managed {
		t.Fatalf("after the load: members %v, managed %v", r.Members, r.Managed)
	}
	if loads.Load() != 2 || staleLines() != 1 {
		t.Fatalf("%d /state requests and %d stale snapshots, want 2 and 1", loads.Load(), staleLines())
	}

	// Joins that overtake every answer: after three tries the load is
	// retried later, and nobody is forgotten meanwhile.
	loads.Store(0)
	joinsDuringLoad = 100
	if err := svc.loader.Load(ctx, room); err == nil {
		t.Fatal("a load that never gets a current snapshot must fail, to be retried with backoff")
	}
	r, _, _ = svc.store.Room(ctx, room)
	for _, u := range append(joined, alice) {
		if r.Members[u] != "join" {
			t.Fatalf("%s forgotten after stale loads: members %v", u, r.Members)
		}
	}
	if loads.Load() != 3 || staleLines() != 4 {
		t.Fatalf("%d /state requests and %d stale snapshots in all, want 3 and 4", loads.Load(), staleLines())
	}
}

// deliverStored stores a transaction without deciding it, as the
// endpoint does when deciding on receipt fails.
func deliverStored(t *testing.T, svc *Service, txnID string, events ...map[string]any) {
	t.Helper()
	var inbox []store.InboxEvent
	for _, ev := range events {
		raw, _ := json.Marshal(ev)
		inbox = append(inbox, store.InboxEvent{EventID: ev["event_id"].(string), RoomID: ev["room_id"].(string), Raw: raw})
	}
	if _, _, err := svc.store.SaveTransaction(context.Background(), txnID, inbox); err != nil {
		t.Fatal(err)
	}
}

// putTransaction PUTs a raw appservice transaction body, as the
// homeserver does, and returns the answer.
func putTransaction(svc *Service, txnID string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPut, "/_matrix/app/v1/transactions/"+txnID, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testHSToken)
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	return rec
}

// deliver PUTs one appservice transaction and requires a 200. It may run
// outside the test's goroutine (a homeserver stand-in calls it), so it
// reports with Errorf.
func deliver(t *testing.T, svc *Service, txnID string, events ...map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"events": events})
	if rec := putTransaction(svc, txnID, body); rec.Code != http.StatusOK {
		t.Errorf("transaction %s: %d %s", txnID, rec.Code, rec.Body)
	}
}

// A bug that panics while deciding on an event must cost neither the
// process nor the room: the endpoint still stores and acknowledges the
// event, the room worker sets that one event aside (floor log, metric),
// and the room goes on.
func TestAPanickingDecisionSetsTheEventAside(t *testing.T) {
	svc, _ := newTestService(t)
	const room = "!room:example.org"
	ctx := context.Background()
	seedHeldRoom(t, svc, room)
	commands := svc.handler.Commands
	svc.handler.Commands = func(*floor.Room, string, string) (string, []floor.Input) { panic("a bug") }
	deliver(t, svc, "panic", map[string]any{"type": "m.room.message", "event_id": "$boom", "room_id": room,
		"sender": alice, "content": map[string]any{"msgtype": "m.text", "body": "!walkie status"}})
	if pending, _ := svc.store.PendingRooms(ctx, 10); len(pending) != 1 {
		t.Fatalf("the event must be stored for the room worker: pending %v", pending)
	}
	svc.handler.Commands = func(r *floor.Room, sender, args string) (string, []floor.Input) {
		if args == "status" {
			panic("a bug")
		}
		return commands(r, sender, args)
	}
	deliverStored(t, svc, "after", map[string]any{"type": "m.room.message", "event_id": "$after", "room_id": room,
		"sender": mod, "content": map[string]any{"msgtype": "m.text", "body": "!walkie release"}})
	svc.processRoom(ctx, room)

	if pending, _ := svc.store.PendingRooms(ctx, 10); len(pending) != 0 {
		t.Fatalf("still pending: %v", pending)
	}
	if n := testutil.ToFloat64(svc.metrics.EventsSetAside); n != 1 {
		t.Fatalf("events set aside %v, want 1", n)
	}
	log, _ := svc.store.FloorLog(ctx, room, 0, 20)
	var aside []string
	for _, l := range log {
		if l.Action == store.LogSetAside {
			aside = append(aside, l.EventID)
			if !strings.Contains(string(l.Reason), "panicked") {
				t.Errorf("set_aside reason %q does not say it panicked", l.Reason)
			}
		}
	}
	if len(aside) != 1 || aside[0] != "$boom" {
		t.Fatalf("set aside %v, want [$boom]", aside)
	}
	if r, _, _ := svc.store.Room(ctx, room); r.Holder != nil {
		t.Fatal("the moderator's release after the bad event was not decided")
	}
}

// Bytes that are not UTF-8 (which PostgreSQL refuses) in one event must
// not make the whole transaction fail, which the homeserver would retry
// forever: the event is stored with U+FFFD and decided.
func TestAnEventThatIsNotUTF8IsStillStored(t *testing.T) {
	svc, _ := newTestService(t)
	const room = "!room:example.org"
	seedHeldRoom(t, svc, room)
	body := []byte(`{"events":[{"type":"m.room.message","event_id":"$latin1","room_id":"` + room + `","sender":"` + alice +
		`","content":{"msgtype":"m.text","body":"caf` + "\xe9" + `"}}]}`)
	if rec := putTransaction(svc, "latin1", body); rec.Code != http.StatusOK {
		t.Fatalf("transaction with a Latin-1 byte: %d %s", rec.Code, rec.Body)
	}
	var stored string
	if err := svc.store.Pool().QueryRow(context.Background(), `SELECT event->'content'->>'body' FROM inbox WHERE event_id = '$latin1'`).
		Scan(&stored); err != nil || stored != "caf\uFFFD" {
		t.Fatalf("stored body %q (%v), want %q", stored, err, "caf\uFFFD")
	}
}
