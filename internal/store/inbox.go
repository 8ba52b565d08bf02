package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// InboxEvent is one event of an appservice transaction.
type InboxEvent struct {
	Seq        int64
	EventID    string
	RoomID     string
	Raw        json.RawMessage
	ReceivedAt time.Time
}

// SaveTransaction makes an appservice transaction durable: it records the
// txn ID and appends its events to the inbox in one database transaction.
// It reports replay when the txn ID was seen before, and returns the rooms
// that got new events. Events already in the inbox (same event ID, whether
// replayed or delivered again in another transaction) are not added twice.
func (s *Store) SaveTransaction(ctx context.Context, txnID string, events []InboxEvent) (replay bool, rooms []string, err error) {
	err = retryConflicts(ctx, func() error {
		b := &pgx.Batch{}
		queueSaveTransaction(b, txnID, events, s.clockOffset())
		br := s.pool.SendBatch(ctx, b)
		err := br.QueryRow().Scan(&replay, &rooms)
		return errors.Join(err, br.Close())
	})
	if err != nil {
		return false, nil, fmt.Errorf("save transaction %s: %w", txnID, err)
	}
	return replay, rooms, nil
}

// queueSaveTransaction queues the one statement that stores a transaction;
// its row answers (replay, rooms with new events). A replayed txn ID is
// not the end of it: Dendrite retries a failed transaction under the same
// ID with more events added, so events are always offered and deduplicated
// by event ID. ORDER BY ord keeps the homeserver's order in seq.
// received_at is on the clock decisions read (the test offset included):
// the engine dates events by it.
func queueSaveTransaction(b *pgx.Batch, txnID string, events []InboxEvent, clockOffset time.Duration) *pgx.QueuedQuery {
	ids := make([]string, len(events))
	roomIDs := make([]string, len(events))
	raws := make([]string, len(events))
	for i, ev := range events {
		ids[i], roomIDs[i], raws[i] = ev.EventID, ev.RoomID, string(ev.Raw)
	}
	return b.Queue(`
		WITH txn AS (
			INSERT INTO as_transaction (txn_id, event_count) VALUES ($1, $2)
			ON CONFLICT (txn_id) DO NOTHING RETURNING 1
		), stored AS (
			INSERT INTO inbox (event_id, room_id, event, received_at)
			SELECT e.id, e.room, e.raw::json, clock_timestamp() + $6::interval
			FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS e(id, room, raw, ord)
			ORDER BY e.ord
			ON CONFLICT (event_id) DO NOTHING
			RETURNING room_id
		)
		SELECT NOT EXISTS (SELECT 1 FROM txn), coalesce(array_agg(DISTINCT room_id), '{}') FROM stored`,
		txnID, len(events), ids, roomIDs, raws, clockOffset)
}

// PendingRooms lists rooms with unprocessed inbox events: after a restart,
// or when another replica died between acknowledging and processing.
func (s *Store) PendingRooms(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT room_id FROM inbox WHERE processed_at IS NULL LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// InboxBacklog counts events acknowledged to the homeserver but not yet
// decided, and how long the oldest of them has waited (database clock).
// Both stay near zero unless decisions fail or fall behind.
func (s *Store) InboxBacklog(ctx context.Context) (pending int64, oldest time.Duration, err error) {
	var age float64
	err = s.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(received_at)), 0)
		FROM inbox WHERE processed_at IS NULL`).Scan(&pending, &age)
	return pending, time.Duration(age * float64(time.Second)), err
}

// PruneInbox deletes processed events and acknowledged transaction IDs older
// than the retention. The homeserver retries a transaction for minutes, not
// days, so a day of memory is plenty for deduplication.
func (s *Store) PruneInbox(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM inbox WHERE processed_at < clock_timestamp() - $1::interval`, olderThan)
	if err != nil {
		return 0, err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM as_transaction WHERE received_at < clock_timestamp() - $1::interval`, olderThan); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
