package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Live mode: LiveKit names a Matrix room's call room by a hash of the room
// ID, and its webhooks carry only that name. The token service records the
// pair when it hands out a token, so a webhook can be traced back to its
// Matrix room, and the reconciler knows which SFU rooms are Walkie's.

// RememberLiveKitRoom records that the LiveKit room name carries the call
// of roomID (again: the time of the latest token is kept).
func (s *Store) RememberLiveKitRoom(ctx context.Context, name, roomID string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO livekit_room (name, room_id) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET room_id = excluded.room_id, minted_at = clock_timestamp()`, name, roomID)
	return err
}

// LiveKitRoomOf is the Matrix room whose call the LiveKit room name
// carries; ok is false for a name Walkie never minted a token for.
func (s *Store) LiveKitRoomOf(ctx context.Context, name string) (roomID string, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT room_id FROM livekit_room WHERE name = $1`, name).Scan(&roomID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return roomID, err == nil, err
}

// LiveKitRoom is a LiveKit room Walkie minted tokens for, and its Matrix room.
type LiveKitRoom struct {
	Name   string
	RoomID string
}

// LiveKitRooms lists the LiveKit rooms of the Matrix rooms the controller
// is in, by name.
func (s *Store) LiveKitRooms(ctx context.Context) ([]LiveKitRoom, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.name, l.room_id FROM livekit_room l JOIN room r USING (room_id)
		WHERE r.joined ORDER BY l.name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (LiveKitRoom, error) {
		var r LiveKitRoom
		err := row.Scan(&r.Name, &r.RoomID)
		return r, err
	})
}
