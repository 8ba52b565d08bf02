package dendrite

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// syncPollTimeoutMS is the /sync long-poll timeout. The server answers as
// soon as anything new arrives, so this only bounds how long an idle poll
// lasts; cancelling ctx interrupts it regardless.
const syncPollTimeoutMS = 1000

// WaitForStateEvent syncs as client until a state event of eventType and
// stateKey in the joined room roomID has content for which pred returns true
// (pred nil accepts any content). It looks at the room's state and timeline
// in an initial sync, then at every incremental sync after it, so it sees
// events sent before and after the call.
//
// It keeps its own since token and never touches the client's sync store,
// so it can run alongside a client's own syncing. It waits until ctx is
// done: give it a context with a deadline.
func WaitForStateEvent(ctx context.Context, client *mautrix.Client, roomID id.RoomID, eventType event.Type, stateKey string, pred func(content json.RawMessage) bool) error {
	since := ""
	for {
		// The initial sync (since == "") must not wait for new events: the
		// event may already be there.
		timeout := syncPollTimeoutMS
		if since == "" {
			timeout = 0
		}
		resp, err := client.SyncRequest(ctx, timeout, since, "", false, event.PresenceOffline)
		if err != nil {
			return fmt.Errorf("wait for %s %q in %s: %w", eventType.Type, stateKey, roomID, err)
		}
		if room := resp.Rooms.Join[roomID]; room != nil {
			for _, list := range [][]*event.Event{room.State.Events, room.Timeline.Events} {
				if matchesState(list, eventType, stateKey, pred) {
					return nil
				}
			}
		}
		since = resp.NextBatch
	}
}

func matchesState(events []*event.Event, eventType event.Type, stateKey string, pred func(json.RawMessage) bool) bool {
	for _, evt := range events {
		if evt.Type.Type != eventType.Type || evt.StateKey == nil || *evt.StateKey != stateKey {
			continue
		}
		if pred == nil || pred(evt.Content.VeryRaw) {
			return true
		}
	}
	return false
}

// WaitForFloor is WaitForStateEvent for the room's floor state
// (org.matrix.msc4002.floor): it waits until one matches pred, and returns
// the last one seen, matching or not, for the caller's failure message.
func WaitForFloor(ctx context.Context, client *mautrix.Client, roomID id.RoomID, pred func(floor.FloorState) bool) (floor.FloorState, error) {
	var seen floor.FloorState
	err := WaitForStateEvent(ctx, client, roomID, event.Type{Type: floor.TypeFloor, Class: event.StateEventType}, "",
		func(raw json.RawMessage) bool {
			var f floor.FloorState
			if json.Unmarshal(raw, &f) != nil {
				return false
			}
			seen = f
			return pred(f)
		})
	return seen, err
}

// MustWaitForFloor is WaitForFloor for a test: it waits up to limit for
// client's /sync to show floor state matching pred (what names it in the
// failure), fails t if it never does, and returns the matching state.
func MustWaitForFloor(t testing.TB, client *mautrix.Client, roomID id.RoomID, what string, limit time.Duration, pred func(floor.FloorState) bool) floor.FloorState {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	seen, err := WaitForFloor(ctx, client, roomID, pred)
	if err != nil {
		t.Fatalf("%s never saw the floor state %q; last seen %+v: %v", client.UserID, what, seen, err)
	}
	return seen
}

// WaitForPermitLevel waits until the room's power levels give the permit
// event type a level (Walkie's room setup sets it, after its first floor),
// and returns the room's current event levels. They are read from the
// room's state after the wait, not taken from the matching event: a /sync
// batch may hold older power levels than the room's current ones.
func WaitForPermitLevel(ctx context.Context, client *mautrix.Client, roomID id.RoomID) (map[string]int, error) {
	err := WaitForStateEvent(ctx, client, roomID, event.StatePowerLevels, "", func(raw json.RawMessage) bool {
		var pl event.PowerLevelsEventContent
		if json.Unmarshal(raw, &pl) != nil {
			return false
		}
		_, ok := pl.Events[floor.TypePermit]
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("permit level in %s: %w", roomID, err)
	}
	var pl event.PowerLevelsEventContent
	if err := client.StateEvent(ctx, roomID, event.StatePowerLevels, "", &pl); err != nil {
		return nil, fmt.Errorf("power levels of %s: %w", roomID, err)
	}
	if _, ok := pl.Events[floor.TypePermit]; !ok {
		return nil, fmt.Errorf("the permit level in %s was set, then removed: %v", roomID, pl.Events)
	}
	return pl.Events, nil
}
