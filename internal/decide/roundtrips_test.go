package decide_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
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
			// One statement locks a batch's rooms, in the order given
			// (store.TestLockRoomsLocksInSortedOrder).
			r.locked = append(r.locked, q.Arguments[0].([]string)...)
		}
	}
	return ctx
}

func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// traced is a Decider on the fixture's database, on a pool of maxConns
// connections whose round trips rt counts.
func (f *fixture) traced(maxConns int32) (*decide.Decider, *roundTrips) {
	rt := &roundTrips{}
	st := pgtest.NewStore(f.t, store.Options{URI: f.url, MaxConns: maxConns, Controller: bot, Defaults: testDefaults, Tracer: rt})
	return f.decider(st), rt
}

func (r *roundTrips) reset() (n int, locked []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, locked = r.n, r.locked
	r.n, r.locked = 0, nil
	return n, locked
}

// A room's decision costs two round trips to PostgreSQL: BEGIN, the lock,
// the pending events and the clock in one; every write and the commit in
// the other. Receiving a transaction costs the same however many rooms it
// touches: storing it goes with the locks; rooms are locked in sorted
// order.
func TestDecisionRoundTripsAndLockOrder(t *testing.T) {
	f := newFixture(t)
	rooms := []string{"!c:test", "!a:test", "!b:test"}
	for _, room := range rooms {
		f.setupRoom(room, alice)
	}
	d, rt := f.traced(1)

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
	if n != 2 {
		t.Fatalf("a transaction touching %d rooms took %d round trips, want 2 (store and lock every room; write and commit)", len(rooms), n)
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

// Decisions of different rooms that wait at the same moment share one
// transaction, and it costs two round trips however many rooms it holds
// (plus one per cross-room device check, which none of these needs):
// store the appservice transactions, lock every room and read its
// pending events in one; every write and the commit in the other.
func TestABatchOfRoomsCostsTwoRoundTrips(t *testing.T) {
	f := newFixture(t)
	const n = 12
	rooms := f.managedRooms(n, func(i int) (string, []string) {
		return fmt.Sprintf("!r%02d:test", n-1-i), []string{alice} // out of order
	})
	d, rt := f.traced(2)

	// Half the rooms have a pending permit for a room worker to decide;
	// the other half get theirs in an appservice transaction each.
	calls := make([]func() error, n)
	for i, room := range rooms {
		permit := f.permit(room, alice, "A", nil)
		if i%2 == 0 {
			if _, _, err := f.st.SaveTransaction(f.ctx, "pending-"+room, f.inbox(permit)); err != nil {
				t.Fatal(err)
			}
			calls[i] = func() error { _, err := d.Room(f.ctx, room); return err }
			continue
		}
		calls[i] = func() error { _, err := d.Transaction(f.ctx, "txn-"+room, []json.RawMessage{permit}); return err }
	}
	for _, err := range inOneBatch(t, d, func() { rt.reset() }, calls...) {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, locked := rt.reset()
	if got != 2 {
		t.Fatalf("a batch of %d rooms took %d round trips, want 2", n, got)
	}
	if !slices.IsSorted(locked) || len(locked) != n {
		t.Fatalf("rooms locked in the order %v, want all %d sorted", locked, n)
	}
	for _, room := range rooms {
		if len(f.room(room).Permits) != 1 {
			t.Fatalf("%s: the permit was not decided", room)
		}
	}
}

// inOneBatch makes the calls at once while d holds its batches back,
// waits until every one of them waits for a batch, runs before, lets the
// batch go and returns each call's error.
func inOneBatch(t *testing.T, d *decide.Decider, before func(), calls ...func() error) []error {
	t.Helper()
	resume := d.PauseCommits()
	defer resume()
	done := make(chan []error)
	go func() { done <- all(calls...) }()
	waitFor(t, "every decision waits for the batch", func() bool { return d.WaitingDecisions() == len(calls) })
	if before != nil {
		before()
	}
	resume()
	return <-done
}

// managedRooms sets up n managed rooms, room i named and peopled by
// room(i), and returns their IDs.
func (f *fixture) managedRooms(n int, room func(i int) (id string, users []string)) []string {
	f.t.Helper()
	ids := make([]string, n)
	for i := range n {
		var users []string
		ids[i], users = room(i)
		f.setupRoom(ids[i], users...)
	}
	return ids
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// The one-floor-per-device checks of a batch cost no round trip of their
// own: the requesters' devices are locked with the rooms, and the next in
// a queue about to be freed in one more round trip for the whole batch.
func TestABatchChecksItsDevicesTogether(t *testing.T) {
	f := newFixture(t)
	const n = 8
	rooms := f.managedRooms(n, func(i int) (string, []string) {
		return fmt.Sprintf("!r%d:test", i), []string{fmt.Sprintf("@a%d:test", i), fmt.Sprintf("@b%d:test", i)}
	})
	for i, room := range rooms {
		f.deliver(f.permit(room, fmt.Sprintf("@a%d:test", i), "A", nil), f.permit(room, fmt.Sprintf("@b%d:test", i), "B", nil))
	}
	d, rt := f.traced(2)

	for _, step := range []struct {
		user, device, action string
		want                 floor.LogAction
		roundTrips           int
	}{
		{"a", "A", floor.ActionRequest, floor.LogGrant, 2},
		{"b", "B", floor.ActionRequest, floor.LogQueue, 2},
		{"a", "A", floor.ActionRelease, floor.LogRelease, 3}, // and B is granted from the queue
	} {
		calls := make([]func() error, n)
		outs := make([]decide.Outcome, n)
		for i, room := range rooms {
			in := floor.TalkRequest{EventID: fmt.Sprintf("$%s%s%d", step.action, step.device, i),
				Sender: fmt.Sprintf("@%s%d:test", step.user, i), Action: step.action, DeviceID: step.device}
			calls[i] = func() (err error) { outs[i], err = d.DecideInputs(f.ctx, room, in); return err }
		}
		for _, err := range inOneBatch(t, d, func() { rt.reset() }, calls...) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := rt.reset(); got != step.roundTrips {
			t.Errorf("a batch of %d %ss took %d round trips, want %d", n, step.action, got, step.roundTrips)
		}
		for i, out := range outs {
			if len(out.Log) == 0 || out.Log[0].Action != step.want {
				t.Fatalf("%s: %s %s: %+v, want %s", rooms[i], step.user, step.action, out.Log, step.want)
			}
		}
	}
	for _, room := range rooms {
		if r := f.room(room); r.Holder == nil || r.Holder.DeviceID != "B" || r.Term != 2 {
			t.Fatalf("%s: holder %+v term %d, want B in term 2", room, r.Holder, r.Term)
		}
	}
}
