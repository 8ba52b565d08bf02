package bench

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Domain is the server name of every benchmark user and room.
const Domain = "bench.invalid"

// chunkLength is the declared chunk length of benchmark broadcasts, in
// seconds (it only matters for the inactivity timeout).
const chunkLength = 5

// clientEvent is an event as the homeserver pushes it to an appservice.
type clientEvent struct {
	Type           string  `json:"type"`
	EventID        string  `json:"event_id"`
	RoomID         string  `json:"room_id"`
	Sender         string  `json:"sender"`
	OriginServerTS int64   `json:"origin_server_ts"`
	StateKey       *string `json:"state_key,omitempty"`
	Content        any     `json:"content"`
}

type relation struct {
	RelType string `json:"rel_type"`
	EventID string `json:"event_id"`
}

// eventFactory makes events with IDs unique within one benchmark run.
type eventFactory struct{ seq atomic.Int64 }

// make builds one raw event; stateKey nil makes a timeline event.
func (f *eventFactory) make(roomID, sender, typ string, stateKey *string, content any) (json.RawMessage, string) {
	id := "$bench" + strconv.FormatInt(f.seq.Add(1), 10)
	raw, err := json.Marshal(clientEvent{Type: typ, EventID: id, RoomID: roomID, Sender: sender,
		OriginServerTS: time.Now().UnixMilli(), StateKey: stateKey, Content: content})
	if err != nil {
		panic("bench: marshal event: " + err.Error()) // only our own types: cannot happen
	}
	return raw, id
}

func stateKey(s string) *string { return &s }

// setupEvents is the state of a fresh benchmark room, in the order a
// homeserver would deliver it: its creator joins and sets power levels
// (Walkie's room setup already applied), the bot joins, and every member
// joins and publishes a talk permit for its one device.
func (f *eventFactory) setupEvents(roomID, creator, bot string, members []floor.Device) []json.RawMessage {
	users := map[string]int{creator: 100, bot: 100}
	levels := map[string]any{
		"users": users, "users_default": 0, "events_default": 0, "state_default": 50, "redact": 50,
		"events": map[string]int{
			floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeBroadcastInfoMSC3888: 0,
			floor.TypeBroadcastInfoElement: 0, floor.TypeFloor: 100,
		},
	}
	join := map[string]string{"membership": "join"}
	var events []json.RawMessage
	add := func(raw json.RawMessage, _ string) { events = append(events, raw) }
	add(f.make(roomID, creator, "m.room.member", stateKey(creator), join))
	add(f.make(roomID, creator, "m.room.power_levels", stateKey(""), levels))
	add(f.make(roomID, bot, "m.room.member", stateKey(bot), join))
	for _, d := range members {
		add(f.make(roomID, d.UserID, "m.room.member", stateKey(d.UserID), join))
	}
	for _, d := range members {
		add(f.make(roomID, d.UserID, floor.TypePermit, stateKey(d.PermitStateKey()),
			map[string]any{"device_id": d.DeviceID, "send": true, "receive": true}))
	}
	return events
}

// talkRequest is an explicit floor request.
func (f *eventFactory) talkRequest(roomID string, d floor.Device) json.RawMessage {
	raw, _ := f.make(roomID, d.UserID, floor.TypeRequest, nil,
		map[string]any{"action": floor.ActionRequest, "device_id": d.DeviceID})
	return raw
}

// started begins a broadcast on the grant of term; it returns the event ID
// that chunks and `stopped` refer to.
func (f *eventFactory) started(roomID string, d floor.Device, term int64) (json.RawMessage, string) {
	return f.make(roomID, d.UserID, floor.TypeBroadcastInfo, stateKey(d.UserID), map[string]any{
		"state": floor.BroadcastStarted, "device_id": d.DeviceID, "chunk_length": chunkLength, floor.TermKey: term,
	})
}

// chunk is one voice broadcast chunk of broadcast startedID.
func (f *eventFactory) chunk(roomID string, d floor.Device, startedID string, sequence int) json.RawMessage {
	raw, _ := f.make(roomID, d.UserID, "m.voice_broadcast_chunk", nil, map[string]any{
		"sequence": sequence, "m.relates_to": relation{RelType: "m.reference", EventID: startedID},
	})
	return raw
}

// stopped ends broadcast startedID, which releases the floor.
func (f *eventFactory) stopped(roomID string, d floor.Device, startedID string, lastChunk int) json.RawMessage {
	raw, _ := f.make(roomID, d.UserID, floor.TypeBroadcastInfo, stateKey(d.UserID), map[string]any{
		"state": floor.BroadcastStopped, "device_id": d.DeviceID, "last_chunk_sequence": lastChunk,
		"m.relates_to": relation{RelType: "m.reference", EventID: startedID},
	})
	return raw
}
