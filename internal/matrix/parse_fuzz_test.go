package matrix_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// seedEvents cover every event kind Walkie parses, in every dialect.
var seedEvents = []string{
	`{"type":"org.matrix.msc4002.talk_request","event_id":"$1","room_id":"!r:t","sender":"@a:t","content":{"action":"request","device_id":"A","preempt":true}}`,
	`{"type":"org.matrix.msc4002.talk_request","event_id":"$1","room_id":"!r:t","sender":"@a:t","content":{"action":"revoke","device_id":"A","target":{"user_id":"@b:t","device_id":"B"}}}`,
	`{"type":"org.matrix.msc4002.talk_permit","event_id":"$2","room_id":"!r:t","sender":"@a:t","state_key":"_@a:t_A","content":{"device_id":"A","send":true,"receive":true,"expires_ts":1795000000000}}`,
	`{"type":"org.matrix.msc4002.talk_permit","event_id":"$2","room_id":"!r:t","sender":"@a:t","state_key":"_@a:t_A","content":{}}`,
	`{"type":"m.voice_broadcast_info","event_id":"$3","room_id":"!r:t","sender":"@a:t","state_key":"@a:t","content":{"state":"started","device_id":"A","chunk_length":120,"org.matrix.msc4002.term":3}}`,
	`{"type":"io.element.voice_broadcast_info","event_id":"$4","room_id":"!r:t","sender":"@a:t","state_key":"@a:t","content":{"state":"stopped","last_chunk_sequence":4,"m.relates_to":{"rel_type":"m.reference","event_id":"$3"}}}`,
	`{"type":"org.matrix.msc3888.voice_broadcast_chunk","event_id":"$5","room_id":"!r:t","sender":"@a:t","content":{"m.relates_to":{"rel_type":"m.reference","event_id":"$3"}}}`,
	`{"type":"m.room.message","event_id":"$6","room_id":"!r:t","sender":"@a:t","content":{"msgtype":"m.audio","io.element.voice_broadcast_chunk":{"sequence":1},"m.relates_to":{"rel_type":"m.reference","event_id":"$3"}}}`,
	`{"type":"m.room.encrypted","event_id":"$7","room_id":"!r:t","sender":"@a:t","content":{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"x","m.relates_to":{"rel_type":"m.reference","event_id":"$3"}}}`,
	`{"type":"org.matrix.msc4002.floor_config","event_id":"$8","room_id":"!r:t","sender":"@a:t","state_key":"","content":{"max_talk_ms":20000,"queue":true,"max_queue":"x"}}`,
	`{"type":"m.room.power_levels","event_id":"$9","room_id":"!r:t","sender":"@a:t","state_key":"","content":{"users":{"@a:t":100},"events":{"m.voice_broadcast_info":0}}}`,
	`{"type":"m.room.member","event_id":"$10","room_id":"!r:t","sender":"@a:t","state_key":"@a:t","content":{"membership":"join"}}`,
	`{"type":"org.matrix.msc4002.floor","event_id":"$11","room_id":"!r:t","sender":"@x:t","state_key":"","content":{"term":1}}`,
	`{"type":"m.room.create","event_id":"$17","room_id":"!r:t","sender":"@a:t","state_key":"","content":{"room_version":"12","additional_creators":["@walkie:t"]}}`,
	`{"type":"m.room.power_levels","event_id":"$18","room_id":"!r:t","sender":"@a:t","state_key":"","content":{"users":{"@walkie:t":"100"},"state_default":"50"}}`,
	// NUL, which PostgreSQL stores neither in text nor in jsonb.
	`{"type":"org.matrix.msc4002.talk_request","event_id":"$12","room_id":"!r:t","sender":"@a:t","content":{"action":"request","device_id":"A\u0000"}}`,
	`{"type":"org.matrix.msc4002.talk_permit","event_id":"$13","room_id":"!r:t","sender":"@a:t","state_key":"_@a:t_A","content":{"device_id":"A\u0000","send":true,"receive":true}}`,
	`{"type":"m.voice_broadcast_info","event_id":"$14","room_id":"!r:t","sender":"@a:t","state_key":"@a:t","content":{"state":"started","device_id":"\u0000"}}`,
	// Times Go cannot encode (after year 9999).
	`{"type":"org.matrix.msc4002.talk_permit","event_id":"$15","room_id":"!r:t","sender":"@a:t","state_key":"_@a:t_A","content":{"device_id":"A","send":true,"receive":true,"expires_ts":1000000000000000}}`,
	`{"type":"org.matrix.msc4002.floor","event_id":"$16","room_id":"!r:t","sender":"@walkie:t","state_key":"","origin_server_ts":1000000000000000,"content":{"term":1}}`,
}

// FuzzParseEvent: no input panics the parser or the engine, and whatever
// the parser accepts the engine can decide on.
func FuzzParseEvent(f *testing.F) {
	for _, s := range seedEvents {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := matrix.ParseEnvelope(raw)
		if err != nil {
			return
		}
		in, ok := matrix.ParseInput(env)
		if !ok {
			return
		}
		room := floor.NewRoom("!r:t", "@walkie:t", floor.Config{StartTimeout: time.Second, InactivityTimeout: 2 * time.Second,
			MaxTalk: time.Second, Queue: true, MaxQueue: 2})
		room.Members = map[string]string{"@a:t": "join"}
		room.Managed = true
		d := floor.Decide(room, in, floor.Env{Now: time.Unix(1700000000, 0)})
		for what, v := range map[string]any{"room": d.Room, "effects": d.Effects, "log": d.Log} {
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s not serialisable after %T: %v", what, in, err)
			}
			// What PostgreSQL refuses would wedge the room: every
			// decision of it would fail.
			if bytes.Contains(out, []byte(`\u0000`)) {
				t.Fatalf("%s after %T holds a NUL: %s", what, in, out)
			}
		}
	})
}

// FuzzTransaction: whole transaction bodies through the envelope parser.
func FuzzTransaction(f *testing.F) {
	f.Add([]byte(`{"events":[` + seedEvents[0] + `,` + seedEvents[2] + `]}`))
	f.Add([]byte(`{"events":[{"type":1}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var txn struct {
			Events []json.RawMessage `json:"events"`
		}
		if json.Unmarshal(body, &txn) != nil {
			return
		}
		for _, raw := range txn.Events {
			if env, err := matrix.ParseEnvelope(raw); err == nil {
				if env.EventID == "" || env.RoomID == "" {
					t.Fatal("accepted an event without event_id or room_id")
				}
				matrix.ParseInput(env)
			}
		}
	})
}

func TestParseDialects(t *testing.T) {
	wantChunk := map[int]bool{6: true, 7: true, 8: true}
	for i, s := range seedEvents {
		env, err := matrix.ParseEnvelope([]byte(s))
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		in, ok := matrix.ParseInput(env)
		if !ok {
			t.Fatalf("seed %d not parsed", i)
		}
		if _, isChunk := in.(floor.Chunk); isChunk != wantChunk[i] {
			t.Fatalf("seed %d: chunk=%v, want %v (%T)", i, isChunk, wantChunk[i], in)
		}
	}
	bi, _ := matrix.ParseInput(mustEnv(t, seedEvents[4]))
	if b := bi.(floor.BroadcastInfo); b.Term != 3 || b.ChunkLength != 120*time.Second || b.DeviceID != "A" || b.Invalid != "" {
		t.Fatalf("broadcast info parsed as %+v", b)
	}
	pc, _ := matrix.ParseInput(mustEnv(t, seedEvents[3]))
	if !pc.(floor.PermitChange).Empty {
		t.Fatal("empty permit content must revoke")
	}
	bad, _ := matrix.ParseInput(mustEnv(t, `{"type":"org.matrix.msc4002.talk_request","event_id":"$1","room_id":"!r:t","sender":"@a:t","content":{"action":5}}`))
	if bad.(floor.TalkRequest).Invalid == "" {
		t.Fatal("a request with a wrong field type must be marked invalid (bad_request)")
	}
}

func mustEnv(t *testing.T, s string) matrix.Envelope {
	t.Helper()
	env, err := matrix.ParseEnvelope([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return env
}
