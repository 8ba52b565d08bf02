package decide_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/store"
)

// roundTrips counts the statements pgx sends in one go (a Query, an Exec
// or a whole pipelined batch: one round trip each) and records which
// rooms were locked, in order.
type roundTrips struct {
	mu     sync.Mutex
	n      int
	locked []string
}

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	return ctx
}

func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	for _, q := range data.Batch.QueuedQueries {
		if strings.Contains(q.SQL, "FOR UPDATE") && strings.Contains(q.SQL, "FROM room") {
			r.locked = append(r.locked, q.Arguments[0].(string))
		}
	}
	return ctx
}

func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (r *roundTrips) reset() (n int, locked []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, locked = r.n, r.locked
	r.n, r.locked = 0, nil
	return n, locked
}

// A room's decision costs two round trips to PostgreSQL: BEGIN, the lock,
// the pending events and the clock in one; every write and the commit in
// the other. Receiving a transaction adds one for storing it, and one per
// further room; rooms are locked in sorted order.
func TestDecisionRoundTripsAndLockOrder(t *testing.T) {
	f := newFixture(t)
	rooms := []string{"!c:test", "!a:test", "!b:test"}
	for _, room := range rooms {
		f.setupRoom(room, alice)
	}
	rt := &roundTrips{}
	st, err := store.Open(f.ctx, store.Options{URI: f.url, MaxConns: 1, Controller: bot, Defaults: testDefaults, Tracer: rt})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := decide.New(decide.Options{Store: st, Controller: bot, Permissions: permissions{}, Log: zerolog.Nop()})

	rt.reset()
	if _, _, err := d.Decide(f.ctx, "!a:test"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rt.reset(); n != 2 {
		t.Fatalf("a room decision took %d round trips, want 2", n)
	}

	var events []json.RawMessage
	for _, room := range rooms {
		events = append(events, f.permit(room, alice, "A", nil))
	}
	if _, err := d.Transaction(f.ctx, "round-trips", events); err != nil {
		t.Fatal(err)
	}
	n, locked := rt.reset()
	if n != 1+len(rooms)+1 {
		t.Fatalf("a transaction touching %d rooms took %d round trips, want %d (store, a lock per room, commit)", len(rooms), n, len(rooms)+2)
	}
	if strings.Join(locked, " ") != "!a:test !b:test !c:test" {
		t.Fatalf("rooms locked in the order %v, want sorted", locked)
	}
	for _, room := range rooms {
		if len(f.room(room).Permits) != 1 {
			t.Fatalf("%s: the permit was not decided", room)
		}
	}
}
