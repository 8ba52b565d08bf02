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
	// Answers are the decision's later answers to floor-channel requests
	// (floor.Response.Later, see LaterAnswers), to deliver before Floor,
	// which they come with. Floor is nil with answers only when the
	// decision published no floor state; answers that do not fit are left
	// out (the floor state tells the client).
	Answers []ChannelAnswer `json:"answers,omitempty"`
	// Origin names the deciding process (its decide.Decider; "" when
	// none was named).
	Origin string `json:"origin,omitempty"`
	// Resync is set (alone) after the listener (re)connected: notices may
	// have been lost meanwhile, so every room of interest must be read.
	// Lost is why the previous connection ended (nil on the first).
	Resync bool  `json:"-"`
	Lost   error `json:"-"`
}

// ChannelAnswer is a later answer to a floor-channel request that a
// decision committed.
type ChannelAnswer struct {
	// Response is the answer; LaterAnswers sets its Channel (which its
	// JSON leaves out) and Later.
	Response floor.Response `json:"response"`
	Channel  string         `json:"channel"`
}

// LaterAnswers are the notice's answers as the engine made them.
func (n FloorNotice) LaterAnswers() []floor.Response {
	out := make([]floor.Response, 0, len(n.Answers))
	for _, a := range n.Answers {
		a.Response.Channel, a.Response.Later = a.Channel, true
		out = append(out, a.Response)
	}
	return out
}

// NotifyDecision queues a notification of what a room's decision has for
// the floor channel: its new floor state (nil when it published none) and
// its later answers to floor-channel requests, in one payload, so a
// listener delivers the answers with the floor state they came with. It
// is part of the decision's transaction: PostgreSQL delivers it to
// listeners on commit, and never if the transaction rolls back. The
// notifications of every room decided in the transaction go in one
// statement (writes.go). A notice too big for a notification loses its
// answers first, then its floor state (listeners read the room).
func (tx *Tx) NotifyDecision(roomID, origin string, version int64, fs *floor.FloorState, answers []floor.Response) {
	if fs == nil && len(answers) == 0 {
		return
	}
	n := FloorNotice{RoomID: roomID, Version: version, Floor: fs, Origin: origin}
	for _, a := range answers {
		n.Answers = append(n.Answers, ChannelAnswer{Response: a, Channel: a.Channel})
	}
	payload, err := json.Marshal(n)
	if err != nil || len(payload) > maxNotifyPayload {
		if fs == nil {
			return // answers alone that do not fit
		}
		n.Answers = nil
		if payload, err = json.Marshal(n); err != nil || len(payload) > maxNotifyPayload {
			n.Floor = nil
			payload, _ = json.Marshal(n) // a room ID, an origin and a number
		}
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
