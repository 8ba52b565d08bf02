package matrix_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// stateEvent is a raw state event from @a:t with the given content.
func stateEvent(typ, stateKey, content string) string {
	return fmt.Sprintf(`{"type":%q,"event_id":"$s","room_id":"!r:t","sender":"@a:t","state_key":%q,"content":%s}`, typ, stateKey, content)
}

func parseBroadcast(t *testing.T, stateKey, content string) floor.BroadcastInfo {
	t.Helper()
	in, ok := matrix.ParseInput(mustEnv(t, stateEvent(floor.TypeBroadcastInfo, stateKey, content)))
	if !ok {
		t.Fatalf("%s not parsed", content)
	}
	return in.(floor.BroadcastInfo)
}

var oversizedID = strings.Repeat("D", 256)

// A `started` is read field by field: a mistyped field makes it invalid
// (the engine refuses it, bad_request) but never hides that it is a start.
func TestStartedIsReadFieldByField(t *testing.T) {
	cases := []struct {
		name, stateKey, content string
		device                  string
		invalid                 string // a substring; "" means valid
	}{
		{"valid", "@a:t", `{"state":"started","device_id":"A","chunk_length":30,"org.matrix.msc4002.term":3}`, "A", ""},
		{"string chunk_length", "@a:t", `{"state":"started","device_id":"A","chunk_length":"30"}`, "A", "chunk_length"},
		{"float term", "@a:t", `{"state":"started","device_id":"A","org.matrix.msc4002.term":2.5}`, "A", "org.matrix.msc4002.term"},
		{"negative term", "@a:t", `{"state":"started","device_id":"A","org.matrix.msc4002.term":-1}`, "A", "org.matrix.msc4002.term"},
		{"state key not the sender", "@b:t", `{"state":"started","device_id":"A"}`, "A", "state_key"},
		{"device_id not a string", "@a:t", `{"state":"started","device_id":7}`, "", "device_id"},
		{"device_id over 255 bytes", "@a:t", `{"state":"started","device_id":"` + oversizedID + `"}`, "", "255 bytes"},
		{"no device_id: the engine refuses it", "@a:t", `{"state":"started"}`, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bi := parseBroadcast(t, tc.stateKey, tc.content)
			if bi.State != floor.BroadcastStarted || bi.DeviceID != tc.device {
				t.Fatalf("state %q device %q, want a start from device %q", bi.State, bi.DeviceID, tc.device)
			}
			if (tc.invalid == "") != (bi.Invalid == "") || !strings.Contains(bi.Invalid, tc.invalid) {
				t.Fatalf("invalid %q, want %q", bi.Invalid, tc.invalid)
			}
		})
	}
}

// Updates are invalid only for fields they use; chunk_length is the
// engine's to bound, the codec only keeps it finite.
func TestBroadcastUpdatesAndChunkLength(t *testing.T) {
	stopped := parseBroadcast(t, "@a:t", `{"state":"stopped","chunk_length":"x","m.relates_to":{"rel_type":"m.reference","event_id":"$st"}}`)
	if stopped.Invalid != "" || stopped.StartedEventID != "$st" {
		t.Fatalf("a stop with an unused mistyped field: %+v", stopped)
	}
	if bad := parseBroadcast(t, "@a:t", `{"state":"paused","m.relates_to":"$st"}`); bad.Invalid == "" {
		t.Fatal("an update with a mistyped reference must be invalid")
	}
	for content, want := range map[string]time.Duration{
		`{"state":"started","device_id":"A","chunk_length":1e300}`: time.Hour,
		`{"state":"started","device_id":"A","chunk_length":-5}`:    0,
		`{"state":"started","device_id":"A","chunk_length":2.5}`:   2500 * time.Millisecond,
	} {
		if bi := parseBroadcast(t, "@a:t", content); bi.ChunkLength != want || bi.Invalid != "" {
			t.Errorf("%s: chunk length %v (invalid %q), want %v", content, bi.ChunkLength, bi.Invalid, want)
		}
	}
}

func parseRequest(t *testing.T, content string) floor.TalkRequest {
	t.Helper()
	raw := fmt.Sprintf(`{"type":%q,"event_id":"$q","room_id":"!r:t","sender":"@a:t","content":%s}`, floor.TypeRequest, content)
	in, ok := matrix.ParseInput(mustEnv(t, raw))
	if !ok {
		t.Fatalf("%s not parsed", content)
	}
	return in.(floor.TalkRequest)
}

func TestRequestFields(t *testing.T) {
	cases := []struct {
		content string
		device  string
		term    int64
		invalid string
	}{
		{`{"action":"release","device_id":"A","term":4}`, "A", 4, ""},
		{`{"action":"release","device_id":"A","term":4.5}`, "A", 0, "term"},
		{`{"action":"release","device_id":"A","term":"4"}`, "A", 0, "term"},
		// A mistyped field does not cost the answer its device.
		{`{"action":"request","device_id":"A","priority":"high"}`, "A", 0, "priority"},
		{`{"action":"request"}`, "", 0, "missing device_id"},
		{`{"device_id":"A"}`, "A", 0, "missing action"},
		{`{"action":"request","device_id":"` + oversizedID + `"}`, "", 0, "255 bytes"},
		{`{"action":"revoke","device_id":"A","target":{"user_id":"@b:t","device_id":"` + oversizedID + `"}}`, "A", 0, "target"},
		{`{"action":"revoke","device_id":"A","target":"@b:t"}`, "A", 0, "target"},
	}
	for _, tc := range cases {
		req := parseRequest(t, tc.content)
		if req.DeviceID != tc.device || req.Term != tc.term || (tc.invalid == "") != (req.Invalid == "") || !strings.Contains(req.Invalid, tc.invalid) {
			t.Errorf("%s: device %q term %d invalid %q; want %q, %d, %q", tc.content, req.DeviceID, req.Term, req.Invalid, tc.device, tc.term, tc.invalid)
		}
	}
	revoke := parseRequest(t, `{"action":"revoke","device_id":"A","target":{"user_id":"@b:t","device_id":"B"}}`)
	if revoke.Target == nil || *revoke.Target != (floor.Device{UserID: "@b:t", DeviceID: "B"}) || revoke.Invalid != "" {
		t.Errorf("revoke target %+v (invalid %q)", revoke.Target, revoke.Invalid)
	}
}

func TestPermitDeviceIDIsBounded(t *testing.T) {
	raw := stateEvent(floor.TypePermit, "_@a:t_"+oversizedID, `{"device_id":"`+oversizedID+`","send":true,"receive":true}`)
	in, _ := matrix.ParseInput(mustEnv(t, raw))
	if pc := in.(floor.PermitChange); pc.Invalid == "" || pc.DeviceID != "" {
		t.Fatalf("a permit with a 256-byte device_id: %+v", pc)
	}
}

// A denial says what was wrong, and one to a request that named no device
// carries no device_id (none could match it) but still references the
// request.
func TestDenialResponseContent(t *testing.T) {
	call, ok := matrix.Render(floor.Effect{Kind: floor.EffectResponse, Response: &floor.Response{
		Status: floor.StatusDenied, Reason: floor.ReasonBadRequest, Error: "missing device_id",
		InReplyTo: "$q", Device: &floor.Addressee{UserID: "@a:t"},
	}})
	if !ok {
		t.Fatal("not rendered")
	}
	var content map[string]any
	if err := json.Unmarshal(call.Request.Content, &content); err != nil {
		t.Fatal(err)
	}
	device, _ := content["device"].(map[string]any)
	relates, _ := content["m.relates_to"].(map[string]any)
	if _, has := device["device_id"]; has || device["user_id"] != "@a:t" || content["error"] != "missing device_id" ||
		relates["event_id"] != "$q" || relates["rel_type"] != "m.reference" {
		t.Fatalf("response content %s", call.Request.Content)
	}
}

// Room setup is a call of its own, carrying no levels: the outbox reads
// the latest power levels when it sends it (issue 11, item 17).
func TestRoomSetupRendersAsItsOwnCall(t *testing.T) {
	call, ok := matrix.Render(floor.Effect{Kind: floor.EffectSetupPowerLevels})
	if !ok || call.Kind != matrix.KindSetupPowerLevels || call.Request.Content != nil {
		t.Fatalf("rendered %+v, %v", call, ok)
	}
}

func TestSentAt(t *testing.T) {
	env := mustEnv(t, `{"type":"m.room.message","event_id":"$1","room_id":"!r:t","sender":"@a:t","origin_server_ts":1795000000000,"content":{}}`)
	if got := matrix.SentAt(env); !got.Equal(time.UnixMilli(1795000000000)) {
		t.Fatalf("SentAt %v", got)
	}
	for _, ts := range []int64{0, -1, 1000000000000000} {
		if got := matrix.SentAt(matrix.Envelope{Timestamp: ts}); !got.IsZero() {
			t.Errorf("SentAt(%d) = %v, want zero", ts, got)
		}
	}
}
