// Package matrix is Walkie's Matrix codec, and nothing more: raw client-
// server events in, floor-engine inputs out (ParseEnvelope, ParseInput,
// Snapshot, Membership, Command); engine effects in, outbound Matrix calls
// out (Render). It holds no store, no HTTP server and no client: the
// decision package uses it inside a decision, the outbox sends the calls.
package matrix

import (
	"reflect"

	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Walkie's event types. Custom state types need Class: StateEventType
// explicitly: mautrix cannot guess it for unknown names.
var (
	TypePermit      = event.Type{Type: floor.TypePermit, Class: event.StateEventType}
	TypeFloor       = event.Type{Type: floor.TypeFloor, Class: event.StateEventType}
	TypeFloorConfig = event.Type{Type: floor.TypeFloorConfig, Class: event.StateEventType}
	TypeRequest     = event.Type{Type: floor.TypeRequest, Class: event.MessageEventType}
	TypeResponse    = event.Type{Type: floor.TypeResponse, Class: event.MessageEventType}

	TypeBroadcastInfo        = event.Type{Type: floor.TypeBroadcastInfo, Class: event.StateEventType}
	TypeBroadcastInfoMSC3888 = event.Type{Type: floor.TypeBroadcastInfoMSC3888, Class: event.StateEventType}
	TypeBroadcastInfoElement = event.Type{Type: floor.TypeBroadcastInfoElement, Class: event.StateEventType}

	TypeChunk        = event.Type{Type: "m.voice_broadcast_chunk", Class: event.MessageEventType}
	TypeChunkMSC3888 = event.Type{Type: "org.matrix.msc3888.voice_broadcast_chunk", Class: event.MessageEventType}
)

// elementChunkKey marks an m.room.message as a voice broadcast chunk in
// Element's dialect.
const elementChunkKey = "io.element.voice_broadcast_chunk"

func init() {
	event.TypeMap[TypePermit] = reflect.TypeOf(PermitContent{})
	event.TypeMap[TypeFloor] = reflect.TypeOf(floor.FloorState{})
	event.TypeMap[TypeFloorConfig] = reflect.TypeOf(map[string]any{})
	event.TypeMap[TypeRequest] = reflect.TypeOf(RequestContent{})
	event.TypeMap[TypeResponse] = reflect.TypeOf(ResponseContent{})
	for _, t := range []event.Type{TypeBroadcastInfo, TypeBroadcastInfoMSC3888, TypeBroadcastInfoElement} {
		event.TypeMap[t] = reflect.TypeOf(BroadcastInfoContent{})
	}
	for _, t := range []event.Type{TypeChunk, TypeChunkMSC3888} {
		event.TypeMap[t] = reflect.TypeOf(ChunkContent{})
	}
}

// PermitContent is org.matrix.msc4002.talk_permit. Pointers tell absent
// from false.
type PermitContent struct {
	DeviceID  string `json:"device_id"`
	Send      *bool  `json:"send,omitempty"`
	Receive   *bool  `json:"receive,omitempty"`
	ExpiresTS *int64 `json:"expires_ts,omitempty"`
}

// RequestContent is org.matrix.msc4002.talk_request.
type RequestContent struct {
	Action   string        `json:"action"`
	DeviceID string        `json:"device_id"`
	Priority int           `json:"priority,omitempty"`
	Preempt  bool          `json:"preempt,omitempty"`
	Target   *floor.Device `json:"target,omitempty"`
	// Term is the turn a release or revoke means (0: the current one).
	Term int64 `json:"term,omitempty"`
}

// ResponseContent is org.matrix.msc4002.talk_response.
type ResponseContent struct {
	floor.Response
	RelatesTo *event.RelatesTo `json:"m.relates_to,omitempty"`
}

// BroadcastInfoContent is voice_broadcast_info in all three dialects.
type BroadcastInfoContent struct {
	State       string           `json:"state"`
	DeviceID    string           `json:"device_id,omitempty"`
	ChunkLength float64          `json:"chunk_length,omitempty"`
	LastChunk   int              `json:"last_chunk_sequence,omitempty"`
	Term        *int64           `json:"org.matrix.msc4002.term,omitempty"`
	RelatesTo   *event.RelatesTo `json:"m.relates_to,omitempty"`
}

// ChunkContent is what Walkie reads of any chunk: its reference to the
// broadcast. In encrypted rooms m.relates_to stays plaintext.
type ChunkContent struct {
	RelatesTo *event.RelatesTo `json:"m.relates_to,omitempty"`
}
