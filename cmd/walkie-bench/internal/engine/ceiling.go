package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The write ceiling: pgbench replays the rows a channel decision writes
// (the same statements against Walkie's own tables and rooms, left as the
// measured phase left them), with no Walkie process at all. Its decisions
// per second bound what any Walkie with today's write set could reach on
// this server, so the ratio of the ceiling to the single-row update says
// whether a throughput target is a matter of Walkie's code or of the rows
// each decision writes.
//
// The replay is generous to the ceiling: it leaves out every read
// (pending events, the clock, device locks), the JSON parse of the room
// state (the row's own state is re-written, the same size), and all of
// Walkie's CPU (decisions, pgx, the homeserver calls, the stand-in).

// WriteCeilingResult is one pgbench run of the decision's writes.
type WriteCeilingResult struct {
	Name           string  // the variant (CeilingVariants)
	RoomsPerCommit int     // rooms a transaction writes (Walkie's measured rooms per commit, rounded)
	TPS            float64 // pgbench transactions per second, each RoomsPerCommit decisions (the median of Runs)
	Command        string
	Script         string // where the script was written, to rerun by hand
	// CPU is what each decision cost PostgreSQL and pgbench (the median
	// over rounds; 0: not measured).
	CPU time.Duration
	rounds
}

// add records another round of the same variant.
func (w *WriteCeilingResult) add(run WriteCeilingResult) {
	past := w.rounds
	*w = run
	w.rounds = past
	w.TPS, w.CPU = w.record(run.TPS, run.CPU)
}

// DecisionsPerSecond is the ceiling in Walkie's unit.
func (w WriteCeilingResult) DecisionsPerSecond() float64 { return w.TPS * float64(w.RoomsPerCommit) }

// ceilingSpec is what the script needs from the measured run.
type ceilingSpec struct {
	rooms          int // the benchmark's rooms, named roomName(i) (as newEngineRun names them)
	roomsPerCommit int
	floorState     string // a floor-state payload Walkie wrote (the outbox row)
	without        Omit
	// idWindow is how far below this session's last outbox ID its rows
	// may be (other sessions take IDs meanwhile).
	idWindow int
}

// Omit names parts of the write set a ceiling variant leaves out, to
// show what each costs (`-write-ceiling-variants`).
type Omit struct {
	FloorLog    bool // the floor-log row
	Outbox      bool // the outbox row, its room's lease, sent mark and release: the floor state published from the room row
	Notify      bool // the floor notification
	RoomIndexes bool // the room update changes no indexed column (next_deadline, holder): a HOT update
	SentMark    bool // the outbox row's sent mark (the finish round's UPDATE of outbox)
	Lease       bool // the outbox room's lease and release (outbox_room)
	// FinishTogether: the finish round's statements ride in the
	// decision's transaction (as the previous batch's would) instead of a
	// transaction of their own (moved, not left out).
	FinishTogether bool
}

// CeilingVariants are the write sets `-write-ceiling-variants` measures:
// today's, each part left out, and the least a decision could write.
var CeilingVariants = []struct {
	Name    string
	Without Omit
}{
	{"today's writes", Omit{}},
	{"without the floor-log row", Omit{FloorLog: true}},
	{"without the outbox (floor state from the room row)", Omit{Outbox: true}},
	{"without the notification", Omit{Notify: true}},
	{"room update HOT (no indexed column changes)", Omit{RoomIndexes: true}},
	{"room lock and HOT update only", Omit{FloorLog: true, Outbox: true, Notify: true, RoomIndexes: true}},
	{"outbox without the sent mark", Omit{SentMark: true}},
	{"outbox without the room lease and release", Omit{Lease: true}},
	{"outbox finish round in the decision's transaction", Omit{FinishTogether: true}},
}

func roomName(i int) string { return "!room" + strconv.Itoa(i) + ":" + Domain }

// latestFloorState is a floor-state payload Walkie wrote, for the replay.
func latestFloorState(ctx context.Context, dbURL string) (string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var payload string
	err = conn.QueryRow(ctx, `SELECT payload::text FROM outbox WHERE kind = 'state' AND payload->>'event_type' = 'org.matrix.msc4002.floor' ORDER BY id DESC LIMIT 1`).Scan(&payload)
	if err != nil {
		return "", fmt.Errorf("a floor state to replay: %w", err)
	}
	return payload, nil
}

// RunWriteCeiling replays a channel decision's writes with pgbench on
// Walkie's database (o.Database) after Walkie stopped.
func RunWriteCeiling(ctx context.Context, o PgbenchOptions, dbURL string, rooms int, roomsPerCommit float64, floorState string, without Omit) (WriteCeilingResult, error) {
	spec := ceilingSpec{rooms: rooms, roomsPerCommit: max(1, int(roomsPerCommit+0.5)), floorState: floorState, without: without}
	spec.idWindow = 4 * spec.roomsPerCommit * o.Clients
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return WriteCeilingResult{}, err
	}
	// Each replay starts as Walkie's run did: an empty outbox, idle
	// outbox rooms, vacuumed tables. Otherwise the rows and dead tuples
	// of the runs before (some variants leave rows unsent) slow the
	// later runs down, and rounds disagree.
	_, err = conn.Exec(ctx, `TRUNCATE outbox; UPDATE outbox_room SET owner = NULL, until = NULL, due = 'infinity'`)
	if err == nil {
		_, err = conn.Exec(ctx, `VACUUM (ANALYZE) room, outbox, outbox_room, floor_log`)
	}
	conn.Close(ctx)
	if err != nil {
		return WriteCeilingResult{}, fmt.Errorf("reset before the replay: %w", err)
	}
	script := filepath.Join(o.WorkDir, "decision-writes.sql")
	if err := os.WriteFile(script, []byte(spec.script()), 0o644); err != nil {
		return WriteCeilingResult{}, err
	}
	// Groups are disjoint and locked in sorted order: no deadlocks to retry.
	run, err := o.measure(ctx, script)
	if err != nil {
		return WriteCeilingResult{}, fmt.Errorf("pgbench (decision writes): %w", err)
	}
	return WriteCeilingResult{RoomsPerCommit: spec.roomsPerCommit, TPS: run.tps,
		CPU:     run.cpuPerTransaction() / time.Duration(spec.roomsPerCommit),
		Command: run.command, Script: script}, nil
}

// script is one pgbench transaction per group of roomsPerCommit rooms
// (groups are disjoint, so rooms are locked in one order), as a batch of
// channel decisions that each grant: the statements of internal/store
// (tx.go SaveRoom, writes.go queueLog and queueOutbox, handoff.go
// queueLeases, the floor notifications), then the sender's finish round
// (finish.go: the sent marks and the release, synchronous_commit off).
func (s ceilingSpec) script() string {
	k := s.roomsPerCommit
	groups := max(1, s.rooms/k)
	ids := make([]string, k)
	for i := range k {
		// chr(58) is the colon; immutable, so the primary key finds the
		// room (convert_from is not, and would make every look-up a scan).
		ids[i] = fmt.Sprintf(`'!room' || (:g::int * %d + %d) || chr(58) || '%s'`, k, i, Domain)
	}
	list := "ARRAY[" + strings.Join(ids, ", ") + "]"
	payload := text(s.floorState)
	user := text("@u0d0:" + Domain)
	var b strings.Builder
	fmt.Fprintf(&b, "\\set g random(0, %d)\n", groups-1)
	// Round trips as Walkie makes them (pipelines): the locks, then every
	// write with the commit, then the sender's finish round.
	b.WriteString("\\startpipeline\nBEGIN;\n")
	fmt.Fprintf(&b, "SELECT count(*) FROM (SELECT 1 FROM room WHERE room_id = ANY(%s) ORDER BY room_id FOR UPDATE) AS locked;\n", list)
	b.WriteString("\\endpipeline\n\\startpipeline\n")
	indexed := fmt.Sprintf("holder_user = %s, holder_device = 'DEV0', next_deadline = clock_timestamp() + interval '5 s'", user)
	if s.without.RoomIndexes {
		indexed = "holder_user = holder_user, holder_device = holder_device, next_deadline = next_deadline"
	}
	for _, id := range ids {
		fmt.Fprintf(&b, "UPDATE room SET state = state || '{}'::jsonb, joined = true, managed = true, passive = false, term = term + 1, "+
			"%s, queue_length = 0, valid_permits = 4, "+
			"version = nextval('room_version'), updated_at = clock_timestamp() WHERE room_id = %s RETURNING version;\n", indexed, id)
	}
	if !s.without.FloorLog {
		fmt.Fprintf(&b, "INSERT INTO floor_log (room_id, action, user_id, device_id, term, reason, event_id) "+
			"SELECT m, 'grant', %s, 'DEV0', 1, '', '' FROM unnest(%s) AS m;\n", user, list)
	}
	var finish strings.Builder
	if !s.without.Outbox {
		fmt.Fprintf(&b, "INSERT INTO outbox (room_id, kind, payload) SELECT m, 'state', %s::jsonb FROM unnest(%s) AS m RETURNING id, room_id, created_at;\n", payload, list)
		if !s.without.Lease {
			fmt.Fprintf(&b, "INSERT INTO outbox_room AS r (room_id, due, gen, owner, until) "+
				"SELECT m, clock_timestamp() + interval '30 s', 1, 'ceiling', clock_timestamp() + interval '30 s' FROM unnest(%s) AS m "+
				"ON CONFLICT (room_id) DO UPDATE SET gen = r.gen + 1, due = EXCLUDED.due, owner = EXCLUDED.owner, until = EXCLUDED.until "+
				"RETURNING r.room_id, r.gen, r.until;\n", list)
		}
		// The sender marks rows by ID. pgbench cannot carry the IDs out of
		// a pipeline (\\gset is refused there), so the rows are found near
		// this session's last ID on the primary key, not through
		// outbox_pending, whose dead entries would make each look-up
		// slower than Walkie's.
		if !s.without.SentMark {
			fmt.Fprintf(&finish, "UPDATE outbox SET sent_at = clock_timestamp(), last_error = NULL, sent_event_id = '$sent' "+
				"WHERE id BETWEEN currval('outbox_id_seq') - %d AND currval('outbox_id_seq') AND room_id = ANY(%s) AND sent_at IS NULL AND NOT failed;\n", s.idWindow, list)
		}
		if !s.without.Lease {
			fmt.Fprintf(&finish, "UPDATE outbox_room SET owner = NULL, until = NULL, due = 'infinity' WHERE room_id = ANY(%s) AND owner = 'ceiling' RETURNING due <= clock_timestamp();\n", list)
		}
	}
	if !s.without.Notify {
		fmt.Fprintf(&b, "SELECT pg_notify('walkie_floor_ceiling', m || %s) FROM unnest(%s) AS m;\n", payload, list)
	}
	if s.without.FinishTogether {
		b.WriteString(finish.String())
	}
	b.WriteString("COMMIT;\n\\endpipeline\n")
	if !s.without.FinishTogether && finish.Len() > 0 {
		b.WriteString("\\startpipeline\nBEGIN;\nSELECT set_config('synchronous_commit', 'off', true);\n")
		b.WriteString(finish.String())
		b.WriteString("COMMIT;\n\\endpipeline\n")
	}
	return b.String()
}

// text is s as an SQL expression without a colon: pgbench reads ":name"
// as a variable even inside a string literal, so the text travels in
// base64.
func text(s string) string {
	return fmt.Sprintf("convert_from(decode('%s', 'base64'), 'UTF8')", base64.StdEncoding.EncodeToString([]byte(s)))
}
