package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// LogSetAside is the floor-log action of an event set aside because its
// room's decision could not be stored.
const LogSetAside = "set_aside"

// IsUnstorable reports whether a decision failed because PostgreSQL
// refused its data (SQLSTATE class 22, data exception: a NUL character, an
// out-of-range number). Retrying cannot help; without ProcessSettingAside the
// room would be stuck behind the event that caused it: see
// ProcessSettingAside.
func IsUnstorable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22"
}

// ProcessSettingAside is what to do after Process failed with
// IsUnstorable: it decides the room one pending event at a time, and sets
// aside each event whose decision PostgreSQL refuses (marked processed
// undecided, with a set_aside floor-log line naming it and the error). It
// returns the outcomes committed and the IDs of the events set aside; err
// is any other failure, after which the pending sweep retries the room.
func (s *Store) ProcessSettingAside(ctx context.Context, roomID string, h Handler) (outs []Outcome, aside []string, err error) {
	for range BatchSize {
		out, err := s.process(ctx, roomID, 1, h, nil)
		switch {
		case err == nil:
			outs = append(outs, out)
			if len(out.Events) == 0 {
				return outs, aside, nil
			}
			continue
		case !IsUnstorable(err):
			return outs, aside, err
		}
		eventID, aerr := s.setAsideOldest(ctx, roomID, err.Error())
		if aerr != nil {
			return outs, aside, errors.Join(err, aerr)
		}
		if eventID == "" {
			// Nothing pending, so the room's own state is refused.
			return outs, aside, err
		}
		aside = append(aside, eventID)
	}
	return outs, aside, nil
}

// setAsideOldest marks the room's oldest pending event processed without
// deciding on it and logs it; "" when nothing was pending.
func (s *Store) setAsideOldest(ctx context.Context, roomID, cause string) (string, error) {
	var eventID string
	err := s.pool.QueryRow(ctx, `
		WITH aside AS (
			UPDATE inbox SET processed_at = clock_timestamp()
			WHERE seq = (SELECT seq FROM inbox WHERE room_id = $1 AND processed_at IS NULL ORDER BY seq LIMIT 1)
			RETURNING event_id
		), logged AS (
			INSERT INTO floor_log (room_id, action, reason, event_id)
			SELECT $1, $2, left($3, 500), event_id FROM aside
		)
		SELECT event_id FROM aside`, roomID, LogSetAside, cause).Scan(&eventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return eventID, err
}
