package matrix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Processor runs floor decisions (implemented by *store.Store).
type Processor interface {
	ProcessInputs(ctx context.Context, roomID string, h store.Handler, inputs ...floor.Input) (store.Outcome, error)
	Room(ctx context.Context, roomID string) (*floor.Room, bool, error)
}

// errStaleSnapshot makes the sender retry a load_state action (with
// backoff) when state events kept being applied while /state was loading.
var errStaleSnapshot = errors.New("state events kept arriving while the room state was loading; loading it again later")

// staleRetries is how often Load fetches /state again at once when state
// events arrived meanwhile, before leaving it to the sender's backoff
// (which holds the room's later outgoing events back).
const staleRetries = 3

// RoomLoader brings a room's state into the engine when the controller
// joins (and at start-up), so permits, power levels and config are known
// without waiting for new events, then sets the room up.
type RoomLoader struct {
	Client            *mautrix.Client
	Store             Processor
	Handler           *Handler
	ManagePowerLevels bool
	// Committed is told about the Snapshot decision (metrics, wake the sender).
	Committed func(store.Outcome)
	Log       zerolog.Logger
}

// Load fetches /state, decides on a Snapshot, and sets power levels up.
func (l *RoomLoader) Load(ctx context.Context, roomID string) error {
	for attempt := 1; ; attempt++ {
		snap, powerContent, err := l.loadSnapshot(ctx, roomID)
		if err != nil {
			return err
		}
		// Only the snapshot: the room worker decides pending events, so a
		// failure that would fail every time is the snapshot's own.
		out, err := l.Store.ProcessInputs(ctx, roomID, l.Handler, snap)
		if store.IsPoisoned(err) {
			return permanentError{fmt.Errorf("the state of %s cannot be stored: %w", roomID, err)}
		}
		if err != nil {
			return err
		}
		if l.Committed != nil {
			l.Committed(out)
		}
		if !slices.ContainsFunc(out.Log, func(e floor.LogEntry) bool { return e.Action == floor.LogSnapshotStale }) {
			if l.ManagePowerLevels && powerContent != nil && snap.Power != nil {
				return l.setupPowerLevels(ctx, roomID, *snap.Power, powerContent)
			}
			return nil
		}
		if attempt == staleRetries {
			return errStaleSnapshot
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// loadSnapshot reads the room's state version, then /state.
func (l *RoomLoader) loadSnapshot(ctx context.Context, roomID string) (floor.Snapshot, json.RawMessage, error) {
	// The version goes first: whatever the stream applies after this
	// point may be missing from /state, and the engine will notice.
	asOf := int64(0)
	room, _, err := l.Store.Room(ctx, roomID)
	switch {
	case err == nil:
		asOf = room.StateVersion
	case !errors.Is(err, store.ErrUnknownRoom):
		return floor.Snapshot{}, nil, err
	}
	var events []json.RawMessage
	url := l.Client.BuildClientURL("v3", "rooms", roomID, "state")
	if _, err := l.Client.MakeRequest(ctx, http.MethodGet, url, nil, &events); err != nil {
		return floor.Snapshot{}, nil, fmt.Errorf("load state of %s: %w", roomID, err)
	}
	snap, powerContent := snapshotOf(roomID, events)
	snap.AsOf = asOf
	return snap, powerContent, nil
}

// snapshotOf turns a /state answer into the engine's Snapshot input, and
// returns the raw power-levels content for room setup.
func snapshotOf(roomID string, events []json.RawMessage) (floor.Snapshot, json.RawMessage) {
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
			snap.FloorSender = in.Sender
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

// setupPowerLevels adds, once and only where missing, the levels PROTOCOL.md
// "Room setup" asks for, keeping every other key of the event untouched.
func (l *RoomLoader) setupPowerLevels(ctx context.Context, roomID string, levels floor.PowerLevels, raw json.RawMessage) error {
	add := floor.SetupPowerLevels(levels, l.Handler.Controller)
	if len(add) == 0 {
		return nil
	}
	if levels.UserLevel(l.Handler.Controller) < levels.StateLevel(event.StatePowerLevels.Type) {
		l.Log.Info().Str("room_id", roomID).Msg("Cannot set up power levels here; the notice explains what an admin should set")
		return nil
	}
	var content map[string]any
	if err := json.Unmarshal(raw, &content); err != nil {
		return nil // unreadable power levels: leave them alone
	}
	evs, _ := content["events"].(map[string]any)
	if evs == nil {
		evs = map[string]any{}
	}
	for t, lvl := range add {
		evs[t] = lvl
	}
	content["events"] = evs
	_, err := l.Client.SendStateEvent(ctx, idRoom(roomID), event.StatePowerLevels, "", content)
	if err != nil {
		return fmt.Errorf("set up power levels in %s: %w", roomID, err)
	}
	l.Log.Info().Str("room_id", roomID).Interface("added", add).Msg("Set up power levels for talk permits and broadcasts")
	return nil
}
