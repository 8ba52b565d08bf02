package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/walkie-ptt/walkie/internal/store"
)

// bump locks the room in st, reads its term, and saves it with the next
// term; it returns the term it read.
func bump(t *testing.T, st *store.Store, roomID string) int64 {
	t.Helper()
	var term int64
	_, err := st.InTx(context.Background(), func(tx *store.Tx) error {
		locked, err := tx.LockRoom(roomID, 10)
		if err != nil {
			return err
		}
		term = locked.Room.Term
		locked.Room.Term++
		return tx.SaveRoom(locked.Room, true, locked.Now)
	})
	if err != nil {
		t.Fatal(err)
	}
	return term
}

// Two stores on one database are two replicas: each keeps the rooms it
// wrote, and uses its copy only while nobody else wrote the room since.
func TestRoomCacheAcrossReplicas(t *testing.T) {
	f := newFixture(t)
	a, b := f.st, f.open()
	const room = "!r:test"
	bump(t, a, room) // created: term 0 -> 1
	if got := bump(t, a, room); got != 1 {
		t.Fatalf("a read term %d, want 1", got)
	}
	if a.RoomCacheHits() != 1 {
		t.Fatalf("a's cache answered %d locks, want 1 (its own write)", a.RoomCacheHits())
	}
	if got := bump(t, b, room); got != 2 {
		t.Fatalf("b read term %d, want 2", got)
	}
	// a holds term 2 as its own, b wrote term 3 since.
	if got := bump(t, a, room); got != 3 {
		t.Fatalf("a read term %d after b's write, want 3 (a's copy is stale)", got)
	}
	if a.RoomCacheHits() != 1 || b.RoomCacheHits() != 0 {
		t.Fatalf("cache hits a %d b %d, want 1 and 0", a.RoomCacheHits(), b.RoomCacheHits())
	}
	if got := bump(t, a, room); got != 4 || a.RoomCacheHits() != 2 {
		t.Fatalf("a read term %d with %d hits, want 4 from its cache again", got, a.RoomCacheHits())
	}
}

// An operator's (or a migration's) write of the state moves the version
// too (migration 007's trigger), even one that sets the version to what
// it was: the copy of the room kept in memory is not used.
func TestRoomCacheSeesOtherWrites(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	bump(t, f.st, room)
	for _, update := range []string{
		`UPDATE room SET state = jsonb_set(state, '{term}', '41') WHERE room_id = $1`,
		`UPDATE room SET state = jsonb_set(state, '{term}', '41'), version = version WHERE room_id = $1`,
	} {
		if _, err := f.st.Pool().Exec(f.ctx, update, room); err != nil {
			t.Fatal(err)
		}
		hits := f.st.RoomCacheHits()
		if got := bump(t, f.st, room); got != 41 {
			t.Fatalf("%s: read term %d, want the operator's 41", update, got)
		}
		if f.st.RoomCacheHits() != hits {
			t.Fatalf("%s: the stale copy was used", update)
		}
	}
}

// A transaction that rolls back leaves no copy of what it wrote, though
// its UPDATE reached PostgreSQL (the copy taken out for it is gone too).
// (Were one kept, its version would be one no row ever has: the lock
// would not use it.)
func TestRoomCacheNotPoisonedByRollback(t *testing.T) {
	f := newFixture(t)
	const room, other = "!r:test", "!s:test"
	bump(t, f.st, room)
	errBail := errors.New("bail out")
	_, err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
		locked, err := tx.LockRoom(room, 10)
		if err != nil {
			return err
		}
		locked.Room.Term = 99 // the cached copy itself, in place
		if err := tx.SaveRoom(locked.Room, true, locked.Now); err != nil {
			return err
		}
		if _, err := tx.LockRoom(other, 10); err != nil { // sends the UPDATE
			return err
		}
		return errBail
	})
	if !errors.Is(err, errBail) {
		t.Fatalf("InTx: %v", err)
	}
	if n := f.st.CachedRooms(); n != 0 {
		t.Fatalf("%d rooms cached after the rollback, want none", n)
	}
	if got := bump(t, f.st, room); got != 1 {
		t.Fatalf("read term %d after the rollback, want 1", got)
	}
}

// One statement locks a batch's rooms, in the order of their IDs' bytes
// whatever order they are given in: while !m is held elsewhere, a batch
// of !z, !a and !m holds !a and waits, and has not touched !z.
func TestLockRoomsLocksInSortedOrder(t *testing.T) {
	f := newFixture(t)
	rooms := []string{"!z:test", "!a:test", "!m:test"}
	for _, r := range rooms {
		bump(t, f.st, r)
	}
	holder, err := f.st.Pool().Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(f.ctx) //nolint:errcheck
	if _, err := holder.Exec(f.ctx, `SELECT 1 FROM room WHERE room_id = '!m:test' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var locked []store.LockedRoom
	var lockErr error
	wg.Go(func() {
		_, lockErr = f.st.InTx(f.ctx, func(tx *store.Tx) error {
			var err error
			locked, err = tx.LockRooms([]store.RoomLock{{RoomID: rooms[0], Limit: 1}, {RoomID: rooms[1], Limit: 1}, {RoomID: rooms[2], Limit: 1}})
			return err
		})
	})
	waitFor(t, "the batch waits for !m", func() bool {
		var waiting bool
		err := f.st.Pool().QueryRow(f.ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%')`).Scan(&waiting)
		return err == nil && waiting
	})
	if !lockedElsewhere(t, f, "!a:test") {
		t.Fatal("!a is not locked: rooms were not locked in sorted order")
	}
	if lockedElsewhere(t, f, "!z:test") {
		t.Fatal("!z is locked before !m")
	}
	if err := holder.Rollback(f.ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if lockErr != nil {
		t.Fatal(lockErr)
	}
	var got []string
	for _, l := range locked {
		got = append(got, l.Room.RoomID)
	}
	if !slices.Equal(got, []string{"!a:test", "!m:test", "!z:test"}) {
		t.Fatalf("LockRooms returned %v, want the rooms sorted", got)
	}
}

// lockedElsewhere tries the room's row lock without waiting.
func lockedElsewhere(t *testing.T, f *fixture, roomID string) bool {
	t.Helper()
	tx, err := f.st.Pool().Begin(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(f.ctx) //nolint:errcheck
	_, err = tx.Exec(f.ctx, `SELECT 1 FROM room WHERE room_id = $1 FOR UPDATE NOWAIT`, roomID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// A batch lock of rooms known and new hands out every room once, with its
// own pending events (each room's up to its limit) and the clock, and
// creates the new rooms' rows.
func TestLockRoomsKnownAndNew(t *testing.T) {
	f := newFixture(t)
	bump(t, f.st, "!known:test")
	var events []store.InboxEvent
	for _, room := range []string{"!known:test", "!new:test", "!new:test", "!new:test"} {
		raw := f.ev(room, alice, "m.room.message", map[string]any{"msgtype": "m.text", "body": "hi"})
		events = append(events, store.InboxEvent{EventID: eventID(raw), RoomID: room, Raw: raw})
	}
	if _, _, err := f.st.SaveTransaction(f.ctx, "T1", events); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Minute)
	_, err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
		locked, err := tx.LockRooms([]store.RoomLock{{RoomID: "!new:test", Limit: 2}, {RoomID: "!known:test", Limit: 5}, {RoomID: "!empty:test", Limit: 5}})
		if err != nil {
			return err
		}
		want := map[string]int{"!empty:test": 0, "!known:test": 1, "!new:test": 2}
		if len(locked) != len(want) {
			t.Fatalf("%d rooms locked, want %d", len(locked), len(want))
		}
		for _, l := range locked {
			n, ok := want[l.Room.RoomID]
			if !ok || len(l.Events) != n || l.Now.Before(before) {
				t.Fatalf("%s: %d events at %v, want %d", l.Room.RoomID, len(l.Events), l.Now, n)
			}
			for _, ev := range l.Events {
				if ev.RoomID != l.Room.RoomID {
					t.Fatalf("%s got an event of %s", l.Room.RoomID, ev.RoomID)
				}
			}
			if !slices.IsSortedFunc(l.Events, func(a, b store.InboxEvent) int { return int(a.Seq - b.Seq) }) {
				t.Fatalf("%s: events out of order", l.Room.RoomID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT count(*) FROM room`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d room rows, want 3 (the new rooms created)", n)
	}
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
