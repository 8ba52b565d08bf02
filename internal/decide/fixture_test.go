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
	"github.com/walkie-ptt/walkie/internal/pgtest"
	"github.com/walkie-ptt/walkie/internal/store"
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
	StartTimeout: 5 * time.Second, InactivityTimeout: 10 * time.Second, MaxTalk: 30 * time.Second,
	PauseGrace: 3 * time.Second, RevokeGrace: 3 * time.Second, QueueTimeout: 60 * time.Second,
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
	f := &fixture{t: t, ctx: context.Background(), url: pgtest.NewDatabase(t), seq: new(atomic.Int64)}
	f.st = f.open()
	f.d = f.decider(f.st)
	return f
}

// decider makes a Decider on st: another replica when st is one.
func (f *fixture) decider(st *store.Store) *decide.Decider {
	return decide.New(decide.Options{Store: st, Controller: bot, Permissions: permissions{}, Log: zerolog.Nop()})
}

// open connects a new Store to the fixture's database: a second replica,
// or the same process after a restart.
func (f *fixture) open() *store.Store {
	f.t.Helper()
	st, err := store.Open(f.ctx, store.Options{URI: f.url, MaxConns: 8, Controller: bot, Defaults: testDefaults})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(st.Close)
	if err := st.Migrate(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	return st
}

// ev builds a raw event. It carries no origin_server_ts: the engine then
// dates it by its arrival, on the clock AdvanceClock moves (see sentAt).
func (f *fixture) ev(room, sender, typ string, stateKey *string, content any) json.RawMessage {
	n := f.seq.Add(1)
	m := map[string]any{"type": typ, "event_id": fmt.Sprintf("$e%d", n), "room_id": room, "sender": sender,
		"content": content}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	b, _ := json.Marshal(m)
	return b
}

func sk(s string) *string { return &s }

func eventID(raw json.RawMessage) string {
	var e struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.EventID
}

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
	levels := map[string]any{
		"users":          map[string]int{bot: 100, admin: 100},
		"users_default":  0,
		"events_default": 0,
		"state_default":  50,
		"redact":         50,
		"events": map[string]int{
			floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeBroadcastInfoMSC3888: 0,
			floor.TypeBroadcastInfoElement: 0, floor.TypeFloor: 100,
		},
	}
	events := []json.RawMessage{
		f.ev(room, admin, "m.room.member", sk(admin), map[string]any{"membership": "join"}),
		f.ev(room, admin, "m.room.power_levels", sk(""), levels),
		f.ev(room, bot, "m.room.member", sk(bot), map[string]any{"membership": "join"}),
	}
	for _, u := range users {
		events = append(events, f.ev(room, u, "m.room.member", sk(u), map[string]any{"membership": "join"}))
	}
	f.deliver(events...)
	r := f.room(room)
	if !r.Managed {
		f.t.Fatalf("room %s not managed after setup", room)
	}
}

func (f *fixture) permit(room, user, device string, content map[string]any) json.RawMessage {
	if content == nil {
		content = map[string]any{"device_id": device, "send": true, "receive": true}
	}
	return f.ev(room, user, floor.TypePermit, sk("_"+user+"_"+device), content)
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
