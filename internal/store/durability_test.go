package store_test

import (
	"fmt"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/migrations"
)

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	f := newFixture(t) // migrated once
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := store.Open(f.ctx, store.Options{URI: f.url, Controller: bot})
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			errs <- st.Migrate(f.ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var rows, versions int
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT count(*), count(DISTINCT version) FROM walkie_schema_migration`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(migrations.FS, "*.sql")
	if rows != len(files) || versions != len(files) {
		t.Fatalf("want each of %d migrations recorded once, got %d rows for %d versions", len(files), rows, versions)
	}
}

func TestTransactionReplayAcrossRestart(t *testing.T) {
	f := newFixture(t)
	raw := f.ev("!r:test", alice, "m.room.message", map[string]any{"msgtype": "m.text", "body": "hi"})
	events := []store.InboxEvent{{EventID: eventID(raw), RoomID: "!r:test", Raw: raw}}
	replay, rooms, err := f.st.SaveTransaction(f.ctx, "T1", events)
	if err != nil || replay || len(rooms) != 1 {
		t.Fatalf("first delivery: replay=%v rooms=%v err=%v", replay, rooms, err)
	}
	restarted := f.open()
	replay, rooms, err = restarted.SaveTransaction(f.ctx, "T1", events)
	if err != nil || !replay || len(rooms) != 0 {
		t.Fatalf("replay after restart: replay=%v rooms=%v err=%v", replay, rooms, err)
	}
	// The same event in a new transaction is not stored twice either.
	_, rooms, err = restarted.SaveTransaction(f.ctx, "T2", events)
	if err != nil || len(rooms) != 0 {
		t.Fatalf("known event in a new txn: rooms=%v err=%v", rooms, err)
	}
	var n int
	_ = f.st.Pool().QueryRow(f.ctx, `SELECT count(*) FROM inbox`).Scan(&n)
	if n != 1 {
		t.Fatalf("inbox holds %d rows, want 1", n)
	}
}

// Restart between decision and send: the room's lease runs out and the
// next process sends the same rows with the same Matrix txn IDs.
func TestOutboxResentWithSameTxnIDAfterCrash(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	if err := f.st.Enqueue(f.ctx, room, row(1), row(2)); err != nil {
		t.Fatal(err)
	}
	first, err := f.st.ClaimRooms(f.ctx, "dead", 100, 300*time.Millisecond)
	if err != nil || len(first) != 1 || len(first[0].Items) == 0 {
		t.Fatalf("claim: %+v %v", first, err)
	}
	// The process dies here: nothing is recorded. A new process claims
	// once the lease has run out, and not before.
	restarted := f.open()
	if again, _ := restarted.ClaimRooms(f.ctx, "new", 100, time.Minute); len(again) != 0 {
		t.Fatalf("a leased room must not be claimed again, got %+v", again)
	}
	time.Sleep(400 * time.Millisecond)
	again, err := restarted.ClaimRooms(f.ctx, "new", 100, time.Minute)
	if err != nil || len(again) != 1 {
		t.Fatalf("re-claim: %+v %v", again, err)
	}
	if len(again[0].Items) != len(first[0].Items) {
		t.Fatalf("re-claimed %d rows, want %d", len(again[0].Items), len(first[0].Items))
	}
	for i, it := range again[0].Items {
		if it.ID != first[0].Items[i].ID || it.TxnID != first[0].Items[i].TxnID {
			t.Fatalf("row %d re-sent as %d/%s, first %d/%s", i, it.ID, it.TxnID, first[0].Items[i].ID, first[0].Items[i].TxnID)
		}
	}
}

func TestOutboxSendsRoomsInOrderAndSkipsFailedRows(t *testing.T) {
	f := newFixture(t)
	for _, room := range []string{"!a:test", "!b:test"} {
		if err := f.st.Enqueue(f.ctx, room, row(1),
			row(2)); err != nil {
			t.Fatal(err)
		}
	}
	batches, err := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute)
	if err != nil || len(batches) != 2 {
		t.Fatalf("want both rooms, got %d (%v)", len(batches), err)
	}
	for _, b := range batches {
		if len(b.Items) != 2 || b.Items[0].ID > b.Items[1].ID {
			t.Fatalf("room %s: rows out of order: %+v", b.RoomID, b.Items)
		}
		// Room a's first row fails for good; room b's must be retried later.
		var res store.RoomResult
		if b.RoomID == "!a:test" {
			res.Failed = []store.FailedRow{{ID: b.Items[0].ID, Cause: "M_FORBIDDEN"}}
		} else {
			res.Retry = &store.RetryRow{ID: b.Items[0].ID, Backoff: time.Hour, Cause: "timeout"}
		}
		if err := f.st.FinishRoom(f.ctx, "me", b, res); err != nil {
			t.Fatal(err)
		}
	}
	next, _ := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute)
	if len(next) != 1 || next[0].RoomID != "!a:test" || len(next[0].Items) != 1 || string(next[0].Items[0].Payload) != `{"n": 2}` {
		t.Fatalf("after a permanent failure the room's next row is sendable; a retrying row holds back its own room only: %+v", next)
	}
}

// Two senders racing for the same rooms never both get one.
func TestOutboxRoomLeaseIsExclusive(t *testing.T) {
	f := newFixture(t)
	for i := range 50 {
		if err := f.st.Enqueue(f.ctx, fmt.Sprintf("!r%d:test", i), row(i)); err != nil {
			t.Fatal(err)
		}
	}
	other := f.open()
	var wg sync.WaitGroup
	claimed := make([][]store.RoomBatch, 2)
	for i, st := range []*store.Store{f.st, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				b, err := st.ClaimRooms(f.ctx, fmt.Sprintf("owner%d", i), 10, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				claimed[i] = append(claimed[i], b...)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, bs := range claimed {
		for _, b := range bs {
			seen[b.RoomID]++
		}
	}
	if len(seen) != 50 {
		t.Fatalf("%d rooms claimed, want all 50", len(seen))
	}
	for room, n := range seen {
		if n != 1 {
			t.Fatalf("room %s claimed %d times", room, n)
		}
	}
}

// A sender whose lease ran out, and whose room was leased again meanwhile
// (here by the same process: the owner alone does not name a lease), must
// neither release the new lease nor record a retry the new holder is
// making; its sent marks still count.
func TestAStaleFinishLeavesTheNewLeaseAlone(t *testing.T) {
	f := newFixture(t)
	const room = "!stale:test"
	for i := range 2 {
		if err := f.st.Enqueue(f.ctx, room, row(i)); err != nil {
			t.Fatal(err)
		}
	}
	old, err := f.st.ClaimRooms(f.ctx, "owner", 1, 50*time.Millisecond)
	if err != nil || len(old) != 1 || len(old[0].Items) != 2 {
		t.Fatalf("first claim: %+v %v", old, err)
	}
	time.Sleep(100 * time.Millisecond) // the lease runs out (by the database's clock)
	current, err := f.st.ClaimRooms(f.ctx, "owner", 1, time.Minute)
	if err != nil || len(current) != 1 {
		t.Fatalf("second claim: %+v %v", current, err)
	}
	first, second := old[0].Items[0].ID, old[0].Items[1].ID
	err = f.st.FinishRoom(f.ctx, "owner", old[0], store.RoomResult{
		Sent:  []store.SentRow{{ID: first, EventID: "$sent"}},
		Retry: &store.RetryRow{ID: second, Backoff: time.Hour, Cause: "stale"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := f.open().ClaimRooms(f.ctx, "another", 1, time.Minute); err != nil || len(b) != 0 {
		t.Fatalf("the stale finish released the current lease: %+v %v", b, err)
	}
	var sent bool
	var attempts int
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT (SELECT sent_at IS NOT NULL FROM outbox WHERE id = $1),
		(SELECT attempts FROM outbox WHERE id = $2)`, first, second).Scan(&sent, &attempts); err != nil {
		t.Fatal(err)
	}
	if !sent || attempts != 0 {
		t.Fatalf("first row sent %v (want true), second row attempts %d (want 0)", sent, attempts)
	}
	// The current holder's finish works as usual.
	if err := f.st.FinishRoom(f.ctx, "owner", current[0], store.RoomResult{
		Sent: []store.SentRow{{ID: second, EventID: "$second"}}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.st.ClaimRooms(f.ctx, "another", 1, time.Minute); len(b) != 0 {
		t.Fatalf("a drained room is idle, not due: %+v", b)
	}
}

// Rows a decision adds while a sender holds the room are not lost when the
// sender finishes the rows it read; a drained room is not claimed again.
func TestOutboxRowsAddedDuringASendAreClaimedNext(t *testing.T) {
	f := newFixture(t)
	const room = "!r:test"
	if err := f.st.Enqueue(f.ctx, room, row(1)); err != nil {
		t.Fatal(err)
	}
	first, err := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute)
	if err != nil || len(first) != 1 || len(first[0].Items) != 1 {
		t.Fatalf("claim: %+v %v", first, err)
	}
	if err := f.st.Enqueue(f.ctx, room, row(2)); err != nil {
		t.Fatal(err)
	}
	if err := f.st.FinishRoom(f.ctx, "me", first[0], store.RoomResult{Sent: []store.SentRow{{ID: first[0].Items[0].ID}}}); err != nil {
		t.Fatal(err)
	}
	next, err := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute)
	if err != nil || len(next) != 1 || len(next[0].Items) != 1 || string(next[0].Items[0].Payload) != `{"n": 2}` {
		t.Fatalf("the row added during the send must be claimed next: %+v %v", next, err)
	}
	if err := f.st.FinishRoom(f.ctx, "me", next[0], store.RoomResult{Sent: []store.SentRow{{ID: next[0].Items[0].ID}}}); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute); len(again) != 0 {
		t.Fatalf("a drained room must not be claimed: %+v", again)
	}
	var infinite bool
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT due = 'infinity' FROM outbox_room WHERE room_id = $1`, room).Scan(&infinite); err != nil || !infinite {
		t.Fatalf("a drained room waits for its next row (due = infinity): %v %v", infinite, err)
	}
}
