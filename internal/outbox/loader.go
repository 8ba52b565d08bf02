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
// waiting for new events. It also performs Room setup (setup.go), which
// that decision, or a later one, asks for.
type Loader struct {
	Client     *mautrix.Client
	Store      *store.Store
	Decider    *decide.Decider
	Controller string
	Log        zerolog.Logger
}

// Load fetches /state and decides on a Snapshot. Room setup, when the
// engine finds it due, is one more outbox row of that decision.
func (l *Loader) Load(ctx context.Context, roomID string) error {
	for attempt := 1; ; attempt++ {
		snap, err := l.loadSnapshot(ctx, roomID)
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
func (l *Loader) loadSnapshot(ctx context.Context, roomID string) (floor.Snapshot, error) {
	// The version goes first: whatever the stream applies after this
	// point may be missing from /state, and the engine will notice.
	asOf := int64(0)
	room, _, err := l.Store.Room(ctx, roomID)
	switch {
	case err == nil:
		asOf = room.StateVersion
	case !errors.Is(err, store.ErrUnknownRoom):
		return floor.Snapshot{}, err
	}
	var events []json.RawMessage
	url := l.Client.BuildClientURL("v3", "rooms", roomID, "state")
	if _, err := l.Client.MakeRequest(ctx, http.MethodGet, url, nil, &events); err != nil {
		return floor.Snapshot{}, fmt.Errorf("load state of %s: %w", roomID, err)
	}
	snap, _ := matrix.Snapshot(roomID, events)
	snap.AsOf = asOf
	return snap, nil
}
