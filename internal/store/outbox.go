package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxItem is one unsent outbox row.
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

// RoomBatch is a leased room's unsent rows, oldest first.
type RoomBatch struct {
	RoomID string
	Items  []OutboxItem
}

// maxRowsPerClaim bounds one room's batch, so a huge backlog is sent in
// several leases and the lease never has to outlive a batch.
const maxRowsPerClaim = 64

// NewOwner names one sending process for outbox leases.
func NewOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ClaimRooms leases up to limit rooms whose oldest unsent row is due and
// returns their unsent rows in order. A room leased by another live sender
// is skipped; a lease whose owner died runs out and the room is claimed
// again (its rows re-sent with the same txn IDs).
//
// Taking the leases and reading the rows are two statements on purpose:
// the rows must be read on a snapshot taken after the lease, or rows the
// previous holder sent just before letting go would look unsent and go
// out twice (a floor state could then overtake a newer one).
func (s *Store) ClaimRooms(ctx context.Context, owner string, limit int, lease time.Duration) ([]RoomBatch, error) {
	rows, err := s.pool.Query(ctx, `
		WITH heads AS (
			SELECT DISTINCT ON (room_id) room_id, id, next_attempt_at
			FROM outbox WHERE sent_at IS NULL AND NOT failed
			ORDER BY room_id, id
		), candidates AS (
			SELECT h.room_id FROM heads h
			WHERE h.next_attempt_at <= clock_timestamp()
			  AND NOT EXISTS (SELECT 1 FROM outbox_lease l WHERE l.room_id = h.room_id AND l.until >= clock_timestamp())
			ORDER BY h.id LIMIT $1
		)
		INSERT INTO outbox_lease (room_id, owner, until)
		SELECT room_id, $2, clock_timestamp() + $3::interval FROM candidates
		ON CONFLICT (room_id) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
			WHERE outbox_lease.until < clock_timestamp()
		RETURNING room_id`, limit, owner, lease)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	leased, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(leased) == 0 {
		return nil, err
	}
	rows, err = s.pool.Query(ctx, `
		SELECT id, room_id, kind, payload::text, attempts, created_at FROM (
			SELECT o.*, row_number() OVER (PARTITION BY o.room_id ORDER BY o.id) AS n
			FROM outbox o WHERE o.room_id = ANY($1) AND o.sent_at IS NULL AND NOT o.failed
		) numbered WHERE n <= $2 ORDER BY room_id, id`, leased, maxRowsPerClaim)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (OutboxItem, error) {
		var it OutboxItem
		var payload string
		err := row.Scan(&it.ID, &it.RoomID, &it.Kind, &payload, &it.Attempts, &it.CreatedAt)
		it.Payload = json.RawMessage(payload)
		it.TxnID = s.TxnID(it.ID)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	var batches []RoomBatch
	for _, it := range items {
		if n := len(batches); n == 0 || batches[n-1].RoomID != it.RoomID {
			batches = append(batches, RoomBatch{RoomID: it.RoomID})
		}
		b := &batches[len(batches)-1]
		b.Items = append(b.Items, it)
	}
	// A room whose rows another sender finished in the meantime has
	// nothing left: let it go at once.
	for _, room := range leased {
		if !slices.ContainsFunc(batches, func(b RoomBatch) bool { return b.RoomID == room }) {
			if err := s.FinishRoom(ctx, owner, room, RoomResult{}); err != nil {
				return batches, err
			}
		}
	}
	return batches, nil
}

// TxnID derives the Matrix transaction ID of an outbox row.
func (s *Store) TxnID(id int64) string { return fmt.Sprintf("walkie.%s.%d", s.installID, id) }

// RoomResult is what happened to a leased room's rows.
type RoomResult struct {
	// Sent rows, with the event ID the homeserver answered ("" when none,
	// e.g. a floor state superseded by a later one in the same batch).
	Sent []SentRow
	// Failed rows: permanent failures, given up on.
	Failed []FailedRow
	// Retry is the row that failed transiently; the room's rows after it
	// wait for it.
	Retry *RetryRow
}

// SentRow is a delivered row.
type SentRow struct {
	ID      int64
	EventID string
}

// FailedRow is a row the homeserver refused for good.
type FailedRow struct {
	ID    int64
	Cause string
}

// RetryRow is a row to try again after Backoff.
type RetryRow struct {
	ID      int64
	Backoff time.Duration
	Cause   string
}

// FinishRoom records a leased room's results and releases its lease, in
// one round trip.
func (s *Store) FinishRoom(ctx context.Context, owner, roomID string, res RoomResult) error {
	b := &pgx.Batch{}
	for _, r := range res.Sent {
		b.Queue(`UPDATE outbox SET sent_at = clock_timestamp(), sent_event_id = NULLIF($2, ''), last_error = NULL
			WHERE id = $1`, r.ID, r.EventID)
	}
	for _, f := range res.Failed {
		b.Queue(`UPDATE outbox SET failed = true, attempts = attempts + 1, last_error = $2 WHERE id = $1`, f.ID, f.Cause)
	}
	if r := res.Retry; r != nil {
		b.Queue(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = clock_timestamp() + $2::interval, last_error = $3
			WHERE id = $1`, r.ID, r.Backoff, r.Cause)
	}
	b.Queue(`DELETE FROM outbox_lease WHERE room_id = $1 AND owner = $2`, roomID, owner)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("finish outbox room %s: %w", roomID, err)
	}
	return nil
}

// Enqueue adds actions for a room outside a floor decision (e.g. the
// follow-up of a join that the sender performed).
func (s *Store) Enqueue(ctx context.Context, roomID string, actions ...Action) error {
	b := &pgx.Batch{}
	if err := queueInsertActions(b, roomID, actions); err != nil {
		return err
	}
	return s.pool.SendBatch(ctx, b).Close()
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
