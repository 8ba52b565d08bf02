package decide

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/walkie-ptt/walkie/internal/store"
)

// Room is a room worker's decision: the room's pending events and due
// deadlines. more is true when events are left for another run. A poisoned
// decision (see store.IsPoisoned) does not stop the room: its events are
// decided one at a time and each event no decision can be made or stored
// for is set aside. err is any other failure, after which the pending
// sweep tries the room again.
func (d *Decider) Room(ctx context.Context, roomID string) (more bool, err error) {
	// The store turns a panic of the engine or codec into a poison error;
	// this catches the rest (metrics, logging), so a bug fails this room's
	// run, not the process.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decision panicked: %v\n%s", p, debug.Stack())
		}
	}()
	_, more, err = d.Decide(ctx, roomID)
	if store.IsPoisoned(err) {
		return d.setAside(ctx, roomID)
	}
	return more, err
}

// setAside decides the room one pending event at a time and sets aside
// each event no decision could be made or stored for (marked processed
// undecided, with a set_aside floor-log line naming it and the error).
func (d *Decider) setAside(ctx context.Context, roomID string) (more bool, err error) {
	for range store.BatchSize {
		seq, pending, err := d.store.OldestPending(ctx, roomID)
		if err != nil || !pending {
			return false, err
		}
		out, err := d.decideOne(ctx, roomID, 1, nil)
		switch {
		case err == nil:
			if len(out.Events) == 0 {
				return false, nil
			}
			continue
		case !store.IsPoisoned(err):
			return false, err
		}
		// The event is to blame only if the room decides without it (its
		// due timers included); otherwise setting events aside would only
		// lose innocent ones.
		if _, err := d.decideOne(ctx, roomID, 0, nil); err != nil {
			return false, fmt.Errorf("the room fails without its pending events too: %w", err)
		}
		eventID, aerr := d.store.SetAside(ctx, roomID, seq, err.Error())
		if aerr != nil {
			return false, errors.Join(err, aerr)
		}
		if eventID == "" {
			continue // another replica handled that event meanwhile
		}
		if d.metrics != nil {
			d.metrics.EventsSetAside.Inc()
		}
		d.log.Error().Str("room_id", roomID).Str("event_id", eventID).
			Msg("Set an event aside: no decision on it could be made or stored (the floor log has the error)")
	}
	return true, nil
}
