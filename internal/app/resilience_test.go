package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// A member who joins while the bot is loading /state after its own join
// must not be lost: the homeserver answered /state before bob's join, the
// stream delivered the join before the answer was applied. (This raced in
// the end-to-end tests: bob's permit then never counted as a listener.)
func TestStateLoadedDuringAJoinDoesNotForgetTheJoin(t *testing.T) {
	const room = "!race:example.org"
	const bob = "@bob:example.org"
	var svc *Service
	var loads atomic.Int32
	member := func(user string) map[string]any {
		return map[string]any{"type": "m.room.member", "sender": user, "state_key": user, "event_id": "$join-" + user,
			"room_id": room, "content": map[string]any{"membership": "join"}}
	}
	power := map[string]any{"type": "m.room.power_levels", "sender": alice, "state_key": "", "event_id": "$pl", "room_id": room,
		"content": map[string]any{"users": map[string]any{alice: 100, bot: 100}}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/state") {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"event_id":"$sent"}`))
			return
		}
		state := []map[string]any{power, member(alice), member(bot)}
		if loads.Add(1) == 1 {
			// bob joins between the homeserver's answer and its use.
			deliver(t, svc, "join-bob", member(bob))
		} else {
			state = append(state, member(bob))
		}
		_ = json.NewEncoder(w).Encode(state)
	}))
	defer hs.Close()
	svc, _ = newTestServiceOn(t, hs.URL)
	ctx := context.Background()

	if err := svc.loader.Load(ctx, room); err == nil {
		t.Fatal("a snapshot older than a state event already applied must be refused, so the load is retried")
	}
	r, _, err := svc.store.Room(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if r.Members[bob] != "join" {
		t.Fatalf("bob's join was overwritten by the stale snapshot: members %v", r.Members)
	}
	if err := svc.loader.Load(ctx, room); err != nil {
		t.Fatalf("the retried load: %v", err)
	}
	r, _, _ = svc.store.Room(ctx, room)
	if r.Members[bob] != "join" || r.Members[alice] != "join" || !r.Managed {
		t.Fatalf("after the retried load: members %v, managed %v", r.Members, r.Managed)
	}
	var stale int
	_ = svc.store.Pool().QueryRow(ctx, `SELECT count(*) FROM floor_log WHERE room_id = $1 AND action = $2`,
		room, floor.LogSnapshotStale).Scan(&stale)
	if stale != 1 {
		t.Fatalf("floor log has %d %s entries, want 1", stale, floor.LogSnapshotStale)
	}
}

// deliver PUTs one appservice transaction and requires a 200.
func deliver(t *testing.T, svc *Service, txnID string, events ...map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"events": events})
	req := httptest.NewRequest(http.MethodPut, "/_matrix/app/v1/transactions/"+txnID, strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+testHSToken)
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("transaction %s: %d %s", txnID, rec.Code, rec.Body)
	}
}

// A bug that panics while deciding must not lose the event or the process:
// the endpoint still stores and acknowledges it, the room worker recovers,
// and the room is decided once the bug is gone.
func TestAPanickingDecisionLosesNothing(t *testing.T) {
	svc, _ := newTestService(t)
	const room = "!room:example.org"
	seedHeldRoom(t, svc, room)
	commands := svc.handler.Commands
	svc.handler.Commands = func(*floor.Room, string, string) (string, []floor.Input) { panic("a bug") }
	deliver(t, svc, "panic", map[string]any{"type": "m.room.message", "event_id": "$boom", "room_id": room,
		"sender": alice, "content": map[string]any{"msgtype": "m.text", "body": "!walkie status"}})
	svc.processRoom(context.Background(), room) // recovers
	if pending, _ := svc.store.PendingRooms(context.Background(), 10); len(pending) != 1 {
		t.Fatalf("the event must stay pending after the panics: %v", pending)
	}
	if n := testutil.ToFloat64(svc.metrics.DecisionErrors); n != 2 {
		t.Fatalf("decision errors %v, want 2 (on receipt and in the worker)", n)
	}
	svc.handler.Commands = commands
	svc.processRoom(context.Background(), room)
	if pending, _ := svc.store.PendingRooms(context.Background(), 10); len(pending) != 0 {
		t.Fatalf("still pending after the fix: %v", pending)
	}
}
