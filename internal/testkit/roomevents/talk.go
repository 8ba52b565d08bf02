package roomevents

import (
	"encoding/json"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Request is an explicit talk_request: action request, release or cancel.
func (b *Builder) Request(roomID string, d floor.Device, action string) (json.RawMessage, string) {
	return b.Event(roomID, d.UserID, floor.TypeRequest, nil, map[string]any{"action": action, "device_id": d.DeviceID})
}

// Started begins a voice broadcast of a client that does not fence it with
// a term; chunks and Stopped refer to the returned ID.
func (b *Builder) Started(roomID string, d floor.Device) (json.RawMessage, string) {
	return b.Event(roomID, d.UserID, floor.TypeBroadcastInfo, StateKey(d.UserID), b.startedContent(d))
}

// StartedInTerm begins a broadcast fenced with the term of the grant it
// starts on, as a client does once it has seen that grant.
func (b *Builder) StartedInTerm(roomID string, d floor.Device, term int64) (json.RawMessage, string) {
	content := b.startedContent(d)
	content[floor.TermKey] = term
	return b.Event(roomID, d.UserID, floor.TypeBroadcastInfo, StateKey(d.UserID), content)
}

func (b *Builder) startedContent(d floor.Device) map[string]any {
	return map[string]any{"state": floor.BroadcastStarted, "device_id": d.DeviceID, "chunk_length": b.ChunkLength}
}

// Chunk is voice broadcast chunk number sequence of broadcast startedID.
func (b *Builder) Chunk(roomID string, d floor.Device, startedID string, sequence int) json.RawMessage {
	raw, _ := b.Event(roomID, d.UserID, "m.voice_broadcast_chunk", nil, map[string]any{
		"sequence": sequence, "m.relates_to": reference(startedID),
	})
	return raw
}

// Stopped ends broadcast startedID after its chunk number lastChunk, which
// releases the floor.
func (b *Builder) Stopped(roomID string, d floor.Device, startedID string, lastChunk int) json.RawMessage {
	raw, _ := b.Event(roomID, d.UserID, floor.TypeBroadcastInfo, StateKey(d.UserID), map[string]any{
		"state": floor.BroadcastStopped, "device_id": d.DeviceID, "last_chunk_sequence": lastChunk,
		"m.relates_to": reference(startedID),
	})
	return raw
}

func reference(eventID string) map[string]string {
	return map[string]string{"rel_type": "m.reference", "event_id": eventID}
}
