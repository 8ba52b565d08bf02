package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// ErrUnknownRoom is returned for rooms Walkie has never seen.
var ErrUnknownRoom = errors.New("unknown room")

// Room reads a room's state without locking it (admin API, commands).
func (s *Store) Room(ctx context.Context, roomID string) (*floor.Room, bool, error) {
	var state []byte
	var joined bool
	err := s.pool.QueryRow(ctx, `SELECT state, joined FROM room WHERE room_id = $1`, roomID).Scan(&state, &joined)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, ErrUnknownRoom
	}
	if err != nil {
		return nil, false, err
	}
	room := new(floor.Room)
	if err := json.Unmarshal(state, room); err != nil {
		return nil, false, fmt.Errorf("decode room state: %w", err)
	}
	room.ApplyDefaults(s.opts.Defaults)
	return room, joined, nil
}

// DueRooms lists joined rooms whose next deadline has passed by the
// database's clock (rooms the bot left keep their state but fire nothing).
func (s *Store) DueRooms(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT room_id FROM room WHERE joined AND next_deadline <= clock_timestamp() + $2::interval
		ORDER BY next_deadline LIMIT $1`, limit, s.clockOffset())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// JoinedRooms lists rooms the controller is in (for start-up state loads).
func (s *Store) JoinedRooms(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT room_id FROM room WHERE joined ORDER BY room_id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// RoomCounts are gauges for metrics.
type RoomCounts struct {
	Joined, Managed, Passive, Held int64
	Queued                         int64
	ValidPermits                   int64 // in joined rooms, as of each room's last decision
}

// Counts summarises rooms for metrics.
func (s *Store) Counts(ctx context.Context) (RoomCounts, error) {
	var c RoomCounts
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE joined), count(*) FILTER (WHERE joined AND managed),
		count(*) FILTER (WHERE joined AND passive), count(*) FILTER (WHERE joined AND holder_user IS NOT NULL),
		coalesce(sum(queue_length) FILTER (WHERE joined), 0), coalesce(sum(valid_permits) FILTER (WHERE joined), 0)
		FROM room`).Scan(&c.Joined, &c.Managed, &c.Passive, &c.Held, &c.Queued, &c.ValidPermits)
	return c, err
}

// LogRow is one floor-log line.
type LogRow struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	floor.LogEntry
}

// FloorLog pages a room's floor log backwards from before (0: the newest).
func (s *Store) FloorLog(ctx context.Context, roomID string, before int64, limit int) ([]LogRow, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, action, user_id, device_id, term, reason, event_id FROM floor_log
		WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, roomID, before, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (LogRow, error) {
		var r LogRow
		err := row.Scan(&r.ID, &r.At, &r.Action, &r.Device.UserID, &r.Device.DeviceID, &r.Term, &r.Reason, &r.EventID)
		return r, err
	})
}

// RoomSummary is one room in the admin API's list, from the columns kept
// beside the room's state.
type RoomSummary struct {
	RoomID       string     `json:"room_id"`
	Joined       bool       `json:"joined"`
	Managed      bool       `json:"managed"`
	Passive      bool       `json:"passive"`
	Term         int64      `json:"term"`
	HolderUser   *string    `json:"holder_user,omitempty"`
	HolderDevice *string    `json:"holder_device,omitempty"`
	QueueLength  int        `json:"queue_length"`
	NextDeadline *time.Time `json:"next_deadline,omitempty"`
}

// Rooms lists rooms in room ID order, after the given room ID ("" from the
// start), up to limit.
func (s *Store) Rooms(ctx context.Context, after string, limit int) ([]RoomSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT room_id, joined, managed, passive, term, holder_user, holder_device, queue_length, next_deadline
		FROM room WHERE room_id > $1 ORDER BY room_id LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (RoomSummary, error) {
		var r RoomSummary
		err := row.Scan(&r.RoomID, &r.Joined, &r.Managed, &r.Passive, &r.Term, &r.HolderUser, &r.HolderDevice, &r.QueueLength, &r.NextDeadline)
		return r, err
	})
}
