package store_test

import (
	"math"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
)

// poisoner is the real Matrix handler, except that one event's decision
// writes a NUL into jsonb, which PostgreSQL refuses: the kind of input the
// parser cleans, as if it had missed one.
type poisoner struct {
	store.Handler
	poison  string // event ID
	payload any    // what its decision writes
}

func (p poisoner) Translate(room *floor.Room, ev store.InboxEvent) store.Translation {
	tr := p.Handler.Translate(room, ev)
	if ev.EventID == p.poison {
		tr.Actions = append(tr.Actions, store.Action{Kind: "message", Payload: p.payload})
	}
	return tr
}

func TestAnUnstorableEventIsSetAsideAndTheRoomGoesOn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload any
	}{
		{"refused by PostgreSQL (NUL in jsonb)", map[string]string{"body": "\x00"}},
		{"not encodable as JSON", map[string]float64{"n": math.Inf(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) { testSetAside(t, tc.payload) })
	}
}

func testSetAside(t *testing.T, payload any) {
	f := newFixture(t)
	const room = "!poison:test"
	f.setupRoom(room, alice, bob)
	permitA, permitB := f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil)
	bad := f.request(room, alice, "A", "request", nil)
	after := f.request(room, bob, "B", "request", nil)
	h := poisoner{Handler: f.h, poison: eventID(bad), payload: payload}

	if _, _, err := f.st.SaveTransaction(f.ctx, "poisoned", f.inbox(permitA, permitB, bad, after)); err != nil {
		t.Fatal(err)
	}
	_, err := f.st.Process(f.ctx, room, h)
	if !store.IsPoisoned(err) {
		t.Fatalf("deciding the poisoned batch: %v, want an error that retrying cannot fix", err)
	}
	if r := f.room(room); len(r.Permits) != 0 {
		t.Fatal("a failed decision must change nothing")
	}

	outs, aside, err := f.st.ProcessSettingAside(f.ctx, room, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(aside) != 1 || aside[0] != eventID(bad) {
		t.Fatalf("set aside %v, want only %s", aside, eventID(bad))
	}
	decided := 0
	for _, o := range outs {
		decided += len(o.Events)
	}
	if decided != 3 {
		t.Fatalf("%d events decided around the bad one, want 3", decided)
	}
	// alice's request never happened; bob's, after it, got the floor.
	if h := holderOf(f.room(room)); h != bob+"/B" {
		t.Fatalf("holder %q, want bob", h)
	}
	log, err := f.st.FloorLog(f.ctx, room, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range log {
		if l.Action == store.LogSetAside && l.EventID == eventID(bad) && l.Reason != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no %s line for %s in the floor log: %+v", store.LogSetAside, eventID(bad), log)
	}
	if pending, _ := f.st.PendingRooms(f.ctx, 10); len(pending) != 0 {
		t.Fatalf("rooms still pending: %v", pending)
	}
}
