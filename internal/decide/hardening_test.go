package decide_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// store saves events as the appservice endpoint does when deciding fails
// or the backlog is long: acknowledged, left for a later decision.
func (f *fixture) store(events ...json.RawMessage) {
	f.t.Helper()
	if _, _, err := f.st.SaveTransaction(f.ctx, fmt.Sprintf("txn%d", f.seq.Add(1)), f.inbox(events...)); err != nil {
		f.t.Fatal(err)
	}
}

// sentAt gives a raw event an origin_server_ts.
func sentAt(raw json.RawMessage, at time.Time) json.RawMessage {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["origin_server_ts"] = at.UnixMilli()
	b, _ := json.Marshal(m)
	return b
}

// Chunks that reached Walkie (or were sent) while alice talked keep her
// turn, however late they are decided: inactivity_timeout (10 s) is long
// overdue at the decision, but it never ran out between her chunks.
func TestChunksDecidedLateKeepTheTurn(t *testing.T) {
	for _, tc := range []struct {
		name string
		// deliver hands the chunks to Walkie, sent at the given offsets
		// from the start, and advances the clock to 25 s.
		deliver func(f *fixture, room string, chunk func(sent time.Duration) json.RawMessage)
	}{
		{"backlog: received in time, decided late", func(f *fixture, room string, chunk func(time.Duration) json.RawMessage) {
			f.st.AdvanceClock(8 * time.Second)
			f.store(chunk(0))
			f.st.AdvanceClock(8 * time.Second)
			f.store(chunk(0))
			f.st.AdvanceClock(9 * time.Second)
		}},
		{"restart: sent in time, received late", func(f *fixture, room string, chunk func(time.Duration) json.RawMessage) {
			f.st.AdvanceClock(25 * time.Second)
			f.store(chunk(8*time.Second), chunk(16*time.Second))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			const room = "!late:test"
			f.setupRoom(room, alice)
			f.deliver(f.permit(room, alice, "A", nil))
			started := f.broadcast(room, alice, "A", "started", "", nil)
			f.deliver(started)
			start := f.room(room).Clock
			tc.deliver(f, room, func(sent time.Duration) json.RawMessage {
				raw := f.chunk(room, alice, "m.voice_broadcast_chunk", eventID(started))
				if sent == 0 {
					return raw // no timestamp: dated by its arrival
				}
				return sentAt(raw, start.Add(sent))
			})
			since := f.lastID(room)
			if _, _, err := f.d.Decide(f.ctx, room); err != nil {
				t.Fatal(err)
			}
			if r := f.room(room); holderOf(r) != alice+"/A" {
				t.Fatalf("alice lost the floor to a decision made late: holder %q, responses %+v", holderOf(r), f.responses(room, since))
			}
			if red := f.redactions(room, since); len(red) != 0 {
				t.Fatalf("chunks redacted: %v", red)
			}
			// And the turn ends when her chunks stop: 10 s after the last.
			f.tick(room, 2*time.Second)
			if r := f.room(room); r.Holder != nil {
				t.Fatalf("alice still holds the floor 11 s after her last chunk")
			}
			expectResponse(t, f.responses(room, since), 0, floor.StatusRevoked, floor.ReasonInactive)
		})
	}
}

// A `started` that cannot be a valid grant is refused like any other:
// redacted, answered with what was wrong, and remembered, so that its
// chunks, encrypted ones included, are redacted too. Logged only, it
// would leave two people audible at once in an encrypted room.
func TestMalformedStartsAndTheirEncryptedChunksAreRedacted(t *testing.T) {
	f := newFixture(t)
	const room = "!e2ee:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	f.deliver(f.broadcast(room, alice, "A", "started", "", nil))
	since := f.lastID(room)

	noDevice := f.ev(room, bob, floor.TypeBroadcastInfo, sk(bob), map[string]any{"state": "started"})
	stringLength := f.broadcast(room, bob, "B", "started", "", map[string]any{"chunk_length": "30"})
	floatTerm := f.broadcast(room, bob, "B", "started", "", map[string]any{floor.TermKey: 1.5})
	wrongKey := f.ev(room, bob, floor.TypeBroadcastInfo, sk(alice), map[string]any{"state": "started", "device_id": "B"})
	starts := []json.RawMessage{noDevice, stringLength, floatTerm, wrongKey}
	f.deliver(starts...)
	var chunks []json.RawMessage
	for _, s := range starts {
		chunks = append(chunks, f.chunk(room, bob, "m.room.encrypted", eventID(s)))
	}
	f.deliver(chunks...)

	red := f.redactions(room, since)
	for i, ev := range append(starts, chunks...) {
		if red[eventID(ev)] == "" {
			t.Errorf("event %d (%s) not redacted; redactions %v", i, eventID(ev), red)
		}
	}
	resps := f.responses(room, since)
	if len(resps) != len(starts) {
		t.Fatalf("want one answer per refused start, got %+v", resps)
	}
	for i, want := range []string{"device_id", "chunk_length", floor.TermKey, "state_key"} {
		expectResponse(t, resps, i, floor.StatusDenied, floor.ReasonBadRequest)
		if !strings.Contains(resps[i].Error, want) || resps[i].RelatesTo == nil || resps[i].RelatesTo.EventID.String() != eventID(starts[i]) {
			t.Errorf("answer %d: %+v, want an error naming %s and a reference to the start", i, resps[i], want)
		}
	}
	if resps[0].Device == nil || resps[0].Device.DeviceID != "" {
		t.Errorf("the answer to a start without device_id names device %+v", resps[0].Device)
	}
	if r := f.room(room); holderOf(r) != alice+"/A" {
		t.Fatalf("holder %q", holderOf(r))
	}
}

// `!walkie release` releases the turn the moderator saw. alice's
// start_timeout is overdue when the command is decided: it fires first and
// hands the floor to bob, whose turn the command must not end.
func TestWalkieReleaseSparesTheNextHolder(t *testing.T) {
	f := newFixture(t)
	const room = "!release:test"
	f.setupRoom(room, alice, bob)
	f.deliver(f.permit(room, alice, "A", nil), f.permit(room, bob, "B", nil))
	f.deliver(f.request(room, alice, "A", "request", nil), f.request(room, bob, "B", "request", nil))
	since := f.lastID(room)
	f.st.AdvanceClock(testDefaults.StartTimeout + time.Second)
	f.deliver(f.ev(room, admin, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie release"}))
	r := f.room(room)
	if holderOf(r) != bob+"/B" || r.Term != 2 {
		t.Fatalf("holder %q term %d, want bob at term 2", holderOf(r), r.Term)
	}
	resps := f.responses(room, since)
	expectResponse(t, resps, 0, floor.StatusRevoked, floor.ReasonNoMedia)
	expectResponse(t, resps, 1, floor.StatusGranted, "")
	if len(resps) != 2 {
		t.Fatalf("want alice's no_media and bob's grant only, got %+v", resps)
	}
}
