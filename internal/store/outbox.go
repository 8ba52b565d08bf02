package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	gen    int64     // outbox_room.gen when leased
	until  time.Time // outbox_room.until: with the owner, names this lease
	// deadline is when the lease runs out by this process's clock,
	// measured from before the lease was taken, so the holder never
	// thinks it has more time than the database gave it.
	deadline time.Time
	// cut: more of the room's rows wait than the batch holds.
	cut bool
}

// Deadline is when the lease runs out, by this process's clock: sending
// and recording the results must end before it.
func (b RoomBatch) Deadline() time.Time { return b.deadline }

// WithDeadline is b with its local deadline set: a claim's caller measures
// it by its own clock from before the claim (ClaimRooms does not read the
// process clock).
func (b RoomBatch) WithDeadline(d time.Time) RoomBatch {
	b.deadline = d
	return b
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

// ClaimRooms leases up to limit rooms whose rows are due and returns their
// unsent rows in order. A room leased by another live sender is skipped; a
// lease whose owner died runs out and the room is claimed again (its rows
// re-sent with the same txn IDs).
//
// Taking the leases and reading the rows are two statements on purpose:
// the rows must be read on a snapshot taken after the lease, or rows the
// previous holder sent just before letting go would look unsent and go
// out twice (a floor state could then overtake a newer one).
func (s *Store) ClaimRooms(ctx context.Context, owner string, limit int, lease time.Duration) ([]RoomBatch, error) {
	// The UPDATE re-checks the lease on the latest row version, so two
	// senders never both take a room. The scan on due is bounded by the
	// index (outbox_room_waiting): a stable now (statement_timestamp, not
	// the volatile clock_timestamp) can be an index condition, so the
	// scan stops at the first room not yet due instead of reading every
	// room to fill the LIMIT. The rooms found are updated by their key
	// (= ANY of an array), which no plan turns into a scan of the table.
	rows, err := s.pool.Query(ctx, claimSQL, owner, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	leased, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (leasedRoom, error) {
		var l leasedRoom
		return l, row.Scan(&l.id, &l.gen, &l.until)
	})
	if err != nil || len(leased) == 0 {
		return nil, err
	}
	ids := make([]string, len(leased))
	for i, l := range leased {
		ids[i] = l.id
	}
	rows, err = s.pool.Query(ctx, `
		SELECT id, room_id, kind, payload::text, attempts, created_at FROM (
			SELECT o.*, row_number() OVER (PARTITION BY o.room_id ORDER BY o.id) AS n
			FROM outbox o WHERE o.room_id = ANY($1) AND o.sent_at IS NULL AND NOT o.failed
		) numbered WHERE n <= $2 ORDER BY room_id, id`, ids, maxRowsPerClaim)
	if err != nil {
		return nil, s.letGo(ctx, owner, leased, fmt.Errorf("claim outbox: %w", err))
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
		return nil, s.letGo(ctx, owner, leased, fmt.Errorf("claim outbox: %w", err))
	}
	byRoom := map[string]*RoomBatch{}
	batches := make([]RoomBatch, len(leased))
	for i, l := range leased {
		batches[i] = RoomBatch{RoomID: l.id, gen: l.gen, until: l.until}
		byRoom[l.id] = &batches[i]
	}
	for _, it := range items {
		b := byRoom[it.RoomID]
		b.Items = append(b.Items, it)
		b.cut = len(b.Items) == maxRowsPerClaim
	}
	// A room with nothing left (another sender finished it meanwhile) is
	// let go at once; FinishRooms marks it idle unless rows came meanwhile.
	// Should that fail, the lease runs out and the room is claimed again.
	var out []RoomBatch
	var finishErr error
	for _, b := range batches {
		if len(b.Items) == 0 {
			_, err := s.FinishRooms(ctx, owner, []Finished{{Room: b}})
			finishErr = errors.Join(finishErr, err)
			continue
		}
		out = append(out, b)
	}
	return out, finishErr
}

// letGo releases leases taken by a claim that then failed, so the rooms
// are not left waiting for the lease to run out; best effort (if this
// fails too, the lease does run out). It returns cause.
func (s *Store) letGo(ctx context.Context, owner string, leased []leasedRoom, cause error) error {
	ids := make([]string, len(leased))
	untils := make([]time.Time, len(leased))
	for i, l := range leased {
		ids[i], untils[i] = l.id, l.until
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `UPDATE outbox_room r SET owner = NULL, until = NULL
		FROM unnest($2::text[], $3::timestamptz[]) AS l(room_id, until)
		WHERE r.room_id = l.room_id AND r.owner = $1 AND r.until = l.until`, owner, ids, untils)
	return errors.Join(cause, err)
}

// leasedRoom is one row a claim's UPDATE returned.
type leasedRoom struct {
	id    string
	gen   int64
	until time.Time
}

// claimSQL leases up to $3 due rooms to owner $1 for $2 (see ClaimRooms).
const claimSQL = `UPDATE outbox_room r SET owner = $1, until = clock_timestamp() + $2::interval
	WHERE r.room_id = ANY(ARRAY(
		SELECT room_id FROM outbox_room
		WHERE due <> 'infinity' AND due <= statement_timestamp() AND (until IS NULL OR until < clock_timestamp())
		ORDER BY due LIMIT $3
		FOR UPDATE SKIP LOCKED
	)) AND (r.until IS NULL OR r.until < clock_timestamp())
	RETURNING r.room_id, r.gen, r.until`

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
	// Uncounted: this attempt does not count toward the sender's cap (a
	// 401: the homeserver refused Walkie as a whole, not this row).
	Uncounted bool
}

// queueSent marks rows sent, with the event IDs the homeserver answered.
func queueSent(b *pgx.Batch, sent []SentRow) {
	if len(sent) == 0 {
		return
	}
	ids, eventIDs := make([]int64, len(sent)), make([]string, len(sent))
	for i, r := range sent {
		ids[i], eventIDs[i] = r.ID, r.EventID
	}
	// No join: a join with unnest costs more than the rows it updates
	// here, and was once planned as a scan of the whole outbox.
	b.Queue(`UPDATE outbox SET sent_at = clock_timestamp(), last_error = NULL,
		sent_event_id = NULLIF(($2::text[])[array_position($1::bigint[], id)], '')
		WHERE id = ANY($1)`, ids, eventIDs)
}

// queueGivenUp records a room's failed rows and the row to retry, if the
// lease is still the one the rows were read under.
func queueGivenUp(b *pgx.Batch, owner string, room RoomBatch, res RoomResult) {
	for _, f := range res.Failed {
		b.Queue(`UPDATE outbox SET failed = true, attempts = attempts + 1, last_error = $2
			WHERE id = $1 AND EXISTS (SELECT 1 FROM outbox_room WHERE room_id = $3 AND owner = $4 AND until = $5)`,
			f.ID, f.Cause, room.RoomID, owner, room.until)
	}
	if r := res.Retry; r != nil {
		b.Queue(`UPDATE outbox SET attempts = attempts + CASE WHEN $6 THEN 0 ELSE 1 END, last_error = $2
			WHERE id = $1 AND EXISTS (SELECT 1 FROM outbox_room WHERE room_id = $3 AND owner = $4 AND until = $5)`,
			r.ID, r.Cause, room.RoomID, owner, room.until, r.Uncounted)
	}
}

// Enqueue adds outbox rows for a room outside a floor decision (state
// reloads at start-up).
//
// It takes the room's row lock, as a decision does (the batch is one
// implicit transaction): outbox IDs are then handed out in commit order
// within a room, so a sender can never read a later row of the room while
// an earlier one is still uncommitted, and send them out of order.
func (s *Store) Enqueue(ctx context.Context, roomID string, rows ...OutboxRow) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT 1 FROM room WHERE room_id = $1 FOR UPDATE`, roomID)
	queueOutboxRows(b, roomID, rows)
	return s.pool.SendBatch(ctx, b).Close()
}

// queueOutboxRows appends outbox rows in order and marks the room due.
func queueOutboxRows(b *pgx.Batch, roomID string, rows []OutboxRow) {
	lines := make([]outboxLine, len(rows))
	for i, r := range rows {
		lines[i] = outboxLine{roomID, r}
	}
	queueOutbox(b, lines, nil)
}

// queueRoomsDue tells the senders: the rooms are due now, unless one
// already waits (for a retry's backoff, or in a sender's hands), and
// their generation moves on so a sender finishing an older batch keeps
// them due. Each room once, in the order given (row locks are taken so).
func queueRoomsDue(b *pgx.Batch, rooms []string) {
	b.Queue(`INSERT INTO outbox_room (room_id, due, gen)
		SELECT m, clock_timestamp(), 1 FROM unnest($1::text[]) WITH ORDINALITY AS x(m, ord) ORDER BY ord
		ON CONFLICT (room_id) DO UPDATE SET gen = outbox_room.gen + 1,
			due = CASE WHEN outbox_room.due = 'infinity' THEN clock_timestamp() ELSE outbox_room.due END`, rooms)
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

// StoredRow is an outbox row as an admin retry sees it.
type StoredRow struct {
	ID      int64
	Kind    string
	Payload json.RawMessage
}

// FailedRows lists a room's failed rows with every row after them, oldest
// first, so the caller can tell which failed row a later one replaces.
func (s *Store) FailedRows(ctx context.Context, roomID string) (failed []StoredRow, later []StoredRow, err error) {
	rows, err := s.pool.Query(ctx, `SELECT id, kind, payload::text, failed FROM outbox
		WHERE room_id = $1 AND id >= (SELECT min(id) FROM outbox WHERE room_id = $1 AND failed) ORDER BY id`, roomID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r StoredRow
		var payload string
		var isFailed bool
		if err := rows.Scan(&r.ID, &r.Kind, &payload, &isFailed); err != nil {
			return nil, nil, err
		}
		r.Payload = json.RawMessage(payload)
		if isFailed {
			failed = append(failed, r)
		} else {
			later = append(later, r)
		}
	}
	return failed, later, rows.Err()
}

// Requeue makes failed rows of a room unsent again, with their attempts
// reset, and the room due; it returns how many rows it requeued. They keep
// their IDs, so they go out before the room's newer unsent rows.
func (s *Store) Requeue(ctx context.Context, roomID string, ids []int64) (int64, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT 1 FROM room WHERE room_id = $1 FOR UPDATE`, roomID)
	var n int64
	b.Queue(`UPDATE outbox SET failed = false, attempts = 0, last_error = NULL
		WHERE room_id = $1 AND id = ANY($2) AND failed AND sent_at IS NULL`, roomID, ids).Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	queueRoomsDue(b, []string{roomID})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("requeue outbox rows of %s: %w", roomID, err)
	}
	return n, nil
}
