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

// Poison marks err as a failure that retrying the same decision cannot fix.
func Poison(err error) error { return poisonError{err} }

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
// caused it: the decision package then sets the event aside.
func IsPoisoned(err error) bool {
	var pgErr *pgconn.PgError
	var poison poisonError
	return errors.As(err, &poison) || errors.As(err, &pgErr) && len(pgErr.Code) == 5 && pgErr.Code[:2] == "22"
}

// OldestPending is the seq of the room's oldest undecided event (ok false
// when none): what a one-event decision is about to read.
func (s *Store) OldestPending(ctx context.Context, roomID string) (seq int64, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT seq FROM inbox WHERE room_id = $1 AND processed_at IS NULL ORDER BY seq LIMIT 1`, roomID).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return seq, err == nil, err
}

// SetAside marks the event seq of the room processed without deciding on
// it and logs it with the cause. It returns the event's ID, or "" when the
// event was already handled (another replica set it aside or decided it):
// only the event that failed may be set aside, never the one after it.
func (s *Store) SetAside(ctx context.Context, roomID string, seq int64, cause string) (string, error) {
	var eventID string
	err := s.pool.QueryRow(ctx, `
		WITH aside AS (
			UPDATE inbox SET processed_at = clock_timestamp()
			WHERE seq = $4 AND room_id = $1 AND processed_at IS NULL
			RETURNING event_id
		), logged AS (
			INSERT INTO floor_log (room_id, action, reason, event_id)
			SELECT $1, $2, left($3, 500), event_id FROM aside
		)
		SELECT event_id FROM aside`, roomID, LogSetAside, cause, seq).Scan(&eventID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return eventID, err
}
