package store

import (
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Hand-off at commit. A decision knows the rows it writes, so when it
// finds its room idle (nothing unsent, nobody's lease) it takes the
// room's outbox lease for a sender of its own process in the same
// statement that marks the room due, and hands the rows over after the
// commit: the sender sends them without a claim and without reading them
// back. A room that is not idle (rows waiting for a retry's backoff, or
// in a sender's hands) is marked due as before and its new rows wait
// behind the older ones, so the order within a room holds. Should the
// process die after the commit, the lease runs out and any sender claims
// the rows, with the same txn IDs.

// Lessee names the sender that takes idle rooms at commit, and for how
// long it leases them (its Lease: it must be done within it).
type Lessee struct {
	Owner string // NewOwner
	Lease time.Duration
	// Now is the lessee's process clock, for the local deadline of a
	// hand-off only (RoomBatch.Deadline): the store itself never reads the
	// process clock (decisions run on the database's, see e2e/faults'
	// clock test). Nil: hand-offs get no local deadline, and the lessee
	// must set one (RoomBatch.WithDeadline).
	Now func() time.Time
}

// HandOff is what a transaction leased of a room's outbox rows (see
// Tx.LeaseOutbox); read it only after the transaction committed.
type HandOff struct {
	owner string
	batch RoomBatch
	taken bool
}

// Batch is the room's rows this transaction wrote, leased to the lessee:
// it sends them and records the results with FinishRooms like a claimed
// batch. ok is false when the room was not idle: a claim sends the rows.
func (h *HandOff) Batch() (b RoomBatch, ok bool) { return h.batch, h.taken }

// Owner is the lessee's owner.
func (h *HandOff) Owner() string { return h.owner }

// LeaseOutbox asks that the room's outbox rows appended in this
// transaction (AppendOutbox) be leased to l at commit if the room is idle
// then. Call it right after AppendOutbox, with one lessee per
// transaction.
func (tx *Tx) LeaseOutbox(roomID string, l Lessee) *HandOff {
	w := &tx.writes
	if w.handOffs == nil {
		w.handOffs = map[string]*HandOff{}
	}
	h := &HandOff{owner: l.Owner}
	w.handOffs[roomID] = h
	w.lessee = l
	return h
}

// handOffRound is one write round's hand-offs: the rooms asked for, the
// rows written and, once the INSERT answered, their IDs.
type handOffRound struct {
	lessee Lessee
	rooms  map[string]*HandOff
	txnID  func(int64) string
	lines  []outboxLine
	// deadline is when the lessee must be done, by this process's clock:
	// the lease counts from the statement, and this from before it is sent.
	deadline time.Time
	written  []writtenRow // in the order of lines
}

type writtenRow struct {
	id        int64
	roomID    string
	createdAt time.Time
}

// readIDs reads the INSERT's rows. IDs follow the order of the rows
// inserted (the senders rely on that within a room too), so sorted they
// pair with lines; a room that does not match is a bug, and fails the
// transaction rather than hand over rows under the wrong IDs.
func (r *handOffRound) readIDs(rows pgx.Rows) error {
	written, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (writtenRow, error) {
		var w writtenRow
		return w, row.Scan(&w.id, &w.roomID, &w.createdAt)
	})
	if err != nil {
		return err
	}
	slices.SortFunc(written, func(a, b writtenRow) int { return int(a.id - b.id) })
	if len(written) != len(r.lines) {
		return fmt.Errorf("outbox insert returned %d rows for %d", len(written), len(r.lines))
	}
	for i, w := range written {
		if w.roomID != r.lines[i].roomID {
			return fmt.Errorf("outbox IDs do not follow the order of the rows inserted (row %d)", i)
		}
	}
	r.written = written
	return nil
}

// queueLeases marks the rooms due, as queueRoomsDue does, and leases to
// the lessee those asked for that are idle: due 'infinity' (which only a
// release writes, with the owner cleared). A leased room is due when its
// lease runs out, so no claim looks at it before; its gen is returned
// for the lessee's FinishRooms.
func (r *handOffRound) queueLeases(b *pgx.Batch, due []string) {
	owners := make([]string, len(due))
	for i, room := range due {
		if _, ok := r.rooms[room]; ok {
			owners[i] = r.lessee.Owner
		}
	}
	b.Queue(`WITH l AS MATERIALIZED (SELECT clock_timestamp() AS now, clock_timestamp() + $3::interval AS until)
		INSERT INTO outbox_room AS r (room_id, due, gen, owner, until)
		SELECT x.m, CASE WHEN x.o = '' THEN l.now ELSE l.until END, 1, NULLIF(x.o, ''), CASE WHEN x.o <> '' THEN l.until END
		FROM l, unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(m, o, ord) ORDER BY x.ord
		ON CONFLICT (room_id) DO UPDATE SET gen = r.gen + 1,
			due = CASE WHEN r.due = 'infinity' THEN EXCLUDED.due ELSE r.due END,
			owner = CASE WHEN r.due = 'infinity' THEN EXCLUDED.owner ELSE r.owner END,
			until = CASE WHEN r.due = 'infinity' THEN EXCLUDED.until ELSE r.until END
		RETURNING r.room_id, r.gen, r.until, coalesce(r.owner = $4 AND r.until = (SELECT until FROM l), false)`,
		due, owners, r.lessee.Lease, r.lessee.Owner).Query(r.readLeases)
}

// readLeases hands each room leased its rows.
func (r *handOffRound) readLeases(rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		var room string
		var gen int64
		var until *time.Time
		var taken bool
		if err := rows.Scan(&room, &gen, &until, &taken); err != nil {
			return err
		}
		h := r.rooms[room]
		if h == nil || !taken {
			continue
		}
		b := RoomBatch{RoomID: room, gen: gen, until: *until, deadline: r.deadline}
		for i, l := range r.lines {
			if l.roomID != room {
				continue
			}
			if len(b.Items) == maxRowsPerClaim {
				b.cut = true // the rest is claimed after the release
				break
			}
			w := r.written[i]
			b.Items = append(b.Items, OutboxItem{ID: w.id, RoomID: room, Kind: l.row.Kind, Payload: l.row.Payload,
				TxnID: r.txnID(w.id), CreatedAt: w.createdAt})
		}
		h.batch, h.taken = b, true
	}
	return rows.Err()
}
