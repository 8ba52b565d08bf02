package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxItem is a claimed outbox row.
type OutboxItem struct {
	ID       int64
	RoomID   string
	Kind     string
	Payload  json.RawMessage
	Attempts int
	// TxnID is the Matrix transaction ID for this row: the same on every
	// attempt, so a re-send after a crash is deduplicated by the homeserver.
	TxnID     string
	CreatedAt time.Time
}

// Claim leases up to limit sendable rows: the oldest unsent row of each
// room (rooms send in order; one failing room never blocks another), whose
// retry time has come and whose lease, if any, ran out. Rows leased by a
// process that died become claimable again when the lease ends.
func (s *Store) Claim(ctx context.Context, limit int, lease time.Duration) ([]OutboxItem, error) {
	rows, err := s.pool.Query(ctx, `
		WITH heads AS (
			SELECT DISTINCT ON (room_id) id, next_attempt_at, lease_until
			FROM outbox WHERE sent_at IS NULL AND NOT failed
			ORDER BY room_id, id
		), ready AS (
			SELECT o.id FROM outbox o JOIN heads h ON h.id = o.id
			WHERE h.next_attempt_at <= clock_timestamp()
			  AND (h.lease_until IS NULL OR h.lease_until < clock_timestamp())
			ORDER BY o.id LIMIT $1
			FOR UPDATE OF o SKIP LOCKED
		)
		UPDATE outbox o SET lease_until = clock_timestamp() + $2::interval, attempts = o.attempts + 1
		FROM ready WHERE o.id = ready.id
		RETURNING o.id, o.room_id, o.kind, o.payload::text, o.attempts, o.created_at`, limit, lease)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (OutboxItem, error) {
		var it OutboxItem
		var payload string
		err := row.Scan(&it.ID, &it.RoomID, &it.Kind, &payload, &it.Attempts, &it.CreatedAt)
		it.Payload = json.RawMessage(payload)
		it.TxnID = s.TxnID(it.ID)
		return it, err
	})
}

// TxnID derives the Matrix transaction ID of an outbox row.
func (s *Store) TxnID(id int64) string { return fmt.Sprintf("walkie.%s.%d", s.installID, id) }

// MarkSent records a delivered row.
func (s *Store) MarkSent(ctx context.Context, id int64, eventID string) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET sent_at = clock_timestamp(), sent_event_id = $2, lease_until = NULL, last_error = NULL
		WHERE id = $1`, id, eventID)
	return err
}

// MarkRetry schedules another attempt after backoff (a transient failure).
func (s *Store) MarkRetry(ctx context.Context, id int64, backoff time.Duration, cause string) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET next_attempt_at = clock_timestamp() + $2::interval, lease_until = NULL, last_error = $3
		WHERE id = $1`, id, backoff, cause)
	return err
}

// MarkFailed gives up on a row (a permanent failure): it stays in the table
// for operators, and the room's next row becomes sendable.
func (s *Store) MarkFailed(ctx context.Context, id int64, cause string) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET failed = true, lease_until = NULL, last_error = $2 WHERE id = $1`, id, cause)
	return err
}

// Enqueue adds actions for a room outside a floor decision (e.g. the
// follow-up of a join that the sender performed).
func (s *Store) Enqueue(ctx context.Context, roomID string, actions ...Action) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return insertActions(ctx, tx, roomID, actions)
	})
}

// OutboxDepth counts rows not yet sent (failed ones excluded).
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND NOT failed`).Scan(&n)
	return n, err
}

// PruneOutbox deletes sent rows older than the retention.
func (s *Store) PruneOutbox(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE sent_at < clock_timestamp() - $1::interval`, olderThan)
	return tag.RowsAffected(), err
}
