package faults

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Room is a test room: its ID and its members' devices, one per user.
type Room struct {
	ID      string
	Devices []floor.Device
}

// NewRooms names n rooms of devices devices each; prefix keeps tests apart.
func NewRooms(prefix string, n, devices int) []Room {
	rooms := make([]Room, n)
	for i := range rooms {
		rooms[i].ID = fmt.Sprintf("!%s%d:%s", prefix, i, Domain)
		for j := range devices {
			rooms[i].Devices = append(rooms[i].Devices, floor.Device{
				UserID: fmt.Sprintf("@%s%d-u%d:%s", prefix, i, j, Domain), DeviceID: fmt.Sprintf("D%d", j)})
		}
	}
	return rooms
}

// creator made every test room and is its admin.
const creator = "@creator:" + Domain

// Events builds the events clients send, with event IDs unique to one
// Events value, and remembers which of them are talk requests.
type Events struct {
	prefix string
	seq    atomic.Int64

	mu       sync.Mutex
	requests []string
	actions  map[string]string // request event ID → action
}

// NewEvents makes event IDs $<prefix><n>.
func NewEvents(prefix string) *Events { return &Events{prefix: prefix, actions: map[string]string{}} }

type clientEvent struct {
	Type           string  `json:"type"`
	EventID        string  `json:"event_id"`
	RoomID         string  `json:"room_id"`
	Sender         string  `json:"sender"`
	OriginServerTS int64   `json:"origin_server_ts"`
	StateKey       *string `json:"state_key,omitempty"`
	Content        any     `json:"content"`
}

func (e *Events) make(roomID, sender, typ string, stateKey *string, content any) (json.RawMessage, string) {
	id := fmt.Sprintf("$%s%d", e.prefix, e.seq.Add(1))
	raw, err := json.Marshal(clientEvent{Type: typ, EventID: id, RoomID: roomID, Sender: sender,
		OriginServerTS: time.Now().UnixMilli(), StateKey: stateKey, Content: content})
	if err != nil {
		panic("faults: marshal event: " + err.Error()) // our own types only
	}
	return raw, id
}

func ptr(s string) *string { return &s }

// Setup is a room's state as a homeserver would deliver it when Walkie is
// invited and joins: the creator joins and sets power levels (Walkie's room
// setup already applied), the bot joins, every member joins and publishes
// a talk permit. The same events are the room's /state.
func (e *Events) Setup(room Room) []json.RawMessage {
	levels := map[string]any{
		"users":          map[string]int{creator: 100, BotUserID: 100},
		"users_default":  0,
		"events_default": 0,
		"state_default":  50,
		"redact":         50,
		"events": map[string]int{
			floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeBroadcastInfoMSC3888: 0,
			floor.TypeBroadcastInfoElement: 0, floor.TypeFloor: 100,
		},
	}
	join := map[string]string{"membership": "join"}
	var events []json.RawMessage
	add := func(raw json.RawMessage, _ string) { events = append(events, raw) }
	add(e.make(room.ID, creator, "m.room.member", ptr(creator), join))
	add(e.make(room.ID, creator, "m.room.power_levels", ptr(""), levels))
	add(e.make(room.ID, BotUserID, "m.room.member", ptr(BotUserID), join))
	for _, d := range room.Devices {
		add(e.make(room.ID, d.UserID, "m.room.member", ptr(d.UserID), join))
	}
	for _, d := range room.Devices {
		add(e.make(room.ID, d.UserID, floor.TypePermit, ptr(d.PermitStateKey()),
			map[string]any{"device_id": d.DeviceID, "send": true, "receive": true}))
	}
	return events
}

// Request is an explicit talk_request (action request, release or cancel).
func (e *Events) Request(roomID string, d floor.Device, action string) (json.RawMessage, string) {
	raw, id := e.make(roomID, d.UserID, floor.TypeRequest, nil, map[string]any{"action": action, "device_id": d.DeviceID})
	e.mu.Lock()
	e.requests = append(e.requests, id)
	e.actions[id] = action
	e.mu.Unlock()
	return raw, id
}

// Requests lists the event IDs of every talk_request made so far; with an
// action, only those asking for it.
func (e *Events) Requests(action ...string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, id := range e.requests {
		if len(action) == 0 || slices.Contains(action, e.actions[id]) {
			out = append(out, id)
		}
	}
	return out
}

// Started begins a voice broadcast; chunks and `stopped` refer to its ID.
func (e *Events) Started(roomID string, d floor.Device) (json.RawMessage, string) {
	return e.make(roomID, d.UserID, floor.TypeBroadcastInfo, ptr(d.UserID), map[string]any{
		"state": floor.BroadcastStarted, "device_id": d.DeviceID, "chunk_length": 1,
	})
}

// Chunk is one voice broadcast chunk of broadcast startedID.
func (e *Events) Chunk(roomID string, d floor.Device, startedID string, sequence int) json.RawMessage {
	raw, _ := e.make(roomID, d.UserID, "m.voice_broadcast_chunk", nil, map[string]any{
		"sequence": sequence, "m.relates_to": map[string]string{"rel_type": "m.reference", "event_id": startedID},
	})
	return raw
}

// Stopped ends broadcast startedID.
func (e *Events) Stopped(roomID string, d floor.Device, startedID string, lastChunk int) json.RawMessage {
	raw, _ := e.make(roomID, d.UserID, floor.TypeBroadcastInfo, ptr(d.UserID), map[string]any{
		"state": floor.BroadcastStopped, "device_id": d.DeviceID, "last_chunk_sequence": lastChunk,
		"m.relates_to": map[string]string{"rel_type": "m.reference", "event_id": startedID},
	})
	return raw
}

// Conversation yields, step by step, a busy and protocol-correct
// conversation in one room that needs no answers from Walkie: two devices
// ask at once (one is granted, one queued), the first broadcasts and stops
// (the floor passes to the second), the second broadcasts and stops, and a
// third asks for the idle floor and releases it. The pusher can thus run it without waiting, so
// Walkie is always busy when it is killed.
type Conversation struct {
	room  Room
	ev    *Events
	cycle int
	steps []json.RawMessage
}

// NewConversation starts a conversation in room.
func NewConversation(room Room, ev *Events) *Conversation {
	return &Conversation{room: room, ev: ev}
}

// Next returns the next event.
func (c *Conversation) Next() json.RawMessage {
	if len(c.steps) == 0 {
		c.steps = c.cycleEvents()
		c.cycle++
	}
	next := c.steps[0]
	c.steps = c.steps[1:]
	return next
}

const chunksPerTurn = 3

func (c *Conversation) cycleEvents() []json.RawMessage {
	n := len(c.room.Devices)
	a, b, x := c.room.Devices[c.cycle%n], c.room.Devices[(c.cycle+1)%n], c.room.Devices[(c.cycle+2)%n]
	id := c.room.ID
	var out []json.RawMessage
	add := func(raw json.RawMessage, _ string) { out = append(out, raw) }
	add(c.ev.Request(id, a, floor.ActionRequest))
	add(c.ev.Request(id, b, floor.ActionRequest))
	for _, d := range []floor.Device{a, b} {
		started, startedID := c.ev.Started(id, d)
		out = append(out, started)
		for i := 1; i <= chunksPerTurn; i++ {
			out = append(out, c.ev.Chunk(id, d, startedID, i))
		}
		out = append(out, c.ev.Stopped(id, d, startedID, chunksPerTurn))
	}
	add(c.ev.Request(id, x, floor.ActionRequest))
	add(c.ev.Request(id, x, floor.ActionRelease))
	return out
}
