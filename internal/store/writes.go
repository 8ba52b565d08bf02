package store

import (
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// The floor log, the outbox, the inbox marks and the floor notifications
// of every room decided in a transaction are written with one statement
// per table (or channel): a statement has
// a fixed cost, whatever its rows, and a batch decides many rooms.
// (PostgreSQL then cannot say which room's row it refused: the decision
// package decides each room of the batch alone instead.)

// writes are rows appended and not yet sent.
type writes struct {
	log     []logLine
	outbox  []outboxLine
	decided []int64  // inbox seqs
	notices []string // floor notifications' payloads, in order (notify.go)
	// handOffs are the rooms whose rows are to be leased to lessee when
	// idle (Tx.LeaseOutbox).
	handOffs map[string]*HandOff
	lessee   Lessee
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
	if len(w.log)+len(w.outbox)+len(w.decided)+len(w.notices) == 0 {
		return
	}
	tx.writes = writes{}
	tx.marks = append(tx.marks, ownerMark{at: len(tx.queued.QueuedQueries)})
	defer tx.SetOwner(tx.owner)
	queueLog(tx.queued, w.log)
	var round *handOffRound
	if len(w.handOffs) > 0 {
		round = &handOffRound{lessee: w.lessee, rooms: w.handOffs, txnID: tx.store.TxnID}
	}
	queueOutbox(tx.queued, w.outbox, round)
	if len(w.decided) > 0 {
		tx.queued.Queue(`UPDATE inbox SET processed_at = clock_timestamp() WHERE seq = ANY($1)`, w.decided)
	}
	if len(w.notices) > 0 {
		tx.queued.Queue(`SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS x(p, o) ORDER BY o`, floorChannel, w.notices)
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
// room) and marks their rooms due, each once, in the order of the rows
// (sorted, when the rooms were decided in sorted order: the row locks are
// taken so). With
// a hand-off round, the idle rooms it asks for are leased instead
// (handoff.go).
func queueOutbox(b *pgx.Batch, lines []outboxLine, round *handOffRound) {
	if len(lines) == 0 {
		return
	}
	rooms, kinds, payloads := make([]string, len(lines)), make([]string, len(lines)), make([]string, len(lines))
	for i, l := range lines {
		rooms[i], kinds[i], payloads[i] = l.roomID, l.row.Kind, string(l.row.Payload)
	}
	due := slices.Compact(slices.Clone(rooms))
	const insert = `INSERT INTO outbox (room_id, kind, payload)
		SELECT m, k, p::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS x(m, k, p, ord) ORDER BY ord`
	if round == nil {
		b.Queue(insert, rooms, kinds, payloads)
		queueRoomsDue(b, due)
		return
	}
	round.lines = lines
	if now := round.lessee.Now; now != nil {
		round.deadline = now().Add(round.lessee.Lease)
	}
	b.Queue(insert+` RETURNING id, room_id, created_at`, rooms, kinds, payloads).Query(round.readIDs)
	round.queueLeases(b, due)
}
