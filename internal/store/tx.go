package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// BatchSize bounds how many inbox events of one room one decision handles:
// big enough to amortise the commit, small enough to keep the room lock
// short.
const BatchSize = 256

// Tx is one decision transaction on one connection, for one room or for
// several decided together (the decision package's group commit). It
// never decides anything itself: the decision package locks rooms, runs
// the engine and queues the writes here.
//
// Round trips are the cost of a decision, so statements are pipelined:
// writes are queued, and go to PostgreSQL ahead of the next read or with
// the commit. A decision of one room or many thus takes two round trips:
// BEGIN + the locks + pending events + clock in the first (LockRooms),
// every write + COMMIT in the second. Statements are the next cost: the
// locks, the reads and every write but the rooms' rows are one statement
// for all the rooms of a batch.
type Tx struct {
	ctx    context.Context
	store  *Store
	conn   *pgx.Conn
	queued *pgx.Batch // not yet sent; a save's callback reads its result when they are
	// owner names whom statements queued now belong to, and marks where
	// each owner's statements begin in queued (see SetOwner).
	owner string
	marks []ownerMark
	// prefetched holds rooms LockRooms locked, until LockRoom hands them out.
	prefetched map[string]lockResult
	// devices are the devices locked ahead, with the rooms they held then;
	// saved the holders of the rooms this transaction wrote (devices.go).
	devices map[floor.Device][]string
	saved   map[string]holding
	// writes are the rows decisions appended, written with the next
	// round trip, one statement per table for all rooms (writes.go).
	writes writes
	// written are copies of the rooms saved, as of the versions their
	// rows got: the store's cache takes them when the transaction commits.
	written []cachedRoom
}

// LockedRoom is a room as a decision sees it, under its row lock.
type LockedRoom struct {
	Room   *floor.Room
	Joined bool
	// Now is the database clock (plus the test offset) at the lock.
	Now time.Time
	// Events are the room's undecided inbox events, in arrival order.
	Events []InboxEvent
}

// OutboxRow is one Matrix call to make after commit, already encoded by
// the codec: the store does not know what it means.
type OutboxRow struct {
	Kind    string
	Payload json.RawMessage
}

// genericPlans keeps PostgreSQL from planning a decision's statements
// again and again. A statement given lists (of rooms, of rows) gets a
// plan of its own for the lists' lengths as long as the planner thinks
// that cheaper than the generic plan, and that it often thought, planning
// several times a decision's worth of execution. The generic plans are
// index scans of the rows named (see the EXPLAINs in
// store/plans_test.go), whatever the lengths.
const genericPlans = "SET LOCAL plan_cache_mode = force_generic_plan"

// InTx runs fn in a database transaction and commits what it queued. A
// conflict with another transaction (deadlock, serialisation failure,
// racing room insert) runs fn again from the start, so fn must not keep
// state across attempts. A panic in fn becomes a poison error (see
// IsPoisoned). It returns the database clock at the end of the writes,
// just before the commit.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) (time.Time, error) {
	var written time.Time
	err := retryConflicts(ctx, func() error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		tx := &Tx{ctx: ctx, store: s, conn: conn.Conn(), queued: &pgx.Batch{}, marks: []ownerMark{{}}}
		tx.queued.Queue("BEGIN")
		tx.queued.Queue(genericPlans)
		err = func() (err error) {
			defer recoverDecision(&err)
			return fn(tx)
		}()
		if err == nil {
			written, err = tx.commit()
		}
		if err == nil {
			tx.cacheSaved()
		}
		if err != nil {
			// A broken connection is dropped by the pool instead.
			_, _ = tx.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	})
	return written, err
}

// SaveTransaction queues the statement that makes an appservice
// transaction's events durable (see Store.SaveTransaction); it goes out
// with the next round trip, which calls saved with its result.
func (tx *Tx) SaveTransaction(txnID string, events []InboxEvent, saved func(replay bool, rooms []string)) {
	queueSaveTransaction(tx.queued, txnID, events, tx.store.clockOffset()).QueryRow(func(row pgx.Row) error {
		var replay bool
		var rooms []string
		if err := row.Scan(&replay, &rooms); err != nil {
			return err
		}
		saved(replay, rooms)
		return nil
	})
}

// BusyElsewhere reports whether the device holds the floor in another room
// the controller is still in (a floor left behind in a room the bot was
// kicked from holds nobody). It first takes a transaction-scoped advisory
// lock on the device, so two rooms deciding about one device at once see
// each other's grant (the second waits for the first to commit). Holding
// it while locking another room can deadlock; InTx retries that.
func (tx *Tx) BusyElsewhere(roomID string, d floor.Device) (bool, error) {
	if busy, known := tx.busyKnown(roomID, d); known {
		return busy, nil
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtext($1))`, deviceKey(d))
	b.Queue(`SELECT EXISTS (SELECT 1 FROM room
		WHERE holder_user = $1 AND holder_device = $2 AND room_id <> $3 AND joined)`, d.UserID, d.DeviceID, roomID)
	br, err := tx.send(b)
	if err != nil {
		return false, err
	}
	var busy bool
	_, err = br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&busy)
	}
	return busy, tx.owned(errors.Join(err, br.Close()), tx.owner)
}

// SaveRoom queues the room's new state and the columns copied from it for
// indexes, the timer poll, busy_elsewhere and metrics, with the room's
// next version; a copy of the room goes to the store's cache as of that
// version when the transaction commits. (One statement per room: measured
// against one UPDATE ... FROM unnest for the whole batch, it cost
// PostgreSQL no more, and a refused row names its room.)
func (tx *Tx) SaveRoom(room *floor.Room, joined bool, now time.Time) error {
	state, err := json.Marshal(room)
	if err != nil {
		return Poison(fmt.Errorf("encode room state: %w", err))
	}
	var holderUser, holderDevice *string
	if room.Holder != nil {
		holderUser, holderDevice = &room.Holder.UserID, &room.Holder.DeviceID
	}
	var deadline *time.Time
	if d := room.NextDeadline(); !d.IsZero() {
		deadline = &d
	}
	var copied *floor.Room
	if tx.store.rooms != nil {
		copied = room.Clone()
	}
	tx.noteSaved(room, joined)
	tx.queued.Queue(`UPDATE room SET state = $2, joined = $3, managed = $4, passive = $5, term = $6,
		holder_user = $7, holder_device = $8, queue_length = $9, next_deadline = $10, valid_permits = $11,
		version = nextval('room_version'), updated_at = clock_timestamp()
		WHERE room_id = $1 RETURNING version`,
		room.RoomID, state, joined, room.Managed, room.Passive, room.Term,
		holderUser, holderDevice, len(room.Queue), deadline, room.ValidPermits(now)).QueryRow(func(row pgx.Row) error {
		var version int64
		if err := row.Scan(&version); err != nil {
			return err // pgx.ErrNoRows: the room's row is gone
		}
		if copied != nil {
			tx.written = append(tx.written, cachedRoom{roomID: room.RoomID, version: version, room: copied})
		}
		return nil
	})
	return nil
}

// cacheSaved hands the rooms this transaction wrote to the store's cache:
// call it once the transaction committed.
func (tx *Tx) cacheSaved() {
	for _, c := range tx.written {
		tx.store.rooms.put(c)
	}
}

// AppendLog queues floor-log lines.
func (tx *Tx) AppendLog(roomID string, log []floor.LogEntry) {
	for _, e := range log {
		tx.writes.log = append(tx.writes.log, logLine{roomID, e})
	}
}

// AppendOutbox queues outbox rows, in order.
func (tx *Tx) AppendOutbox(roomID string, rows []OutboxRow) {
	for _, r := range rows {
		tx.writes.outbox = append(tx.writes.outbox, outboxLine{roomID, r})
	}
}

// MarkDecided queues the inbox marks of the events a decision handled.
func (tx *Tx) MarkDecided(events []InboxEvent) {
	for _, ev := range events {
		tx.writes.decided = append(tx.writes.decided, ev.Seq)
	}
}
