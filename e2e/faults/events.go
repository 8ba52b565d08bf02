package faults

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
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

// Events builds the events clients send and remembers which of them are
// talk requests, so the audits can ask that each was answered.
type Events struct {
	*roomevents.Builder

	mu       sync.Mutex
	requests []string
	actions  map[string]string // request event ID → action
}

// NewEvents makes event IDs $<prefix><n>.
func NewEvents(prefix string) *Events {
	return &Events{Builder: roomevents.New(prefix), actions: map[string]string{}}
}

// Setup is a room's state as a homeserver would deliver it when Walkie is
// invited and joins, every member with a talk permit. The same events are
// the room's /state.
func (e *Events) Setup(room Room) []json.RawMessage {
	return e.RoomWithPermits(room.ID, creator, BotUserID, room.Devices)
}

// Request is an explicit talk_request (action request, release or cancel).
func (e *Events) Request(roomID string, d floor.Device, action string) (json.RawMessage, string) {
	raw, id := e.Builder.Request(roomID, d, action)
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
