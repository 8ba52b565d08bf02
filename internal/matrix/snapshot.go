package matrix

import (
	"encoding/json"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Snapshot turns a /state answer into the engine's Snapshot input, and
// returns the raw power-levels content (nil without one). Room setup does
// not write this copy back: it may be stale by then (outbox setup.go).
func Snapshot(roomID string, events []json.RawMessage) (floor.Snapshot, json.RawMessage) {
	var snap floor.Snapshot
	var powerContent json.RawMessage
	for _, raw := range events {
		env, err := parseStateEnvelope(roomID, raw)
		if err != nil {
			continue
		}
		in, ok := ParseInput(env)
		if !ok {
			continue
		}
		switch in := in.(type) {
		case floor.MemberChange:
			snap.Members = append(snap.Members, in)
		case floor.PowerChange:
			levels := in.Levels
			snap.Power, powerContent = &levels, env.Content
		case floor.PermitChange:
			snap.Permits = append(snap.Permits, in)
		case floor.ConfigChange:
			snap.Config = &in
		case floor.FloorStateSeen:
			snap.Floor = &in
		case floor.RoomCreate:
			snap.Create = &in
		}
	}
	return snap, powerContent
}

// parseStateEnvelope accepts /state entries, which some homeservers send
// without room_id.
func parseStateEnvelope(roomID string, raw json.RawMessage) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return env, err
	}
	if env.RoomID == "" {
		env.RoomID = roomID
	}
	body, err := json.Marshal(env)
	if err != nil {
		return env, err
	}
	return ParseEnvelope(body)
}
