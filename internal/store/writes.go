package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// The rooms, the floor log, the outbox and the inbox marks of every room
// decided in a transaction are written with one statement per table: a
// statement has a fixed cost, whatever its rows, and a batch decides many
// rooms. (PostgreSQL then cannot say which room's row it refused: the
// decision package decides each room of the batch alone instead.)

// writes are rows appended and not yet sent.
type writes struct {
	rooms   []roomSave
	log     []logLine
	outbox  []outboxLine
	due     []string // rooms with outbox rows, in the order written (a room's twice in a row at most)
	decided []int64  // inbox seqs
}

// roomSave is a room's new row (SaveRoom).
type roomSave struct {
	roomID, state             string
	joined, managed, passive  bool
	term                      int64
	holderUser, holderDevice  *string
	queueLength, validPermits int32
	deadline                  *time.Time
	// copy goes to the store's cache once committed (nil: no cache).
	copy *floor.Room
}

// saveRoom adds a room's new row, or replaces the one not yet sent.
func (w *writes) saveRoom(save roomSave) {
	if i := slices.IndexFunc(w.rooms, func(r roomSave) bool { return r.roomID == save.roomID }); i >= 0 {
		w.rooms[i] = save
		return
	}
	w.rooms = append(w.rooms, save)
}

type logLine struct {
	roomID string
	entry  floor.LogEntry
}

type outboxLine struct {
	roomID string
	row    OutboxRow
}

// queueWrites queues the appended rows (nobody's, see SetOwner) and
// forgets them.
func (tx *Tx) queueWrites() {
	w := tx.writes
	if len(w.rooms)+len(w.log)+len(w.outbox)+len(w.decided) == 0 {
		return
	}
	tx.writes = writes{}
	tx.marks = append(tx.marks, ownerMark{at: len(tx.queued.QueuedQueries)})
	defer tx.SetOwner(tx.owner)
	tx.queueRooms(w.rooms)
	queueLog(tx.queued, w.log)
	queueOutbox(tx.queued, w.outbox, slices.Compact(w.due))
	if len(w.decided) > 0 {
		tx.queued.Queue(`UPDATE inbox SET processed_at = clock_timestamp() WHERE seq = ANY($1)`, w.decided)
	}
}

// queueRooms writes the rooms' rows, each with the next version, and
// notes the versions for the cache (written). The rooms are named twice,
// in the list and in ANY: PostgreSQL then reads them by index whatever it
// thinks of the list's length (a join with unnest alone may be planned as
// a scan of every room).
func (tx *Tx) queueRooms(rooms []roomSave) {
	if len(rooms) == 0 {
		return
	}
	n := len(rooms)
	ids, states := make([]string, n), make([]string, n)
	joined, managed, passive := make([]bool, n), make([]bool, n), make([]bool, n)
	terms := make([]int64, n)
	users, devices := make([]*string, n), make([]*string, n)
	queues, permits := make([]int32, n), make([]int32, n)
	deadlines := make([]*time.Time, n)
	copies := make(map[string]*floor.Room, n)
	for i, r := range rooms {
		ids[i], states[i], joined[i], managed[i], passive[i], terms[i] = r.roomID, r.state, r.joined, r.managed, r.passive, r.term
		users[i], devices[i], queues[i], permits[i], deadlines[i] = r.holderUser, r.holderDevice, r.queueLength, r.validPermits, r.deadline
		copies[r.roomID] = r.copy
	}
	tx.queued.Queue(`UPDATE room SET state = v.state::jsonb, joined = v.joined, managed = v.managed, passive = v.passive,
		term = v.term, holder_user = v.holder_user, holder_device = v.holder_device, queue_length = v.queue_length,
		next_deadline = v.next_deadline, valid_permits = v.valid_permits,
		version = nextval('room_version'), updated_at = clock_timestamp()
		FROM unnest($1::text[], $2::text[], $3::bool[], $4::bool[], $5::bool[], $6::bigint[], $7::text[], $8::text[],
			$9::int[], $10::timestamptz[], $11::int[])
			AS v(room_id, state, joined, managed, passive, term, holder_user, holder_device, queue_length, next_deadline, valid_permits)
		WHERE room.room_id = v.room_id AND room.room_id = ANY($1)
		RETURNING room.room_id, room.version`,
		ids, states, joined, managed, passive, terms, users, devices, queues, deadlines, permits).Query(func(rows pgx.Rows) error {
		var id string
		var version int64
		saved := 0
		_, err := pgx.ForEachRow(rows, []any{&id, &version}, func() error {
			saved++
			if c := copies[id]; c != nil {
				tx.written = append(tx.written, cachedRoom{roomID: id, version: version, room: c})
			}
			return nil
		})
		if err == nil && saved != n {
			err = fmt.Errorf("save rooms: %d rows written for %d rooms", saved, n)
		}
		return err
	})
}

// cacheSaved hands the rooms this transaction wrote to the store's cache:
// call it once the transaction committed.
func (tx *Tx) cacheSaved() {
	for _, c := range tx.written {
		tx.store.rooms.put(c)
	}
}

func queueLog(b *pgx.Batch, lines []logLine) {
	if len(lines) == 0 {
		return
	}
	n := len(lines)
	rooms, actions, users, devices, reasons, eventIDs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	terms := make([]int64, n)
	for i, l := range lines {
		e := l.entry
		rooms[i], actions[i], users[i], devices[i], terms[i], reasons[i], eventIDs[i] = l.roomID, string(e.Action), e.Device.UserID, e.Device.DeviceID, e.Term, string(e.Reason), e.EventID
	}
	b.Queue(`INSERT INTO floor_log (room_id, action, user_id, device_id, term, reason, event_id)
		SELECT m, a, u, d, t, r, e FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])
		WITH ORDINALITY AS x(m, a, u, d, t, r, e, ord) ORDER BY ord`,
		rooms, actions, users, devices, terms, reasons, eventIDs)
}

// queueOutbox appends outbox rows in order (so IDs follow it within a
// room) and marks their rooms due, in the order given (sorted, when the
// rooms were decided in sorted order: the row locks are taken so).
func queueOutbox(b *pgx.Batch, lines []outboxLine, due []string) {
	if len(lines) == 0 {
		return
	}
	rooms, kinds, payloads := make([]string, len(lines)), make([]string, len(lines)), make([]string, len(lines))
	for i, l := range lines {
		rooms[i], kinds[i], payloads[i] = l.roomID, l.row.Kind, string(l.row.Payload)
	}
	b.Queue(`INSERT INTO outbox (room_id, kind, payload)
		SELECT m, k, p::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS x(m, k, p, ord) ORDER BY ord`,
		rooms, kinds, payloads)
	queueRoomsDue(b, due)
}
