// Package roomevents builds room events as a homeserver pushes them to an
// appservice: the talk requests, voice broadcasts and talk permits clients
// send, and the state of a room Walkie manages. Event IDs are unique to
// one Builder.
package roomevents

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Builder makes events with IDs $<prefix><n>. It is safe for concurrent
// use.
type Builder struct {
	prefix string
	seq    atomic.Int64
	// ChunkLength is the chunk_length, in seconds, a started broadcast
	// declares; Walkie's inactivity timeout allows for it. Default 1.
	ChunkLength int
	// Undated leaves origin_server_ts out. The engine then dates an event
	// by its arrival, on the database clock that tests move forward
	// (store.AdvanceClock); a wall-clock stamp would lag behind it.
	Undated bool
}

// New makes a Builder; prefix keeps the event IDs of several apart.
func New(prefix string) *Builder { return &Builder{prefix: prefix, ChunkLength: 1} }

// clientEvent is an event as the homeserver pushes it to an appservice.
type clientEvent struct {
	Type           string  `json:"type"`
	EventID        string  `json:"event_id"`
	RoomID         string  `json:"room_id"`
	Sender         string  `json:"sender"`
	OriginServerTS int64   `json:"origin_server_ts,omitempty"`
	StateKey       *string `json:"state_key,omitempty"`
	Content        any     `json:"content"`
}

// Event builds one event and returns it with its ID; a nil stateKey makes
// a timeline event.
func (b *Builder) Event(roomID, sender, typ string, stateKey *string, content any) (json.RawMessage, string) {
	id := "$" + b.prefix + strconv.FormatInt(b.seq.Add(1), 10)
	ev := clientEvent{Type: typ, EventID: id, RoomID: roomID, Sender: sender, StateKey: stateKey, Content: content}
	if !b.Undated {
		ev.OriginServerTS = time.Now().UnixMilli()
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		panic("roomevents: marshal event: " + err.Error()) // callers pass plain maps and structs
	}
	return raw, id
}

// StateKey makes a state event's key.
func StateKey(s string) *string { return &s }

// ID is the event ID of a raw event ("" if it has none).
func ID(raw json.RawMessage) string {
	var e struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.EventID
}

// ManagedRoom is the state of a room as a homeserver delivers it when
// Walkie is invited and joins: the creator joins and sets power levels
// with Walkie's room setup already applied (creator and bot at 100), the
// bot joins, then each user joins. The same events answer the room's
// /state.
func (b *Builder) ManagedRoom(roomID, creator, bot string, users ...string) []json.RawMessage {
	levels := map[string]any{
		"users":          map[string]int{creator: 100, bot: 100},
		"users_default":  0,
		"events_default": 0,
		"state_default":  50,
		"redact":         50,
		"events": map[string]int{
			floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeBroadcastInfoMSC3888: 0,
			floor.TypeBroadcastInfoElement: 0, floor.TypeFloor: 100, floor.TypeResponse: 100,
		},
	}
	var events []json.RawMessage
	add := func(raw json.RawMessage, _ string) { events = append(events, raw) }
	add(b.join(roomID, creator))
	add(b.Event(roomID, creator, "m.room.power_levels", StateKey(""), levels))
	add(b.join(roomID, bot))
	for _, u := range users {
		add(b.join(roomID, u))
	}
	return events
}

func (b *Builder) join(roomID, user string) (json.RawMessage, string) {
	return b.Event(roomID, user, "m.room.member", StateKey(user), map[string]string{"membership": "join"})
}

// RoomWithPermits is ManagedRoom with the devices' users, after which
// every device publishes a talk permit.
func (b *Builder) RoomWithPermits(roomID, creator, bot string, devices []floor.Device) []json.RawMessage {
	users := make([]string, len(devices))
	for i, d := range devices {
		users[i] = d.UserID
	}
	events := b.ManagedRoom(roomID, creator, bot, users...)
	for _, d := range devices {
		events = append(events, b.Permit(roomID, d))
	}
	return events
}

// Permit is device d's talk permit to send and receive.
func (b *Builder) Permit(roomID string, d floor.Device) json.RawMessage {
	raw, _ := b.Event(roomID, d.UserID, floor.TypePermit, StateKey(d.PermitStateKey()),
		map[string]any{"device_id": d.DeviceID, "send": true, "receive": true})
	return raw
}
