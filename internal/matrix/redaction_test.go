package matrix_test

import (
	"encoding/json"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// redactionEvent is an m.room.redaction with the given top-level redacts
// ("" leaves it out) and content.
func redactionEvent(t *testing.T, topLevel, content string) matrix.Envelope {
	t.Helper()
	m := map[string]any{"type": "m.room.redaction", "event_id": "$red", "room_id": "!r:t", "sender": "@a:t",
		"origin_server_ts": 1, "content": json.RawMessage(content)}
	if topLevel != "" {
		m["redacts"] = topLevel
	}
	b, _ := json.Marshal(m)
	env, err := matrix.ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// The redacted event is named at the top level before room version 11
// and in the content from 11 on; Walkie reads either.
func TestRedactionNamesItsEventInEitherPlace(t *testing.T) {
	for _, tc := range []struct {
		name, topLevel, content string
		redacts                 string
		invalid                 bool
	}{
		{"room versions 1-10: top level", "$x", `{"reason":"oops"}`, "$x", false},
		{"room version 11: content", "", `{"redacts":"$x"}`, "$x", false},
		{"both, as Synapse serves them", "$x", `{"redacts":"$x"}`, "$x", false},
		// Before v11 content is free-form: a junk content.redacts beside a
		// top-level one is not the sender's choice of event.
		{"top level with a mistyped content field", "$x", `{"redacts":7}`, "$x", false},
		{"both, naming different events", "$x", `{"redacts":"$y"}`, "", true},
		{"content field mistyped, no top level", "", `{"redacts":7}`, "", true},
		{"neither", "", `{}`, "", true},
		{"content not an object", "", `[]`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, ok := matrix.ParseInput(redactionEvent(t, tc.topLevel, tc.content))
			rd, isRedaction := in.(floor.Redaction)
			if !ok || !isRedaction {
				t.Fatalf("parsed as %#v", in)
			}
			if rd.EventID != "$red" || rd.Sender != "@a:t" || rd.Redacts != tc.redacts || (rd.Invalid != "") != tc.invalid {
				t.Errorf("got %+v, want redacts %q, invalid %v", rd, tc.redacts, tc.invalid)
			}
		})
	}
}

// A redacted state event keeps its event ID and loses its content: in
// /state a redacted permit reads as a withdrawn one and a redacted
// floor_config as none, so a reload agrees with the live redaction.
func TestRedactedStateReloadsAsWithdrawn(t *testing.T) {
	events := []json.RawMessage{
		raw(t, floor.TypePermit, "@b:t", "_@b:t_B", `{}`, 1),
		raw(t, floor.TypeFloorConfig, "@admin:t", "", `{}`, 2),
	}
	snap, _ := matrix.Snapshot("!r:t", events)
	if len(snap.Permits) != 1 || !snap.Permits[0].Empty || snap.Permits[0].EventID != "$ev1" {
		t.Errorf("permits %+v, want one empty permit $ev1", snap.Permits)
	}
	if snap.Config == nil || len(snap.Config.Values) != 0 || snap.Config.EventID != "$ev2" {
		t.Errorf("config %+v, want an empty config $ev2", snap.Config)
	}
}

// A state event of the redaction type is not a redaction.
func TestRedactionStateEventIsIgnored(t *testing.T) {
	if in, ok := matrix.ParseInput(envelope(t, "m.room.redaction", "@a:t", "", `{"redacts":"$x"}`, 1)); ok {
		t.Errorf("parsed as %#v", in)
	}
}
