package decide_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	bot   = "@walkie:test"
	admin = "@admin:test"
	alice = "@alice:test"
	bob   = "@bob:test"
	carol = "@carol:test"
)

var testDefaults = floor.Config{
	StartTimeout: timers.StartTimeout, InactivityTimeout: timers.InactivityTimeout, MaxTalk: timers.MaxTalk,
	PauseGrace: timers.PauseGrace, RevokeGrace: timers.RevokeGrace, QueueTimeout: timers.QueueTimeout,
	Queue: true, MaxQueue: 8, PreemptPowerLevel: 50, OneRoomPerDevice: true,
}

// fixture drives the real decisions on the real store with raw Matrix
// events, as the running service does.
type fixture struct {
	t   *testing.T
	ctx context.Context
	url string
	st  *store.Store
	d   *decide.Decider
	seq *atomic.Int64
	evs *roomevents.Builder
}

// permissions: only admin may invite the bot, nobody else is known.
type permissions struct{}

func (permissions) PermissionLevel(user string) config.Level {
	if user == admin {
		return config.LevelAdmin
	}
	return config.LevelBlock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), url: pgtest.NewDatabase(t), seq: new(atomic.Int64),
		evs: undated()}
	f.st = f.open()
	f.d = f.decider(f.st)
	return f
}

// reopen is another replica on the fixture's database (its own pool and
// Decider), sharing the event counter.
func (f *fixture) reopen() *fixture {
	g := *f
	g.st = f.open()
	g.d = f.decider(g.st)
	return &g
}

// decider makes a Decider on st: another replica when st is one.
func (f *fixture) decider(st *store.Store) *decide.Decider {
	return decide.New(decide.Options{Store: st, Controller: bot, Permissions: permissions{}, Log: zerolog.Nop()})
}

// open connects a new Store to the fixture's database: a second replica,
// or the same process after a restart.
func (f *fixture) open() *store.Store {
	f.t.Helper()
	return pgtest.NewStore(f.t, store.Options{URI: f.url, MaxConns: 8, Controller: bot, Defaults: testDefaults})
}

// ev builds a raw event. It carries no origin_server_ts (the builder is
// Undated): the engine then dates it by its arrival, on the clock
// AdvanceClock moves.
func (f *fixture) ev(room, sender, typ string, stateKey *string, content any) json.RawMessage {
	raw, _ := f.evs.Event(room, sender, typ, stateKey, content)
	return raw
}

var (
	sk      = roomevents.StateKey
	eventID = roomevents.ID
)

// inbox is what the appservice endpoint stores for raw events.
func (f *fixture) inbox(events ...json.RawMessage) []store.InboxEvent {
	f.t.Helper()
	inbox := make([]store.InboxEvent, len(events))
	for i, raw := range events {
		env, err := matrix.ParseEnvelope(raw)
		if err != nil {
			f.t.Fatal(err)
		}
		inbox[i] = store.InboxEvent{EventID: env.EventID, RoomID: env.RoomID, Raw: raw}
	}
	return inbox
}

// deliver stores the events as one appservice transaction and decides
// the rooms it touched one by one, returning the decision outcomes.
func (f *fixture) deliver(events ...json.RawMessage) []decide.Outcome {
	f.t.Helper()
	_, rooms, err := f.st.SaveTransaction(f.ctx, fmt.Sprintf("txn%d", f.seq.Add(1)), f.inbox(events...))
	if err != nil {
		f.t.Fatal(err)
	}
	var outs []decide.Outcome
	for _, room := range rooms {
		out, _, err := f.d.Decide(f.ctx, room)
		if err != nil {
			f.t.Fatal(err)
		}
		outs = append(outs, out)
	}
	return outs
}

// deliverAndDecide is deliver as the appservice endpoint does it: one
// database transaction for the events and the decisions of all their
// rooms.
func (f *fixture) deliverAndDecide(events ...json.RawMessage) decide.Received {
	f.t.Helper()
	got, err := f.d.Transaction(f.ctx, fmt.Sprintf("txn%d", f.seq.Add(1)), events)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// tick advances the engine's clock and decides the room.
func (f *fixture) tick(room string, d time.Duration) decide.Outcome {
	f.t.Helper()
	f.st.AdvanceClock(d)
	out, _, err := f.d.Decide(f.ctx, room)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// setupRoom makes a managed room: the bot joined with power 100, the given
// users joined at level 0 (admin 100), default Matrix power levels plus the
// levels Walkie's room setup adds.
func (f *fixture) setupRoom(room string, users ...string) {
	f.t.Helper()
	f.deliver(f.roomState(room, users...)...)
	r := f.room(room)
	if !r.Managed {
		f.t.Fatalf("room %s not managed after setup", room)
	}
}

// roomState is the state setupRoom gives a room, as events.
func (f *fixture) roomState(room string, users ...string) []json.RawMessage {
	return f.evs.ManagedRoom(room, admin, bot, users...)
}

// reload decides a Snapshot of the given /state events, as the state
// loader does at start-up and on a join.
func (f *fixture) reload(room string, state ...json.RawMessage) decide.Outcome {
	f.t.Helper()
	snap, _ := matrix.Snapshot(room, state)
	snap.AsOf = f.room(room).StateVersion
	out, err := f.d.DecideInputs(f.ctx, room, snap)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) permit(room, user, device string, content map[string]any) json.RawMessage {
	d := floor.Device{UserID: user, DeviceID: device}
	if content == nil {
		return f.evs.Permit(room, d)
	}
	return f.ev(room, user, floor.TypePermit, sk(d.PermitStateKey()), content)
}

func (f *fixture) request(room, user, device, action string, extra map[string]any) json.RawMessage {
	c := map[string]any{"action": action, "device_id": device}
	for k, v := range extra {
		c[k] = v
	}
	return f.ev(room, user, floor.TypeRequest, nil, c)
}

func (f *fixture) broadcast(room, user, device, state, startedID string, extra map[string]any) json.RawMessage {
	c := map[string]any{"state": state, "device_id": device, "chunk_length": 1}
	if startedID != "" {
		c["m.relates_to"] = map[string]any{"rel_type": "m.reference", "event_id": startedID}
	}
	for k, v := range extra {
		c[k] = v
	}
	return f.ev(room, user, floor.TypeBroadcastInfo, sk(user), c)
}

func (f *fixture) chunk(room, user, typ, startedID string) json.RawMessage {
	rel := map[string]any{"rel_type": "m.reference", "event_id": startedID}
	switch typ {
	case "m.room.message":
		return f.ev(room, user, typ, nil, map[string]any{"msgtype": "m.audio", "body": "chunk",
			"io.element.voice_broadcast_chunk": map[string]any{"sequence": 1}, "m.relates_to": rel})
	case "m.room.encrypted":
		return f.ev(room, user, typ, nil, map[string]any{"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "xyz",
			"m.relates_to": rel})
	}
	return f.ev(room, user, typ, nil, map[string]any{"sequence": 1, "m.relates_to": rel})
}

func (f *fixture) room(room string) *floor.Room {
	f.t.Helper()
	r, _, err := f.st.Room(f.ctx, room)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// sent is one outbox row as the homeserver would receive it.
type sent struct {
	ID      int64
	Kind    string
	Request matrix.Request
}

// outbox returns every row written for a room, oldest first.
func (f *fixture) outbox(room string) []sent {
	f.t.Helper()
	rows, err := f.st.Pool().Query(f.ctx, `SELECT id, kind, payload::text FROM outbox WHERE room_id = $1 ORDER BY id`, room)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []sent
	for rows.Next() {
		var s sent
		var payload string
		if err := rows.Scan(&s.ID, &s.Kind, &payload); err != nil {
			f.t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(payload), &s.Request); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// responses returns the talk_responses written for a room after row id since.
func (f *fixture) responses(room string, since int64) []matrix.ResponseContent {
	var out []matrix.ResponseContent
	for _, s := range f.outbox(room) {
		if s.ID <= since || s.Kind != matrix.KindMessage || s.Request.EventType != floor.TypeResponse {
			continue
		}
		var rc matrix.ResponseContent
		if err := json.Unmarshal(s.Request.Content, &rc); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, rc)
	}
	return out
}

// redactions returns the event IDs redacted in a room after row id since.
func (f *fixture) redactions(room string, since int64) map[string]string {
	out := map[string]string{}
	for _, s := range f.outbox(room) {
		if s.ID > since && s.Kind == matrix.KindRedact {
			out[s.Request.EventID] = s.Request.Reason
		}
	}
	return out
}

func (f *fixture) lastID(room string) int64 {
	rows := f.outbox(room)
	if len(rows) == 0 {
		return 0
	}
	return rows[len(rows)-1].ID
}

func holderOf(r *floor.Room) string {
	if r.Holder == nil {
		return ""
	}
	return r.Holder.UserID + "/" + r.Holder.DeviceID
}

func undated() *roomevents.Builder {
	b := roomevents.New("e")
	b.Undated = true
	return b
}
