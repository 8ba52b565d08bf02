package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
// the transaction's.
//
// One statement locks every room, and one reads every room's events and
// the clock: a statement costs PostgreSQL about as much as the few rows
// it touches. The events are read by the second, after the locks, so they
// include what the room's previous decision marked decided. A room whose
// version is the one the store's cache holds comes from the cache, its
// state neither read nor decoded (roomcache.go).
func (tx *Tx) LockRooms(locks []RoomLock) ([]LockedRoom, error) {
	locks = distinctRooms(locks)
	n := len(locks)
	ids, known, limits := make([]string, n), make([]int64, n), make([]int32, n)
	held := map[string]cachedRoom{}
	var devices []floor.Device
	for i, l := range locks {
		ids[i], known[i], limits[i] = l.RoomID, noVersion, int32(min(l.Limit, math.MaxInt32))
		if c, ok := tx.store.rooms.take(l.RoomID); ok {
			held[l.RoomID], known[i] = c, c.version
		}
		devices = append(devices, l.Devices...)
	}
	b := &pgx.Batch{}
	b.Queue(lockRoomsSQL, ids, known)
	b.Queue(pendingEventsSQL, ids, limits, tx.store.clockOffset())
	readDevices := tx.queueDeviceLocks(b, devices)
	br, err := tx.send(b)
	if err != nil {
		return nil, err
	}
	rows, err := readLockedRooms(br, ids)
	if err == nil {
		err = readPendingEvents(br, rows)
	}
	if err == nil && readDevices != nil {
		err = readDevices(br)
	}
	if err != nil {
		_ = br.Close()
		return nil, tx.owned(err, tx.owner)
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	if tx.prefetched == nil {
		tx.prefetched = make(map[string]lockResult, n)
	}
	var missing []int
	for i, l := range locks {
		row := rows[l.RoomID]
		if !row.found {
			missing = append(missing, i)
			tx.prefetched[l.RoomID] = lockResult{locked: row.locked}
			continue
		}
		r := lockResult{locked: row.locked}
		if c, ok := held[l.RoomID]; ok && row.state == nil && c.version == row.version {
			r.locked.Room = c.room
			tx.store.loaded(c.room)
			tx.store.rooms.hits.Add(1)
		} else {
			r.err = tx.decodeRoom(&r.locked, row.state)
		}
		tx.prefetched[l.RoomID] = r
	}
	if err := tx.createRooms(locks, missing); err != nil {
		return nil, err
	}
	out := make([]LockedRoom, n)
	for i, l := range locks {
		out[i] = tx.prefetched[l.RoomID].locked
	}
	return out, nil
}

// noVersion is a version no row has (the sequence starts at 1): the lock
// then answers the state.
const noVersion = -1

// lockRoomsSQL locks rooms one after the other in the order of the list
// (sorted by their IDs' bytes, as Go sorts them): the lateral subquery
// runs once per room of the list, in order, and its FOR UPDATE keeps it
// apart, a plain index scan of one room, so two transactions locking
// rooms this way cannot deadlock on them, whatever the database's
// collation. (An index scan of all the rooms at once, which PostgreSQL
// plans as a bitmap scan, left the index entries of dead row versions
// unmarked, and each lock read more of them.) It answers a room's state
// only when its version is not the one given beside its ID.
const lockRoomsSQL = `SELECT r.room_id, r.version, r.joined, CASE WHEN r.version = k.version THEN NULL ELSE r.state END
	FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS k(room_id, version, ord)
	CROSS JOIN LATERAL (SELECT room_id, version, joined, state FROM room WHERE room_id = k.room_id FOR UPDATE) r
	ORDER BY k.ord`

// pendingEventsSQL reads up to a limit of each room's undecided events, in
// arrival order, and the clock; a room without events gets one row with
// the clock only.
const pendingEventsSQL = `SELECT k.room_id, clock_timestamp() + $3::interval, e.seq, e.event_id, e.event::text, e.received_at
	FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k(room_id, lim, ord)
	LEFT JOIN LATERAL (SELECT seq, event_id, event, received_at FROM inbox
		WHERE inbox.room_id = k.room_id AND processed_at IS NULL ORDER BY seq LIMIT k.lim) e ON true
	ORDER BY k.ord, e.seq`

// lockedRow is a room's row as the lock read it.
type lockedRow struct {
	found   bool
	version int64
	state   []byte // nil: the version asked for
	locked  LockedRoom
}

// readLockedRooms reads the lock's rows: at most one per room asked for.
func readLockedRooms(br pgx.BatchResults, ids []string) (map[string]*lockedRow, error) {
	rows := make(map[string]*lockedRow, len(ids))
	for _, id := range ids {
		rows[id] = &lockedRow{}
	}
	res, err := br.Query()
	if err != nil {
		return nil, err
	}
	var id string
	var version int64
	var joined bool
	var state []byte
	_, err = pgx.ForEachRow(res, []any{&id, &version, &joined, &state}, func() error {
		row, ok := rows[id]
		if !ok || row.found {
			return fmt.Errorf("lock rooms: unexpected row for %s", id)
		}
		row.found, row.version, row.state, row.locked.Joined = true, version, state, joined
		return nil
	})
	return rows, err
}

// readPendingEvents reads each room's events and the clock.
func readPendingEvents(br pgx.BatchResults, rows map[string]*lockedRow) error {
	res, err := br.Query()
	if err != nil {
		return err
	}
	var roomID string
	var now time.Time
	var seq *int64
	var eventID, raw *string
	var received *time.Time
	seen := 0
	_, err = pgx.ForEachRow(res, []any{&roomID, &now, &seq, &eventID, &raw, &received}, func() error {
		row := rows[roomID]
		if row == nil {
			return fmt.Errorf("pending events: unexpected row for %s", roomID)
		}
		if row.locked.Now.IsZero() {
			row.locked.Now = now
			seen++
		}
		if seq != nil {
			row.locked.Events = append(row.locked.Events, InboxEvent{Seq: *seq, EventID: *eventID, RoomID: roomID,
				Raw: json.RawMessage(*raw), ReceivedAt: *received})
		}
		return nil
	})
	if err == nil && seen != len(rows) {
		err = fmt.Errorf("pending events: %d rooms answered of %d", seen, len(rows))
	}
	return err
}

// distinctRooms sorts locks by room and merges those of one room (the
// larger limit, every device).
func distinctRooms(locks []RoomLock) []RoomLock {
	locks = slices.SortedFunc(slices.Values(locks), func(a, b RoomLock) int { return strings.Compare(a.RoomID, b.RoomID) })
	out := locks[:0]
	for _, l := range locks {
		if k := len(out) - 1; k >= 0 && out[k].RoomID == l.RoomID {
			out[k].Limit = max(out[k].Limit, l.Limit)
			out[k].Devices = append(slices.Clip(out[k].Devices), l.Devices...)
			continue
		}
		out = append(out, l)
	}
	return out
}

// decodeRoom fills in a locked room from its stored state.
func (tx *Tx) decodeRoom(locked *LockedRoom, state []byte) error {
	locked.Room = new(floor.Room)
	if err := json.Unmarshal(state, locked.Room); err != nil {
		return fmt.Errorf("decode room state: %w", err)
	}
	tx.store.loaded(locked.Room)
	return nil
}

// loaded makes a room read from the database or the cache this process's:
// its controller and config.yaml's defaults are not stored with it.
func (s *Store) loaded(room *floor.Room) {
	room.Controller = s.opts.Controller
	room.ApplyDefaults(s.opts.Defaults)
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
