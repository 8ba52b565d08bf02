package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// floorChannel is the PostgreSQL notification channel of floor changes.
// Notifications are per database, so controllers with databases of their
// own on one server do not hear each other.
const floorChannel = "walkie_floor"

// maxNotifyPayload keeps a notification under PostgreSQL's 8000-byte
// payload limit; a floor state that does not fit (a long queue of long
// user IDs) is sent without its content, and listeners read the room.
const maxNotifyPayload = 7900

// FloorNotice is a floor state a decision committed, in this process or
// another one sharing the database.
type FloorNotice struct {
	RoomID  string `json:"room_id"`
	Version int64  `json:"version"`
	// Floor is nil when it did not fit into the notification: read the
	// room (Store.Room) for it.
	Floor *floor.FloorState `json:"floor,omitempty"`
	// Resync is set (alone) after the listener (re)connected: notices may
	// have been lost meanwhile, so every room of interest must be read.
	// Lost is why the previous connection ended (nil on the first).
	Resync bool  `json:"-"`
	Lost   error `json:"-"`
}

// NotifyFloor queues a notification of the room's new floor state. It is
// part of the decision's transaction: PostgreSQL delivers it to listeners
// on commit, and never if the transaction rolls back. The notifications of
// every room decided in the transaction go in one statement (writes.go).
func (tx *Tx) NotifyFloor(roomID string, version int64, fs floor.FloorState) {
	n := FloorNotice{RoomID: roomID, Version: version, Floor: &fs}
	payload, err := json.Marshal(n)
	if err != nil || len(payload) > maxNotifyPayload {
		n.Floor = nil
		payload, _ = json.Marshal(n) // a room ID and a number
	}
	tx.writes.notices = append(tx.writes.notices, string(payload))
}

// ListenFloor sends every floor notice of the database to out until ctx
// ends. It listens on a connection of its own (outside the pool), and
// after losing it reconnects with backoff; every (re)connection is
// followed by a Resync notice. It returns ctx's error.
func (s *Store) ListenFloor(ctx context.Context, out chan<- FloorNotice) error {
	backoff := 100 * time.Millisecond
	var lost error
	for {
		err := s.listenFloorOnce(ctx, out, lost, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lost = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenFloorOnce is one connection's life; connected is called once it
// listens.
func (s *Store) listenFloorOnce(ctx context.Context, out chan<- FloorNotice, lost error, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+floorChannel); err != nil {
		return err
	}
	connected()
	if err := send(ctx, out, FloorNotice{Resync: true, Lost: lost}); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var notice FloorNotice
		if err := json.Unmarshal([]byte(n.Payload), &notice); err != nil || notice.RoomID == "" {
			continue // not ours: someone else notifying on the channel
		}
		if err := send(ctx, out, notice); err != nil {
			return err
		}
	}
}

func send(ctx context.Context, out chan<- FloorNotice, n FloorNotice) error {
	select {
	case out <- n:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
