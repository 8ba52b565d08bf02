package decide_test

import (
	"encoding/json"
	"testing"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

func TestAnUnstorableEventIsSetAsideAndTheRoomGoesOn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
	}{
		{"refused by PostgreSQL (NUL in jsonb)", `{"body":"\u0000"}`},
		{"not encodable as JSON", `{"n":Inf}`},
	} {
		t.Run(tc.name, func(t *testing.T) { testSetAside(t, tc.content) })
	}
}

// testSetAside makes one event's decision write content into an outbox
// row that cannot be stored: the kind of input the parser cleans, as if it
// had missed one.
func testSetAside(t *testing.T, content string) {
	f := newFixture(t)
	const room = "!poison:test"
	f.setupRoom(room, alice, bob)
	permitA, permitB := f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil)
	bad := f.request(room, alice, "A", "request", nil)
	after := f.request(room, bob, "B", "request", nil)
	f.d.InjectFault(func(env matrix.Envelope) []matrix.Call {
		if env.EventID != eventID(bad) {
			return nil
		}
		return []matrix.Call{{Kind: matrix.KindMessage, Request: matrix.Request{EventType: "m.room.message", Content: json.RawMessage(content)}}}
	})

	if _, _, err := f.st.SaveTransaction(f.ctx, "poisoned", f.inbox(permitA, permitB, bad, after)); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.d.Decide(f.ctx, room)
	if !store.IsPoisoned(err) {
		t.Fatalf("deciding the poisoned batch: %v, want an error that retrying cannot fix", err)
	}
	if r := f.room(room); len(r.Permits) != 0 {
		t.Fatal("a failed decision must change nothing")
	}

	if _, err := f.d.Room(f.ctx, room); err != nil {
		t.Fatal(err)
	}
	var handled int
	ids := []string{eventID(permitA), eventID(permitB), eventID(bad), eventID(after)}
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT count(*) FROM inbox WHERE event_id = ANY($1) AND processed_at IS NOT NULL`, ids).Scan(&handled); err != nil {
		t.Fatal(err)
	}
	if handled != 4 {
		t.Fatalf("%d events handled, want 4 (3 decided around the bad one, set aside)", handled)
	}
	// alice's request never happened; bob's, after it, got the floor.
	if h := holderOf(f.room(room)); h != bob+"/B" {
		t.Fatalf("holder %q, want bob", h)
	}
	log, err := f.st.FloorLog(f.ctx, room, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var aside []string
	for _, l := range log {
		if l.Action == store.LogSetAside && l.Reason != "" {
			aside = append(aside, l.EventID)
		}
	}
	if len(aside) != 1 || aside[0] != eventID(bad) {
		t.Fatalf("no %s line for %s in the floor log: %+v", store.LogSetAside, eventID(bad), log)
	}
	if pending, _ := f.st.PendingRooms(f.ctx, 10); len(pending) != 0 {
		t.Fatalf("rooms still pending: %v", pending)
	}
}
