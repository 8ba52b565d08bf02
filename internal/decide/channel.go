package decide

import (
	"time"

	"context"
	"errors"
	"fmt"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
)

// FloorChange is what a committed decision of this process has for the
// floor channel's sockets: the floor state it published, and its later
// answers to floor-channel requests.
type FloorChange struct {
	RoomID  string
	Version int64 // the room's FloorVersion: later states have higher ones
	// Floor is nil when the decision published none (only answers).
	Floor *floor.FloorState
	// Answers are the decision's later answers (Outcome.Later): the
	// floor channel delivers them with Floor, before it.
	Answers []floor.Response
}

// floorChangesBuffer is how many floor changes may wait for the floor
// channel's reader before newer ones are dropped (see FloorChanges).
const floorChangesBuffer = 4096

// FloorChanges receives every floor state this process's decisions
// publish, and every later answer to a floor-channel request they make,
// right after their commit and before any of their outbox rows is sent:
// the floor channel pushes them to its sockets. A send never
// blocks a decision: when the reader falls behind, changes are dropped and
// FloorChangesLost says so.
func (d *Decider) FloorChanges() <-chan FloorChange { return d.floorChanges }

// FloorChangesLost reports (once) that changes were dropped since the
// last call: the reader must then read the rooms it cares about.
func (d *Decider) FloorChangesLost() bool { return d.floorLost.Swap(false) }

// PublishedFloor is a room's floor state as Walkie publishes it (see
// completeFloor).
func (d *Decider) PublishedFloor(room *floor.Room, now time.Time) floor.FloorState {
	fs := room.FloorState(now)
	d.completeFloor(&fs)
	return fs
}

// completeFloor adds to a floor state what Walkie publishes and the
// engine does not know: in live mode, the token service's URL.
func (d *Decider) completeFloor(fs *floor.FloorState) {
	if fs.Mode == floor.ModeLive {
		fs.LiveKitServiceURL = d.liveService
	}
}

// Origin names this Decider in the database's notifications of its
// decisions (store.FloorNotice.Origin): later answers that come without a
// floor state cannot be told apart by version, so the floor channel of
// this process takes those from FloorChanges only.
func (d *Decider) Origin() string { return d.origin }

func (d *Decider) publishFloor(out Outcome) {
	if out.Floor == nil && len(out.Later) == 0 {
		return
	}
	select {
	case d.floorChanges <- FloorChange{RoomID: out.RoomID, Version: out.FloorVersion, Floor: out.Floor, Answers: out.Later}:
	default:
		d.floorLost.Store(true)
	}
}

// ErrNotJoined: a floor-channel request named a room the controller is not
// in (or has never seen). Nothing was decided or stored.
var ErrNotJoined = errors.New("the controller is not in this room")

// ChannelRequest decides a floor-channel request (req.Channel set, no
// EventID) like any input: under the room's lock, in one transaction
// with the room's pending events, by the engine's rules for a
// talk_request. It returns the request's answer and the outcome; the
// floor state it published is also on FloorChanges. A room the controller
// is not in is refused (ErrNotJoined) and left as it was: no row is
// created for an unknown one.
func (d *Decider) ChannelRequest(ctx context.Context, roomID string, req floor.TalkRequest) (floor.Response, Outcome, error) {
	if req.Channel == "" || req.EventID != "" {
		return floor.Response{}, Outcome{}, fmt.Errorf("not a channel request")
	}
	out, err := d.decideChannel(ctx, roomID, store.BatchSize, req)
	if store.IsPoisoned(err) {
		// A pending event no decision can be made with is the room
		// workers' to set aside; the request is decided without it.
		out, err = d.decideChannel(ctx, roomID, 0, req)
	}
	if err != nil {
		return floor.Response{}, Outcome{}, err
	}
	for _, a := range out.Answers {
		if a.Channel == req.Channel {
			return a, out, nil
		}
	}
	return floor.Response{}, out, fmt.Errorf("the decision gave channel request %s no answer", req.Channel)
}

// decideChannel is decideOne for a channel request: the transaction
// rolls back (the room's row included, for a room first seen here) when
// the controller is not in the room. Pending events left over (over
// limit) are the room workers'.
func (d *Decider) decideChannel(ctx context.Context, roomID string, limit int, req floor.TalkRequest) (Outcome, error) {
	return d.decideChecked(ctx, roomID, limit, []floor.Input{req}, func(out Outcome) error {
		if !out.joined {
			return ErrNotJoined
		}
		return nil
	})
}
