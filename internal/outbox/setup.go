package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// SetUpPowerLevels performs a setup_power_levels row (Room setup, decided
// once per room by the engine). It reads the room's m.room.power_levels
// right before writing it and adds only the levels still missing there,
// keeping every other key as it is: a change an admin made since the
// decision, or since /state was loaded, is not overwritten. (Matrix has no
// compare-and-set for state, so a change landing between this GET and the
// PUT can still be lost; the window is one round trip, not a state load.)
func (l *Loader) SetUpPowerLevels(ctx context.Context, roomID string) error {
	var content json.RawMessage
	url := l.Client.BuildClientURL("v3", "rooms", roomID, "state", event.StatePowerLevels.Type, "")
	if _, err := l.Client.MakeRequest(ctx, http.MethodGet, url, nil, &content); err != nil {
		return fmt.Errorf("read the power levels of %s: %w", roomID, err)
	}
	levels := matrix.ParsePowerLevels(content)
	// Creators come from m.room.create, which the engine has read.
	room, _, err := l.Store.Room(ctx, roomID)
	if err != nil {
		return err
	}
	levels.Creators = room.Power.Creators
	add := floor.SetupPowerLevels(levels, l.Controller)
	if len(add) == 0 {
		l.Log.Info().Str("room_id", roomID).Msg("Room setup: the power levels need nothing more")
		return nil
	}
	if !levels.CanEditPowerLevels(l.Controller) {
		// Lowered since the decision; `!walkie status` tells the admins
		// what members lack.
		return permanentError{fmt.Errorf("set up power levels in %s: Walkie may no longer edit m.room.power_levels", roomID)}
	}
	var edited map[string]any
	if err := json.Unmarshal(content, &edited); err != nil || edited == nil {
		return permanentError{fmt.Errorf("set up power levels in %s: unreadable m.room.power_levels: %v", roomID, err)}
	}
	events, _ := edited["events"].(map[string]any)
	if events == nil {
		events = map[string]any{}
	}
	for t, level := range add {
		events[t] = level
	}
	edited["events"] = events
	if _, err := l.Client.SendStateEvent(ctx, id.RoomID(roomID), event.StatePowerLevels, "", edited); err != nil {
		return fmt.Errorf("set up power levels in %s: %w", roomID, err)
	}
	l.Log.Info().Str("room_id", roomID).Interface("added", add).Msg("Set up power levels for talk permits and broadcasts")
	return nil
}
