package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	bot   = "@walkie:test"
	alice = "@alice:test"
)

// fixture is a migrated database and a Store on it. The store's own tests
// need no decisions (those are the decision package's tests), so no floor
// defaults either.
type fixture struct {
	t   *testing.T
	ctx context.Context
	url string
	st  *store.Store
	evs *roomevents.Builder
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), url: pgtest.NewDatabase(t), evs: roomevents.New("e")}
	f.st = f.open()
	return f
}

// open connects a new Store to the fixture's database: a second replica,
// or the same process after a restart.
func (f *fixture) open() *store.Store {
	f.t.Helper()
	return pgtest.NewStore(f.t, store.Options{URI: f.url, MaxConns: 8, Controller: bot})
}

// ev builds a raw event.
func (f *fixture) ev(room, sender, typ string, content any) json.RawMessage {
	raw, _ := f.evs.Event(room, sender, typ, nil, content)
	return raw
}

var eventID = roomevents.ID

// row is an outbox row whose payload says n.
func row(n int) store.OutboxRow {
	return store.OutboxRow{Kind: "message", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n))}
}
