package outbox

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

	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// errStaleSnapshot makes the sender retry a load_state action (with
// backoff) when state events kept being applied while /state was loading.
var errStaleSnapshot = errors.New("state events kept arriving while the room state was loading; loading it again later")

// staleRetries is how often Load fetches /state again at once when state
// events arrived meanwhile, before leaving it to the sender's backoff
// (which holds the room's later outgoing events back).
const staleRetries = 3

// Loader brings a room's state into the engine when the controller joins
// (and at start-up), so permits, power levels and config are known without
// waiting for new events, then sets the room up.
type Loader struct {
	Client            *mautrix.Client
	Store             *store.Store
	Decider           *decide.Decider
	Controller        string
	ManagePowerLevels bool
	Log               zerolog.Logger
}

// Load fetches /state, decides on a Snapshot, and sets power levels up.
func (l *Loader) Load(ctx context.Context, roomID string) error {
	for attempt := 1; ; attempt++ {
		snap, powerContent, err := l.loadSnapshot(ctx, roomID)
		if err != nil {
			return err
		}
		// Only the snapshot: the room worker decides pending events, so a
		// failure that would fail every time is the snapshot's own.
		out, err := l.Decider.DecideInputs(ctx, roomID, snap)
		if store.IsPoisoned(err) {
			return permanentError{fmt.Errorf("the state of %s cannot be stored: %w", roomID, err)}
		}
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(out.Log, func(e floor.LogEntry) bool { return e.Action == floor.LogSnapshotStale }) {
			if l.ManagePowerLevels && powerContent != nil && snap.Power != nil {
				return l.setupPowerLevels(ctx, roomID, snap.PowerLevels(), powerContent)
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
func (l *Loader) loadSnapshot(ctx context.Context, roomID string) (floor.Snapshot, json.RawMessage, error) {
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
	snap, powerContent := matrix.Snapshot(roomID, events)
	snap.AsOf = asOf
	return snap, powerContent, nil
}

// setupPowerLevels adds, once and only where missing, the levels PROTOCOL.md
// "Room setup" asks for, keeping every other key of the event untouched.
func (l *Loader) setupPowerLevels(ctx context.Context, roomID string, levels floor.PowerLevels, raw json.RawMessage) error {
	add := floor.SetupPowerLevels(levels, l.Controller)
	if len(add) == 0 {
		return nil
	}
	if levels.UserLevel(l.Controller) < levels.StateLevel(event.StatePowerLevels.Type) {
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
	_, err := l.Client.SendStateEvent(ctx, id.RoomID(roomID), event.StatePowerLevels, "", content)
	if err != nil {
		return fmt.Errorf("set up power levels in %s: %w", roomID, err)
	}
	l.Log.Info().Str("room_id", roomID).Interface("added", add).Msg("Set up power levels for talk permits and broadcasts")
	return nil
}
