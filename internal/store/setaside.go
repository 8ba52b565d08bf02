package store

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// LogSetAside is the floor-log action of an event set aside because no
// decision on it could be made or stored.
const LogSetAside = "set_aside"

// poisonError marks a decision that fails the same way every time it is
// tried: it could not be encoded, or it panicked.
type poisonError struct{ error }

func (e poisonError) Unwrap() error { return e.error }

// recoverDecision turns a panic of the decision code (a bug, triggered by
// some input) into a poison error, with the stack for the log.
func recoverDecision(err *error) {
	if p := recover(); p != nil {
		*err = poisonError{fmt.Errorf("decision panicked: %v\n%s", p, debug.Stack())}
	}
}

// IsPoisoned reports whether a decision failed in a way retrying cannot
// fix: PostgreSQL refused its data (SQLSTATE class 22, data exception: a
// NUL character, an out-of-range value), it could not be encoded, or it
// panicked. Left alone, the room would be stuck behind the event that
// caused it: see ProcessSettingAside.
func IsPoisoned(err error) bool {
	var pgErr *pgconn.PgError
	var poison poisonError
	return errors.As(err, &poison) || errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22"
}

// ProcessSettingAside is what to do after Process failed with IsPoisoned:
// it decides the room one pending event at a time, and sets aside each
// event no decision could be made or stored for (marked processed
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
		case !IsPoisoned(err):
			return outs, aside, err
		}
		// The event is to blame only if the room decides without it (its
		// due timers included); otherwise setting events aside would only
		// lose innocent ones.
		if _, err := s.process(ctx, roomID, 0, h, nil); err != nil {
			return outs, aside, fmt.Errorf("the room fails without its pending events too: %w", err)
		}
		eventID, aerr := s.setAsideOldest(ctx, roomID, err.Error())
		if aerr != nil {
			return outs, aside, errors.Join(err, aerr)
		}
		if eventID == "" {
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
