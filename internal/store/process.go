package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// batchSize bounds how many inbox events of one room one decision
// transaction handles: big enough to amortise the commit, small enough to
// keep the room lock short.
const BatchSize = 256

// Handler is the Matrix adapter's part of a decision. The store knows no
// Matrix event shapes: the handler turns raw events into engine inputs and
// engine effects into outbox actions (the Matrix requests to make).
type Handler interface {
	Translate(room *floor.Room, ev InboxEvent) Translation
	Render(room *floor.Room, eff floor.Effect) []Action
}

// Translation is what one inbox event means for a room.
type Translation struct {
	Inputs  []floor.Input
	Actions []Action
	// Joined, when set, records the controller's own membership change.
	Joined *bool
}

// Action is one row of the outbox: a Matrix request to make after commit.
type Action struct {
	Kind    string
	Payload any // marshalled to JSON
}

// Outcome summarises a committed decision transaction for logs and metrics.
type Outcome struct {
	RoomID string
	// Events are the inbox events processed (ReceivedAt gives latency).
	Events []InboxEvent
	Log    []floor.LogEntry
	// Actions is how many outbox rows were written.
	Actions int
	Managed bool
	Ticked  bool
	// CommittedAt is the database clock when the decision's writes were
	// done (just before the commit); with InboxEvent.ReceivedAt, from the
	// same clock, it gives the decision latency.
	CommittedAt time.Time
	// HolderBefore is a copy of the holder before the transaction (nil when
	// idle); with After it tells how long a released floor was held.
	HolderBefore *floor.Holder
	// After is the room after commit (nil when nothing happened).
	After *floor.Room
}

// Process runs one decision transaction for a room: it locks the room's row,
// applies the given inputs, then the room's pending inbox events in arrival
// order, then fires due timers, and writes the room, the floor log, the
// outbox and the inbox marks before commit. Nothing is decided outside it.
//
// The transaction takes two round trips to PostgreSQL (three when a
// device's grant must be checked against other rooms): begin, lock and
// read go in one pipeline, all writes and the commit in another.
func (s *Store) Process(ctx context.Context, roomID string, h Handler, inputs ...floor.Input) (Outcome, error) {
	return s.process(ctx, roomID, BatchSize, h, inputs)
}

// ProcessInputs is Process without the room's pending events (the room
// worker decides them next): a failure is then the inputs' own.
func (s *Store) ProcessInputs(ctx context.Context, roomID string, h Handler, inputs ...floor.Input) (Outcome, error) {
	return s.process(ctx, roomID, 0, h, inputs)
}

func (s *Store) process(ctx context.Context, roomID string, limit int, h Handler, inputs []floor.Input) (Outcome, error) {
	var out Outcome
	committed, err := s.inTransaction(ctx, func(conn *pgx.Conn, writes *pgx.Batch) error {
		out = Outcome{RoomID: roomID}
		begin := &pgx.Batch{}
		begin.Queue("BEGIN")
		return s.decideRoom(ctx, conn, begin, roomID, limit, h, inputs, &out, writes)
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("process room %s: %w", roomID, err)
	}
	out.CommittedAt = committed
	return out, nil
}

// SaveAndDecide makes an appservice transaction durable and decides its
// rooms in the same database transaction: one commit where SaveTransaction
// followed by Process needs two, and the homeserver's acknowledgement then
// also means "decided". Rooms are locked in sorted order, so concurrent
// calls cannot deadlock on rooms. more lists rooms that still have pending
// events (over BatchSize); the caller schedules them.
func (s *Store) SaveAndDecide(ctx context.Context, txnID string, events []InboxEvent, h Handler) (replay bool, outs []Outcome, more []string, err error) {
	committed, err := s.inTransaction(ctx, func(conn *pgx.Conn, writes *pgx.Batch) error {
		outs, more = nil, nil
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		queueSaveTransaction(b, txnID, events)
		br := conn.SendBatch(ctx, b)
		_, err := br.Exec()
		var rooms []string
		if err == nil {
			err = br.QueryRow().Scan(&replay, &rooms)
		}
		if err := errors.Join(err, br.Close()); err != nil {
			return err
		}
		sort.Strings(rooms)
		for _, roomID := range rooms {
			out := Outcome{RoomID: roomID}
			// The rooms decided so far must be written before this one is
			// read: a device granted (or released) there is busy (or free)
			// here, and busyElsewhere asks the database. Their writes go
			// ahead of this room's lock, in the same round trip.
			prior := &pgx.Batch{QueuedQueries: writes.QueuedQueries}
			writes.QueuedQueries = nil
			if err := s.decideRoom(ctx, conn, prior, roomID, BatchSize, h, nil, &out, writes); err != nil {
				return err
			}
			outs = append(outs, out)
			if len(out.Events) == BatchSize {
				more = append(more, roomID)
			}
		}
		return nil
	})
	if err != nil {
		return false, nil, nil, fmt.Errorf("save and decide transaction %s: %w", txnID, err)
	}
	for i := range outs {
		outs[i].CommittedAt = committed
	}
	return replay, outs, more, nil
}

// inTransaction runs fn on one connection and commits what it queued in
// writes, retrying conflicts. fn must open the transaction itself (its
// first round trip starts with BEGIN). It returns the database clock at
// the end of the writes, just before the commit.
func (s *Store) inTransaction(ctx context.Context, fn func(conn *pgx.Conn, writes *pgx.Batch) error) (time.Time, error) {
	var written time.Time
	err := retryConflicts(ctx, func() error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		writes := &pgx.Batch{}
		err = func() (err error) {
			defer recoverDecision(&err)
			return fn(conn.Conn(), writes)
		}()
		if err == nil {
			writes.Queue(`SELECT clock_timestamp() + $1::interval`, s.clockOffset()).QueryRow(func(row pgx.Row) error {
				return row.Scan(&written)
			})
			writes.Queue("COMMIT")
			err = conn.SendBatch(ctx, writes).Close()
		}
		if err != nil {
			// A broken connection is dropped by the pool instead.
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	})
	return written, err
}

// decideRoom locks a room (after the prefix statements: BEGIN, or the
// writes of rooms decided before in the same transaction), decides on the
// inputs, up to limit pending events and due timers, and queues the
// writes. out.After stays nil when nothing happened.
func (s *Store) decideRoom(ctx context.Context, conn *pgx.Conn, prefix *pgx.Batch, roomID string, limit int, h Handler, inputs []floor.Input, out *Outcome, writes *pgx.Batch) error {
	room, joined, now, events, err := s.lockRoom(ctx, conn, prefix, roomID, limit)
	if err != nil {
		return err
	}
	if room.Holder != nil {
		h := *room.Holder
		out.HolderBefore = &h
	}

	var envErr error
	env := floor.Env{Now: now, BusyElsewhere: func(d floor.Device) bool {
		busy, err := busyElsewhere(ctx, conn, roomID, d)
		if err != nil && envErr == nil {
			envErr = err
		}
		return busy
	}}
	var actions []Action
	decide := func(in floor.Input) {
		d := floor.Decide(room, in, env)
		room = d.Room
		out.Log = append(out.Log, d.Log...)
		// The floor state goes out first: it is what every client acts on,
		// and the responses that explain it follow right behind.
		for _, first := range []bool{true, false} {
			for _, eff := range d.Effects {
				if (eff.Kind == floor.EffectFloorState) == first {
					actions = append(actions, h.Render(room, eff)...)
				}
			}
		}
	}
	for _, in := range inputs {
		decide(in)
	}
	for _, ev := range events {
		tr := h.Translate(room, ev)
		if tr.Joined != nil {
			joined = *tr.Joined
		}
		for _, in := range tr.Inputs {
			decide(in)
		}
		actions = append(actions, tr.Actions...)
	}
	if due := room.NextDeadline(); !due.IsZero() && !due.After(now) {
		decide(floor.Tick{})
		out.Ticked = true
	}
	if envErr != nil {
		return envErr
	}
	if len(inputs) == 0 && len(events) == 0 && !out.Ticked {
		return nil // nothing happened (another replica got here first)
	}
	if err := queueSaveRoom(writes, room, joined, now); err != nil {
		return err
	}
	queueAppendLog(writes, roomID, out.Log)
	if err := queueInsertActions(writes, roomID, actions); err != nil {
		return err
	}
	queueMarkProcessed(writes, events)
	out.Events, out.Actions, out.Managed, out.After = events, len(actions), room.Managed, room
	return nil
}

// lockRoom takes the room's row lock (creating the row on first sight),
// reads the database clock and up to limit pending events, in one round
// trip that starts with the prefix statements (none, BEGIN, or earlier
// writes; none of them may have a result callback).
func (s *Store) lockRoom(ctx context.Context, conn *pgx.Conn, prefix *pgx.Batch, roomID string, limit int) (*floor.Room, bool, time.Time, []InboxEvent, error) {
	var (
		state  []byte
		joined bool
		now    time.Time
	)
	b := &pgx.Batch{}
	var ahead int
	if prefix != nil {
		b.QueuedQueries = append(b.QueuedQueries, prefix.QueuedQueries...)
		ahead = len(prefix.QueuedQueries)
	}
	b.Queue(`SELECT state, joined, clock_timestamp() + $2::interval FROM room WHERE room_id = $1 FOR UPDATE`, roomID, s.clockOffset())
	b.Queue(pendingEventsSQL, roomID, limit)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range ahead {
		if _, err := br.Exec(); err != nil {
			return nil, false, now, nil, err
		}
	}
	lockErr := br.QueryRow().Scan(&state, &joined, &now)
	if lockErr != nil && !errors.Is(lockErr, pgx.ErrNoRows) {
		return nil, false, now, nil, lockErr
	}
	rows, err := br.Query()
	if err != nil {
		return nil, false, now, nil, err
	}
	events, err := pgx.CollectRows(rows, scanInboxEvent)
	if err != nil {
		return nil, false, now, nil, err
	}
	if err := br.Close(); err != nil {
		return nil, false, now, nil, err
	}
	if errors.Is(lockErr, pgx.ErrNoRows) {
		fresh := floor.NewRoom(roomID, s.opts.Controller, s.opts.Defaults)
		state, err := json.Marshal(fresh)
		if err != nil {
			return nil, false, now, nil, err
		}
		// Our uncommitted insert is our lock; a racing replica's insert
		// fails with a unique violation and retryConflicts runs it again.
		err = conn.QueryRow(ctx, `INSERT INTO room (room_id, state) VALUES ($1, $2) RETURNING clock_timestamp() + $3::interval`,
			roomID, state, s.clockOffset()).Scan(&now)
		return fresh, false, now, events, err
	}
	room := new(floor.Room)
	if err := json.Unmarshal(state, room); err != nil {
		return nil, false, now, nil, fmt.Errorf("decode room state: %w", err)
	}
	room.Controller = s.opts.Controller
	room.ApplyDefaults(s.opts.Defaults)
	return room, joined, now, events, nil
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

// busyElsewhere counts only rooms the controller is still in: a floor left
// behind in a room the bot was kicked from holds nobody. It first takes a
// transaction-scoped advisory lock on the device, so two rooms deciding
// about one device at once see each other's grant (the second waits for
// the first to commit). Holding it while locking another room can
// deadlock; retryConflicts handles that.
func busyElsewhere(ctx context.Context, tx *pgx.Conn, roomID string, d floor.Device) (bool, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, d.UserID+"|"+d.DeviceID); err != nil {
		return false, err
	}
	var busy bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM room
		WHERE holder_user = $1 AND holder_device = $2 AND room_id <> $3 AND joined)`, d.UserID, d.DeviceID, roomID).Scan(&busy)
	return busy, err
}

func queueSaveRoom(b *pgx.Batch, room *floor.Room, joined bool, now time.Time) error {
	state, err := json.Marshal(room)
	if err != nil {
		return poisonError{fmt.Errorf("encode room state: %w", err)}
	}
	var holderUser, holderDevice *string
	if room.Holder != nil {
		holderUser, holderDevice = &room.Holder.UserID, &room.Holder.DeviceID
	}
	var deadline *time.Time
	if d := room.NextDeadline(); !d.IsZero() {
		deadline = &d
	}
	b.Queue(`UPDATE room SET state = $2, joined = $3, managed = $4, passive = $5, term = $6,
		holder_user = $7, holder_device = $8, queue_length = $9, next_deadline = $10, valid_permits = $11,
		updated_at = clock_timestamp()
		WHERE room_id = $1`,
		room.RoomID, state, joined, room.Managed, room.Passive, room.Term,
		holderUser, holderDevice, len(room.Queue), deadline, room.ValidPermits(now))
	return nil
}

func queueAppendLog(b *pgx.Batch, roomID string, log []floor.LogEntry) {
	if len(log) == 0 {
		return
	}
	n := len(log)
	actions, users, devices, reasons, eventIDs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	terms := make([]int64, n)
	for i, e := range log {
		actions[i], users[i], devices[i], terms[i], reasons[i], eventIDs[i] = string(e.Action), e.Device.UserID, e.Device.DeviceID, e.Term, string(e.Reason), e.EventID
	}
	b.Queue(`INSERT INTO floor_log (room_id, action, user_id, device_id, term, reason, event_id)
		SELECT $1, a, u, d, t, r, e FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])
		WITH ORDINALITY AS x(a, u, d, t, r, e, ord) ORDER BY ord`,
		roomID, actions, users, devices, terms, reasons, eventIDs)
}

// queueInsertActions appends outbox rows in order; Enqueue uses it too.
func queueInsertActions(b *pgx.Batch, roomID string, actions []Action) error {
	if len(actions) == 0 {
		return nil
	}
	kinds := make([]string, len(actions))
	payloads := make([]string, len(actions))
	for i, a := range actions {
		body, err := json.Marshal(a.Payload)
		if err != nil {
			return poisonError{fmt.Errorf("encode %s action: %w", a.Kind, err)}
		}
		kinds[i], payloads[i] = a.Kind, string(body)
	}
	b.Queue(`INSERT INTO outbox (room_id, kind, payload)
		SELECT $1, k, p::jsonb FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS x(k, p, ord) ORDER BY ord`,
		roomID, kinds, payloads)
	// Tell the senders: the room is due now, unless it already waits (for
	// a retry's backoff, or in a sender's hands), and its generation moves
	// on so a sender finishing an older batch keeps it due.
	b.Queue(`INSERT INTO outbox_room (room_id, due, gen) VALUES ($1, clock_timestamp(), 1)
		ON CONFLICT (room_id) DO UPDATE SET gen = outbox_room.gen + 1,
			due = CASE WHEN outbox_room.due = 'infinity' THEN clock_timestamp() ELSE outbox_room.due END`, roomID)
	return nil
}

func queueMarkProcessed(b *pgx.Batch, events []InboxEvent) {
	if len(events) == 0 {
		return
	}
	seqs := make([]int64, len(events))
	for i, ev := range events {
		seqs[i] = ev.Seq
	}
	b.Queue(`UPDATE inbox SET processed_at = clock_timestamp() WHERE seq = ANY($1)`, seqs)
}
