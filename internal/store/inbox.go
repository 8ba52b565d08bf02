package store

import (
	"context"
	"encoding/json"
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
		replay, rooms = false, nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO as_transaction (txn_id, event_count) VALUES ($1, $2)
				ON CONFLICT (txn_id) DO NOTHING`, txnID, len(events))
			if err != nil {
				return err
			}
			// A replayed txn ID is not the end of it: Dendrite retries a
			// failed transaction under the same ID with more events added,
			// so events are always offered and deduplicated by event ID.
			replay = tag.RowsAffected() == 0
			if len(events) == 0 {
				return nil
			}
			ids := make([]string, len(events))
			roomIDs := make([]string, len(events))
			raws := make([]string, len(events))
			for i, ev := range events {
				ids[i], roomIDs[i], raws[i] = ev.EventID, ev.RoomID, string(ev.Raw)
			}
			// ORDER BY ord keeps the homeserver's order in seq.
			rows, err := tx.Query(ctx, `INSERT INTO inbox (event_id, room_id, event)
				SELECT e.id, e.room, e.raw::json
				FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS e(id, room, raw, ord)
				ORDER BY e.ord
				ON CONFLICT (event_id) DO NOTHING
				RETURNING room_id`, ids, roomIDs, raws)
			if err != nil {
				return err
			}
			inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			rooms = distinct(inserted)
			return nil
		})
	})
	if err != nil {
		return false, nil, fmt.Errorf("save transaction %s: %w", txnID, err)
	}
	return replay, rooms, nil
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

func distinct(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
