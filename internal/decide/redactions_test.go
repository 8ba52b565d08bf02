package decide_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// redaction is an m.room.redaction of target by sender, as the homeserver
// pushes it: before room version 11 the target is the top-level
// `redacts`, from 11 on content.redacts.
func (f *fixture) redaction(room, sender, target string, v11 bool) json.RawMessage {
	if v11 {
		return f.ev(room, sender, "m.room.redaction", nil, map[string]any{"redacts": target})
	}
	var m map[string]any
	_ = json.Unmarshal(f.ev(room, sender, "m.room.redaction", nil, map[string]any{"reason": "oops"}), &m)
	m["redacts"] = target
	b, _ := json.Marshal(m)
	return b
}

// A redacted `started` ends its turn as `stopped` would, and a redacted
// permit revokes it: the next holder, granted on the first redaction,
// loses the floor to the second. Walkie's own redactions, echoed back,
// change nothing.
func TestRedactedStartedAndPermitEndTheTurn(t *testing.T) {
	for _, v11 := range []bool{false, true} {
		name := map[bool]string{false: "top-level redacts", true: "content.redacts"}[v11]
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			const room = "!redact:test"
			f.setupRoom(room, alice, bob)
			bobsPermit := f.permit(room, bob, "B", nil)
			f.deliver(f.permit(room, alice, "A", nil), bobsPermit)
			started := f.broadcast(room, alice, "A", "started", "", nil)
			f.deliver(started, f.request(room, bob, "B", "request", nil))
			if r := f.room(room); holderOf(r) != alice+"/A" || len(r.Queue) != 1 {
				t.Fatalf("holder %q queue %+v", holderOf(r), r.Queue)
			}

			since := f.lastID(room)
			f.deliver(f.redaction(room, bot, eventID(started), v11))
			if r := f.room(room); holderOf(r) != alice+"/A" || f.lastID(room) != since {
				t.Fatalf("Walkie's own echoed redaction moved the floor: holder %q, rows %d -> %d", holderOf(r), since, f.lastID(room))
			}

			f.deliver(f.redaction(room, alice, eventID(started), v11))
			r := f.room(room)
			if holderOf(r) != bob+"/B" || r.Term != 2 {
				t.Fatalf("after alice's started was redacted: holder %q term %d, want bob at term 2", holderOf(r), r.Term)
			}
			resps := f.responses(room, since)
			expectResponse(t, resps, 0, floor.StatusGranted, "")
			if len(resps) != 1 {
				t.Fatalf("a stop is not answered; want bob's grant only, got %+v", resps)
			}

			since = f.lastID(room)
			f.deliver(f.redaction(room, bob, eventID(bobsPermit), v11))
			if r := f.room(room); r.Holder != nil {
				t.Fatalf("bob holds the floor with a redacted permit")
			}
			resps = f.responses(room, since)
			expectResponse(t, resps, 0, floor.StatusRevoked, floor.ReasonPermitGone)
			deny := f.request(room, bob, "B", "request", nil)
			f.deliver(deny)
			expectResponse(t, f.responses(room, since), 1, floor.StatusDenied, floor.ReasonNoPermit)
		})
	}
}

// A redacted floor_config restores the defaults; a reload afterwards,
// whose /state holds the redacted (empty) config and permit, agrees.
func TestRedactedConfigRestoresDefaultsAndReloadAgrees(t *testing.T) {
	f := newFixture(t)
	const room = "!config:test"
	f.setupRoom(room, alice)
	alicesPermit := f.permit(room, alice, "A", nil)
	cfg := f.ev(room, admin, floor.TypeFloorConfig, sk(""), map[string]any{"max_talk_ms": 600000})
	f.deliver(alicesPermit, cfg)
	if got := f.room(room).Config.MaxTalk; got != 10*time.Minute {
		t.Fatalf("max_talk %v after the config", got)
	}
	f.deliver(f.redaction(room, admin, eventID(cfg), true), f.redaction(room, alice, eventID(alicesPermit), false))
	r := f.room(room)
	if r.Config.MaxTalk != testDefaults.MaxTalk || len(r.Overrides) != 0 {
		t.Fatalf("max_talk %v overrides %v after the redaction, want the default %v", r.Config.MaxTalk, r.Overrides, testDefaults.MaxTalk)
	}
	if len(r.Permits) != 0 {
		t.Fatalf("permits %+v after the redaction", r.Permits)
	}

	// /state after both redactions: same events, content stripped.
	state := f.roomState(room, alice)
	for _, ev := range []json.RawMessage{cfg, alicesPermit} {
		var m map[string]any
		_ = json.Unmarshal(ev, &m)
		m["content"] = map[string]any{}
		b, _ := json.Marshal(m)
		state = append(state, b)
	}
	f.reload(room, state...)
	r = f.room(room)
	if r.Config.MaxTalk != testDefaults.MaxTalk || len(r.Permits) != 0 {
		t.Fatalf("after the reload: max_talk %v permits %+v", r.Config.MaxTalk, r.Permits)
	}
}
