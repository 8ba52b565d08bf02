package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Bad content through the real transaction endpoint: every request gets
// its documented denial and nothing about the floor changes.
func TestBadContentThroughTheEndpointIsDeniedAndChangesNothing(t *testing.T) {
	const room = "!room:example.org"
	const bob = "@bob:example.org"
	request := func(sender string, content any) map[string]any {
		return map[string]any{"type": floor.TypeRequest, "sender": sender, "content": content}
	}
	cases := []struct {
		name   string
		room   string
		events []map[string]any // the last one is the request to answer
		reason floor.Reason
	}{
		{"unknown action", room, []map[string]any{request(bob, map[string]any{"action": "shout", "device_id": "B"})}, floor.ReasonBadRequest},
		{"device_id of the wrong type", room, []map[string]any{request(bob, map[string]any{"action": "request", "device_id": 7})}, floor.ReasonBadRequest},
		{"action of the wrong type", room, []map[string]any{request(bob, map[string]any{"action": []int{1}, "device_id": "B"})}, floor.ReasonBadRequest},
		{"preempt of the wrong type", room, []map[string]any{request(bob, map[string]any{"action": "request", "device_id": "B", "preempt": "yes"})}, floor.ReasonBadRequest},
		{"target of the wrong type", room, []map[string]any{request(mod, map[string]any{"action": "revoke", "device_id": "M", "target": "alice"})}, floor.ReasonBadRequest},
		{"oversized device_id", room, []map[string]any{request(bob, map[string]any{"action": "request", "device_id": strings.Repeat("B", 300)})}, floor.ReasonBadRequest},
		{"content not an object", room, []map[string]any{request(bob, "request")}, floor.ReasonBadRequest},
		{"missing device_id", room, []map[string]any{request(bob, map[string]any{"action": "request"})}, floor.ReasonBadRequest},
		{"sender not in the room", room, []map[string]any{request("@stranger:example.org", map[string]any{"action": "request", "device_id": "S"})}, floor.ReasonNotJoined},
		{"forged permit then a request", room, []map[string]any{
			{"type": "m.room.member", "sender": bob, "state_key": bob, "content": map[string]any{"membership": "join"}},
			{"type": floor.TypePermit, "sender": bob, "state_key": "_" + alice + "_B", "content": map[string]any{"device_id": "B", "send": true, "receive": true}},
			request(bob, map[string]any{"action": "request", "device_id": "B"}),
		}, floor.ReasonNoPermit},
		{"permit naming another device", room, []map[string]any{
			{"type": "m.room.member", "sender": bob, "state_key": bob, "content": map[string]any{"membership": "join"}},
			{"type": floor.TypePermit, "sender": bob, "state_key": "_" + bob + "_B", "content": map[string]any{"device_id": "C", "send": true, "receive": true}},
			request(bob, map[string]any{"action": "request", "device_id": "B"}),
		}, floor.ReasonNoPermit},
		{"NUL in device_id (PostgreSQL stores no NUL)", room, []map[string]any{request(alice, map[string]any{"action": "request", "device_id": "A\x00"})}, floor.ReasonNoPermit},
		{"NUL in a permit's state key, then a request", room, []map[string]any{
			{"type": "m.room.member", "sender": bob, "state_key": bob, "content": map[string]any{"membership": "join"}},
			{"type": floor.TypePermit, "sender": bob, "state_key": "_" + bob + "_B\x00", "content": map[string]any{"device_id": "B\x00", "send": true, "receive": true}},
			request(bob, map[string]any{"action": "request", "device_id": "B\x00"}),
		}, floor.ReasonNoPermit},
		{"room Walkie does not manage", "!other:example.org", []map[string]any{request(bob, map[string]any{"action": "request", "device_id": "B"})}, floor.ReasonRoomNotManaged},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, _ := newTestService(t)
			seedHeldRoom(t, svc, room)
			before, _, _ := svc.store.Room(context.Background(), room)
			var events []map[string]any
			for j, ev := range tc.events {
				ev["event_id"] = fmt.Sprintf("$bad%d_%d", i, j)
				ev["room_id"] = tc.room
				events = append(events, ev)
			}
			body, _ := json.Marshal(map[string]any{"events": events})
			if rec := putTransaction(svc, "bad"+fmt.Sprint(i), body); rec.Code != http.StatusOK {
				t.Fatalf("a well-formed transaction is acknowledged: %d %s", rec.Code, rec.Body)
			}
			asking := events[len(events)-1]["event_id"].(string)
			var status floor.Status
			var reason floor.Reason
			err := svc.store.Pool().QueryRow(context.Background(), `SELECT payload->'content'->>'status', payload->'content'->>'reason'
				FROM outbox WHERE payload->>'event_type' = $1 AND payload->'content'->'m.relates_to'->>'event_id' = $2`,
				floor.TypeResponse, asking).Scan(&status, &reason)
			if err != nil || status != floor.StatusDenied || reason != tc.reason {
				t.Fatalf("response to %s: %s/%s (%v), want denied/%s", tc.name, status, reason, err, tc.reason)
			}
			after, _, _ := svc.store.Room(context.Background(), room)
			if holderOf(after) != holderOf(before) || after.Term != before.Term || len(after.Queue) != len(before.Queue) {
				t.Fatalf("bad input changed the floor: %s term %d queue %d → %s term %d queue %d",
					holderOf(before), before.Term, len(before.Queue), holderOf(after), after.Term, len(after.Queue))
			}
			if p, ok := after.Permits["_"+alice+"_A"]; !ok || !p.Send {
				t.Fatal("alice's permit must survive a forgery")
			}
		})
	}
}

func holderOf(r *floor.Room) string {
	if r == nil || r.Holder == nil {
		return ""
	}
	return r.Holder.UserID + "/" + r.Holder.DeviceID
}
