package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/pgtest"
	"github.com/walkie-ptt/walkie/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	bot   = "@walkie:test"
	alice = "@alice:test"
)

var testDefaults = floor.Config{
	StartTimeout: 5 * time.Second, InactivityTimeout: 10 * time.Second, MaxTalk: 30 * time.Second,
	PauseGrace: 3 * time.Second, RevokeGrace: 3 * time.Second, QueueTimeout: 60 * time.Second,
	Queue: true, MaxQueue: 8, PreemptPowerLevel: 50, OneRoomPerDevice: true,
}

// fixture is a migrated database and a Store on it. The store's own tests
// need no decisions: those are the decision package's tests.
type fixture struct {
	t   *testing.T
	ctx context.Context
	url string
	st  *store.Store
	seq *atomic.Int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), url: pgtest.NewDatabase(t), seq: new(atomic.Int64)}
	f.st = f.open()
	return f
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

// ev builds a raw event.
func (f *fixture) ev(room, sender, typ string, content any) json.RawMessage {
	n := f.seq.Add(1)
	b, _ := json.Marshal(map[string]any{"type": typ, "event_id": fmt.Sprintf("$e%d", n), "room_id": room, "sender": sender,
		"origin_server_ts": n, "content": content})
	return b
}

func eventID(raw json.RawMessage) string {
	var e struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.EventID
}

// row is an outbox row whose payload says n.
func row(n int) store.OutboxRow {
	return store.OutboxRow{Kind: "message", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}
}
