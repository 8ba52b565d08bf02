package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Several decisions may share one transaction (the decision package's
// group commit). Their statements are pipelined together, so when one
// fails PostgreSQL aborts them all: each statement therefore carries the
// owner it was queued under, and its error names it (StatementError), so
// the caller can retry the others without the decision that failed.

// ownerMark: statements from index at on belong to owner.
type ownerMark struct {
	at    int
	owner string
}

// SetOwner says whom the statements queued from now on belong to (a room,
// a transaction): an error of one of them names it (see StatementError).
// The empty owner is nobody's.
func (tx *Tx) SetOwner(owner string) {
	tx.owner = owner
	tx.marks = append(tx.marks, ownerMark{at: len(tx.queued.QueuedQueries), owner: owner})
}

// StatementError is a failed statement of a transaction and the owner it
// was queued under (SetOwner).
type StatementError struct {
	Owner string
	Err   error
}

func (e *StatementError) Error() string { return fmt.Sprintf("%s: %v", e.Owner, e.Err) }
func (e *StatementError) Unwrap() error { return e.Err }

// FailedOwner names the owner of the statement err comes from, if known.
func FailedOwner(err error) (string, bool) {
	var se *StatementError
	if errors.As(err, &se) {
		return se.Owner, true
	}
	return "", false
}

// owned attributes err (when there is one) to owner (when there is one).
func (tx *Tx) owned(err error, owner string) error {
	if err == nil || owner == "" {
		return err
	}
	var se *StatementError
	if errors.As(err, &se) {
		return err
	}
	return &StatementError{Owner: owner, Err: err}
}

// send sends the queued statements followed by b's, and returns b's
// results (the queued statements' are checked, their callbacks run, and
// skipped; an error of one of them names its owner). The caller
// attributes the errors of b's statements.
func (tx *Tx) send(b *pgx.Batch) (pgx.BatchResults, error) {
	tx.queueWrites()
	ahead := len(tx.queued.QueuedQueries)
	all := &pgx.Batch{QueuedQueries: append(tx.queued.QueuedQueries, b.QueuedQueries...)}
	marks := tx.marks
	tx.queued, tx.marks = &pgx.Batch{}, []ownerMark{{owner: tx.owner}}
	br := tx.conn.SendBatch(tx.ctx, all)
	for i := range ahead {
		var err error
		if fn := all.QueuedQueries[i].Fn; fn != nil {
			err = fn(br)
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			_ = br.Close()
			return nil, tx.owned(err, ownerAt(marks, i))
		}
	}
	return br, nil
}

// ownerAt names the owner of statement i by the marks.
func ownerAt(marks []ownerMark, i int) string {
	owner := ""
	for _, m := range marks {
		if m.at > i {
			break
		}
		owner = m.owner
	}
	return owner
}

// commit sends the queued writes, reads the database clock after them and
// commits, in one round trip.
func (tx *Tx) commit() (time.Time, error) {
	var written time.Time
	b := &pgx.Batch{}
	b.Queue(`SELECT clock_timestamp() + $1::interval`, tx.store.clockOffset())
	b.Queue("COMMIT")
	br, err := tx.send(b)
	if err != nil {
		return written, err
	}
	if err := br.QueryRow().Scan(&written); err != nil {
		_ = br.Close()
		return written, err
	}
	return written, br.Close()
}

// RoomLock names a room for LockRooms and how many of its undecided
// events to read.
type RoomLock struct {
	RoomID string
	Limit  int
	// Devices are devices the room's decision is expected to check
	// (BusyElsewhere): they are locked after every room, in the same
	// round trip (see LockDevices).
	Devices []floor.Device
}

type lockResult struct {
	locked LockedRoom
	err    error
}

// LockRoom takes the room's row lock (creating the row on first sight),
// reads the database clock and up to limit undecided events, in one round
// trip behind the queued writes; a room LockRooms locked ahead is handed
// out without one. Lock rooms in sorted order: two transactions locking
// the same rooms then cannot deadlock on them.
func (tx *Tx) LockRoom(roomID string, limit int) (LockedRoom, error) {
	if r, ok := tx.prefetched[roomID]; ok {
		delete(tx.prefetched, roomID)
		return r.locked, r.err
	}
	if _, err := tx.LockRooms([]RoomLock{{RoomID: roomID, Limit: limit}}); err != nil {
		return LockedRoom{}, err
	}
	r := tx.prefetched[roomID]
	delete(tx.prefetched, roomID)
	return r.locked, r.err
}

// LockRooms takes the row locks of several rooms in sorted order, with
// their pending events and the database clock, then the locks of their
// devices, in one round trip behind the queued writes (rooms seen for the
// first time cost one more, all together). It returns the rooms in sorted
// order for a look; LockRoom hands each out for its decision. A room whose
// state cannot be decoded gets its error from LockRoom; an error here is
// the transaction's, attributed to the room whose statement failed.
func (tx *Tx) LockRooms(locks []RoomLock) ([]LockedRoom, error) {
	locks = slices.SortedFunc(slices.Values(locks), func(a, b RoomLock) int { return strings.Compare(a.RoomID, b.RoomID) })
	b := &pgx.Batch{}
	var devices []floor.Device
	for _, l := range locks {
		b.Queue(`SELECT state, joined, clock_timestamp() + $2::interval FROM room WHERE room_id = $1 FOR UPDATE`, l.RoomID, tx.store.clockOffset())
		b.Queue(pendingEventsSQL, l.RoomID, l.Limit)
		devices = append(devices, l.Devices...)
	}
	readDevices := tx.queueDeviceLocks(b, devices)
	br, err := tx.send(b)
	if err != nil {
		return nil, err
	}
	if tx.prefetched == nil {
		tx.prefetched = make(map[string]lockResult, len(locks))
	}
	states := make([][]byte, len(locks))
	var missing []int
	for i, l := range locks {
		var locked LockedRoom
		lockErr := br.QueryRow().Scan(&states[i], &locked.Joined, &locked.Now)
		if errors.Is(lockErr, pgx.ErrNoRows) {
			missing = append(missing, i)
		} else if lockErr != nil {
			_ = br.Close()
			return nil, tx.owned(lockErr, l.RoomID)
		}
		rows, err := br.Query()
		if err == nil {
			locked.Events, err = pgx.CollectRows(rows, scanInboxEvent)
		}
		if err != nil {
			_ = br.Close()
			return nil, tx.owned(err, l.RoomID)
		}
		tx.prefetched[l.RoomID] = lockResult{locked: locked}
	}
	if readDevices != nil {
		if err := readDevices(br); err != nil {
			_ = br.Close()
			return nil, tx.owned(err, tx.owner)
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	for i, l := range locks {
		if !slices.Contains(missing, i) {
			r := tx.prefetched[l.RoomID]
			r.err = tx.decodeRoom(&r.locked, states[i])
			tx.prefetched[l.RoomID] = r
		}
	}
	if err := tx.createRooms(locks, missing); err != nil {
		return nil, err
	}
	out := make([]LockedRoom, len(locks))
	for i, l := range locks {
		out[i] = tx.prefetched[l.RoomID].locked
	}
	return out, nil
}

// decodeRoom fills in a locked room from its stored state.
func (tx *Tx) decodeRoom(locked *LockedRoom, state []byte) error {
	locked.Room = new(floor.Room)
	if err := json.Unmarshal(state, locked.Room); err != nil {
		return fmt.Errorf("decode room state: %w", err)
	}
	opts := tx.store.opts
	locked.Room.Controller = opts.Controller
	locked.Room.ApplyDefaults(opts.Defaults)
	return nil
}

// createRooms inserts the rows of rooms seen for the first time, in one
// round trip. Our uncommitted insert is our lock; a racing replica's
// insert fails with a unique violation and InTx runs it again.
func (tx *Tx) createRooms(locks []RoomLock, missing []int) error {
	if len(missing) == 0 {
		return nil
	}
	opts := tx.store.opts
	b := &pgx.Batch{}
	rooms := make([]*floor.Room, len(missing))
	for k, i := range missing {
		rooms[k] = floor.NewRoom(locks[i].RoomID, opts.Controller, opts.Defaults)
		state, err := json.Marshal(rooms[k])
		if err != nil {
			return tx.owned(err, locks[i].RoomID)
		}
		b.Queue(`INSERT INTO room (room_id, state) VALUES ($1, $2) RETURNING clock_timestamp() + $3::interval`,
			locks[i].RoomID, state, tx.store.clockOffset())
	}
	br, err := tx.send(b)
	if err != nil {
		return err
	}
	for k, i := range missing {
		r := tx.prefetched[locks[i].RoomID]
		r.locked.Room = rooms[k]
		if err := br.QueryRow().Scan(&r.locked.Now); err != nil {
			_ = br.Close()
			return tx.owned(err, locks[i].RoomID)
		}
		tx.prefetched[locks[i].RoomID] = r
	}
	return br.Close()
}
