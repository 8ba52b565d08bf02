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

// Tx is one decision transaction on one connection. It never decides
// anything itself: the decision package locks rooms, runs the engine and
// queues the writes here.
//
// Round trips are the cost of a decision, so statements are pipelined:
// writes are queued, and go to PostgreSQL ahead of the next read (the
// next room's lock) or with the commit. A decision of one room thus takes
// two round trips: BEGIN + lock + pending events + clock in the first,
// every write + COMMIT in the second.
type Tx struct {
	ctx    context.Context
	store  *Store
	conn   *pgx.Conn
	queued *pgx.Batch // not yet sent; none of them has a result callback
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
		tx := &Tx{ctx: ctx, store: s, conn: conn.Conn(), queued: &pgx.Batch{}}
		tx.queued.Queue("BEGIN")
		err = func() (err error) {
			defer recoverDecision(&err)
			return fn(tx)
		}()
		if err == nil {
			tx.queued.Queue(`SELECT clock_timestamp() + $1::interval`, s.clockOffset()).QueryRow(func(row pgx.Row) error {
				return row.Scan(&written)
			})
			tx.queued.Queue("COMMIT")
			err = tx.conn.SendBatch(ctx, tx.queued).Close()
		}
		if err != nil {
			// A broken connection is dropped by the pool instead.
			_, _ = tx.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	})
	return written, err
}

// send sends the queued statements followed by b's, and returns b's
// results (the queued statements' are checked and skipped).
func (tx *Tx) send(b *pgx.Batch) (pgx.BatchResults, error) {
	ahead := len(tx.queued.QueuedQueries)
	all := &pgx.Batch{QueuedQueries: append(tx.queued.QueuedQueries, b.QueuedQueries...)}
	tx.queued = &pgx.Batch{}
	br := tx.conn.SendBatch(tx.ctx, all)
	for range ahead {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// SaveTransaction makes an appservice transaction's events durable in this
// transaction: see Store.SaveTransaction.
func (tx *Tx) SaveTransaction(txnID string, events []InboxEvent) (replay bool, rooms []string, err error) {
	b := &pgx.Batch{}
	queueSaveTransaction(b, txnID, events, tx.store.clockOffset())
	br, err := tx.send(b)
	if err != nil {
		return false, nil, err
	}
	err = br.QueryRow().Scan(&replay, &rooms)
	return replay, rooms, errors.Join(err, br.Close())
}

// LockRoom takes the room's row lock (creating the row on first sight),
// reads the database clock and up to limit undecided events, in one round
// trip behind the queued writes. Lock rooms in sorted order: two
// transactions locking the same rooms then cannot deadlock on them.
func (tx *Tx) LockRoom(roomID string, limit int) (LockedRoom, error) {
	var (
		state  []byte
		locked LockedRoom
	)
	b := &pgx.Batch{}
	b.Queue(`SELECT state, joined, clock_timestamp() + $2::interval FROM room WHERE room_id = $1 FOR UPDATE`, roomID, tx.store.clockOffset())
	b.Queue(pendingEventsSQL, roomID, limit)
	br, err := tx.send(b)
	if err != nil {
		return locked, err
	}
	defer br.Close()
	lockErr := br.QueryRow().Scan(&state, &locked.Joined, &locked.Now)
	if lockErr != nil && !errors.Is(lockErr, pgx.ErrNoRows) {
		return locked, lockErr
	}
	rows, err := br.Query()
	if err != nil {
		return locked, err
	}
	if locked.Events, err = pgx.CollectRows(rows, scanInboxEvent); err != nil {
		return locked, err
	}
	if err := br.Close(); err != nil {
		return locked, err
	}
	opts := tx.store.opts
	if errors.Is(lockErr, pgx.ErrNoRows) {
		locked.Room = floor.NewRoom(roomID, opts.Controller, opts.Defaults)
		state, err := json.Marshal(locked.Room)
		if err != nil {
			return locked, err
		}
		// Our uncommitted insert is our lock; a racing replica's insert
		// fails with a unique violation and InTx runs it again.
		err = tx.conn.QueryRow(tx.ctx, `INSERT INTO room (room_id, state) VALUES ($1, $2) RETURNING clock_timestamp() + $3::interval`,
			roomID, state, tx.store.clockOffset()).Scan(&locked.Now)
		return locked, err
	}
	locked.Room = new(floor.Room)
	if err := json.Unmarshal(state, locked.Room); err != nil {
		return locked, fmt.Errorf("decode room state: %w", err)
	}
	locked.Room.Controller = opts.Controller
	locked.Room.ApplyDefaults(opts.Defaults)
	return locked, nil
}

const pendingEventsSQL = `SELECT seq, event_id, room_id, event::text, received_at FROM inbox
	WHERE room_id = $1 AND processed_at IS NULL ORDER BY seq LIMIT $2`

func scanInboxEvent(row pgx.CollectableRow) (InboxEvent, error) {
	var ev InboxEvent
	var raw string
	err := row.Scan(&ev.Seq, &ev.EventID, &ev.RoomID, &raw, &ev.ReceivedAt)
	ev.Raw = json.RawMessage(raw)
	return ev, err
}

// BusyElsewhere reports whether the device holds the floor in another room
// the controller is still in (a floor left behind in a room the bot was
// kicked from holds nobody). It first takes a transaction-scoped advisory
// lock on the device, so two rooms deciding about one device at once see
// each other's grant (the second waits for the first to commit). Holding
// it while locking another room can deadlock; InTx retries that.
func (tx *Tx) BusyElsewhere(roomID string, d floor.Device) (bool, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock(hashtext($1))`, d.UserID+"|"+d.DeviceID)
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
	return busy, errors.Join(err, br.Close())
}

// SaveRoom queues the room's new state and the columns copied from it for
// indexes, the timer poll, busy_elsewhere and metrics.
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
	tx.queued.Queue(`UPDATE room SET state = $2, joined = $3, managed = $4, passive = $5, term = $6,
		holder_user = $7, holder_device = $8, queue_length = $9, next_deadline = $10, valid_permits = $11,
		updated_at = clock_timestamp()
		WHERE room_id = $1`,
		room.RoomID, state, joined, room.Managed, room.Passive, room.Term,
		holderUser, holderDevice, len(room.Queue), deadline, room.ValidPermits(now))
	return nil
}

// AppendLog queues floor-log lines.
func (tx *Tx) AppendLog(roomID string, log []floor.LogEntry) {
	if len(log) == 0 {
		return
	}
	n := len(log)
	actions, users, devices, reasons, eventIDs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	terms := make([]int64, n)
	for i, e := range log {
		actions[i], users[i], devices[i], terms[i], reasons[i], eventIDs[i] = string(e.Action), e.Device.UserID, e.Device.DeviceID, e.Term, string(e.Reason), e.EventID
	}
	tx.queued.Queue(`INSERT INTO floor_log (room_id, action, user_id, device_id, term, reason, event_id)
		SELECT $1, a, u, d, t, r, e FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])
		WITH ORDINALITY AS x(a, u, d, t, r, e, ord) ORDER BY ord`,
		roomID, actions, users, devices, terms, reasons, eventIDs)
}

// AppendOutbox queues outbox rows, in order.
func (tx *Tx) AppendOutbox(roomID string, rows []OutboxRow) {
	queueOutboxRows(tx.queued, roomID, rows)
}

// MarkDecided queues the inbox marks of the events a decision handled.
func (tx *Tx) MarkDecided(events []InboxEvent) {
	if len(events) == 0 {
		return
	}
	seqs := make([]int64, len(events))
	for i, ev := range events {
		seqs[i] = ev.Seq
	}
	tx.queued.Queue(`UPDATE inbox SET processed_at = clock_timestamp() WHERE seq = ANY($1)`, seqs)
}
