package matrix_test

import (
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// The events of a push-to-talk turn as a homeserver delivers them. Every
// event of every transaction goes through ParseEnvelope twice (once when the
// transaction is stored, once when it is decided) and the ones Walkie acts
// on through ParseInput once.
const (
	benchRequest = `{"type":"org.matrix.msc4002.talk_request","event_id":"$req1:example.org",` +
		`"room_id":"!room:example.org","sender":"@alice:example.org","origin_server_ts":1795000000000,` +
		`"content":{"action":"request","device_id":"PHONE"},"unsigned":{"age":12}}`
	benchChunk = `{"type":"m.voice_broadcast_chunk","event_id":"$chunk1:example.org",` +
		`"room_id":"!room:example.org","sender":"@alice:example.org","origin_server_ts":1795000000000,` +
		`"content":{"sequence":3,"m.relates_to":{"rel_type":"m.reference","event_id":"$started:example.org"}},` +
		`"unsigned":{"age":12}}`
)

func BenchmarkParseEnvelope(b *testing.B) {
	raw := []byte(benchChunk)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := matrix.ParseEnvelope(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// benchInput measures ParseInput alone: the envelope is parsed once, outside
// the loop, as the handler has it already.
func benchInput(b *testing.B, raw string, check func(floor.Input) bool) {
	env, err := matrix.ParseEnvelope([]byte(raw))
	if err != nil {
		b.Fatal(err)
	}
	if in, ok := matrix.ParseInput(env); !ok || !check(in) {
		b.Fatalf("ParseInput(%s) = %#v, %v", raw, in, ok)
	}
	b.ReportAllocs()
	for b.Loop() {
		matrix.ParseInput(env)
	}
}

func BenchmarkParseInputRequest(b *testing.B) {
	benchInput(b, benchRequest, func(in floor.Input) bool {
		req, ok := in.(floor.TalkRequest)
		return ok && req.Action == floor.ActionRequest && req.DeviceID == "PHONE" && req.Invalid == ""
	})
}

func BenchmarkParseInputChunk(b *testing.B) {
	benchInput(b, benchChunk, func(in floor.Input) bool {
		c, ok := in.(floor.Chunk)
		return ok && c.BroadcastEventID == "$started:example.org"
	})
}
