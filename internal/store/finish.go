package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Finished is a leased room's results, for FinishRooms.
type Finished struct {
	Room   RoomBatch
	Result RoomResult
}

// FinishRoom records a leased room's results and releases its lease, in
// one round trip. The room is marked idle only when every row it read was
// dealt with, the batch was not cut at maxRowsPerClaim, and no decision
// added rows since the lease was taken (gen unchanged); otherwise it is
// due again at once, or after the backoff of a row to retry.
//
// A lease is named by owner and until together: if this one ran out and
// the room was leased again (even by this process), only the sent marks
// are recorded (they are facts; the homeserver deduplicates the re-send).
// Failures and retries belong to the current lease's holder, who is
// sending the same rows. (Each statement checks the lease for itself: if
// it runs out in the middle of the batch, a failure mark may still land
// after the room was claimed again, which only costs that holder a
// re-send the homeserver deduplicates.)
func (s *Store) FinishRoom(ctx context.Context, owner string, room RoomBatch, res RoomResult) error {
	_, err := s.FinishRooms(ctx, owner, []Finished{{Room: room, Result: res}})
	return err
}

// FinishRooms does what FinishRoom does for several rooms in one round
// trip and one commit, and says how many of them are due again at once
// (rows came meanwhile, or were left over): the sender claims them.
// Every room's sent rows are marked in one statement, and every lease
// released in another, rooms in sorted order (as decisions lock them), so
// decisions waiting for those rows wait for the commit only. Should that
// fail, each room is recorded alone, so one room's results cannot lose
// the others'.
func (s *Store) FinishRooms(ctx context.Context, owner string, rooms []Finished) (dueAgain int, err error) {
	rooms = slices.SortedFunc(slices.Values(rooms), func(a, b Finished) int { return strings.Compare(a.Room.RoomID, b.Room.RoomID) })
	err = retryConflicts(ctx, func() error {
		b := &pgx.Batch{}
		// The results need not wait for the WAL flush: lost in a crash,
		// the rows are sent again with the same txn IDs, as after a crash
		// mid-send. Whoever acts on them durably (a decision finding the
		// room idle, a claim) flushes them with its own commit, since WAL
		// is flushed in order. Not waiting frees the sender's slot, and
		// the room rows the release locks, a disk flush earlier.
		b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
		var sent []SentRow
		for _, f := range rooms {
			sent = append(sent, f.Result.Sent...)
		}
		queueSent(b, sent)
		for _, f := range rooms {
			queueGivenUp(b, owner, f.Room, f.Result)
		}
		queueRelease(b, owner, rooms).Query(func(rows pgx.Rows) error {
			dueAgain = 0
			for rows.Next() {
				var due bool
				if err := rows.Scan(&due); err != nil {
					return err
				}
				if due {
					dueAgain++
				}
			}
			return rows.Err()
		})
		return s.pool.SendBatch(ctx, b).Close()
	})
	if err == nil {
		return dueAgain, nil
	}
	if len(rooms) == 1 || ctx.Err() != nil {
		return 0, fmt.Errorf("finish outbox room %s: %w", rooms[0].Room.RoomID, err)
	}
	var errs error
	dueAgain = 0
	for _, f := range rooms {
		n, err := s.FinishRooms(ctx, owner, []Finished{f})
		dueAgain += n
		errs = errors.Join(errs, err)
	}
	return dueAgain, errs
}

// queueRelease releases the rooms' leases in one statement: each idle
// when drained, due again at once or after a retry's backoff otherwise.
// It returns, per room released, whether it is due again now.
func queueRelease(b *pgx.Batch, owner string, rooms []Finished) *pgx.QueuedQuery {
	n := len(rooms)
	ids, untils, gens := make([]string, n), make([]time.Time, n), make([]int64, n)
	backoffs := make([]int64, n) // microseconds, -1: none
	drained := make([]bool, n)
	for i, f := range rooms {
		room, res := f.Room, f.Result
		ids[i], untils[i], gens[i], backoffs[i] = room.RoomID, room.until, room.gen, -1
		if r := res.Retry; r != nil {
			backoffs[i] = r.Backoff.Microseconds()
		}
		drained[i] = res.Retry == nil && len(res.Sent)+len(res.Failed) == len(room.Items) && !room.cut
	}
	// gen in the SET clause is the latest row version's: a decision that
	// added rows after the lease was taken keeps the room due. No join
	// with unnest (see queueSent): each room finds its own entries.
	return b.Queue(releaseSQL, owner, ids, untils, backoffs, drained, gens)
}

// releaseSQL releases owner $1's leases of rooms $2 (each named by its
// until in $3): due after a backoff of $4 microseconds (-1: none), idle
// when drained ($5) and its gen unchanged ($6), due now otherwise.
const releaseSQL = `UPDATE outbox_room SET owner = NULL, until = NULL,
		due = CASE WHEN ($4::bigint[])[array_position($2::text[], room_id)] >= 0
		                THEN clock_timestamp() + ($4::bigint[])[array_position($2::text[], room_id)] * interval '1 microsecond'
		           WHEN ($5::bool[])[array_position($2::text[], room_id)] AND gen = ($6::bigint[])[array_position($2::text[], room_id)]
		                THEN 'infinity'::timestamptz
		           ELSE clock_timestamp() END
		WHERE room_id = ANY($2) AND owner = $1 AND until = ($3::timestamptz[])[array_position($2::text[], room_id)]
		RETURNING due <= clock_timestamp()`
