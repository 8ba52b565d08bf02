package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/store"
)

// writeLeased writes rows for each room in one decision transaction,
// asking for a hand-off to lessee, and returns the hand-offs by room.
func (f *fixture) writeLeased(lessee store.Lessee, rows map[string][]store.OutboxRow, rooms ...string) map[string]*store.HandOff {
	f.t.Helper()
	var handOffs map[string]*store.HandOff
	if _, err := f.st.InTx(f.ctx, func(tx *store.Tx) error {
		handOffs = map[string]*store.HandOff{}
		for _, room := range rooms {
			if _, err := tx.LockRoom(room, 0); err != nil {
				return err
			}
			tx.AppendOutbox(room, rows[room])
			handOffs[room] = tx.LeaseOutbox(room, lessee)
		}
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
	return handOffs
}

// A decision that finds its rooms idle leases them in its own
// transaction: the hand-off holds the rows it wrote, under the IDs and
// txn IDs a claim would read, and nobody else can claim them.
func TestAHandOffCarriesTheRowsItWrote(t *testing.T) {
	f := newFixture(t)
	lessee := store.Lessee{Owner: "me", Lease: time.Minute, Now: time.Now}
	rows := map[string][]store.OutboxRow{"!a:test": {row(1), row(2)}, "!b:test": {row(3)}}
	handOffs := f.writeLeased(lessee, rows, "!a:test", "!b:test")
	for room, h := range handOffs {
		b, ok := h.Batch()
		if !ok {
			t.Fatalf("room %s was idle but not handed off", room)
		}
		if b.RoomID != room || len(b.Items) != len(rows[room]) {
			t.Fatalf("room %s: hand-off of %s with %d rows, want %d", room, b.RoomID, len(b.Items), len(rows[room]))
		}
		if left := time.Until(b.Deadline()); left > lessee.Lease || left < lessee.Lease-10*time.Second {
			t.Fatalf("room %s: the hand-off's deadline is %v away, want just under the lease", room, left)
		}
		for i, it := range b.Items {
			var stored string
			if err := f.st.Pool().QueryRow(f.ctx, `SELECT payload::text FROM outbox WHERE id = $1 AND room_id = $2`, it.ID, room).Scan(&stored); err != nil {
				t.Fatalf("room %s row %d: %v", room, it.ID, err)
			}
			var want, got any
			_ = json.Unmarshal(rows[room][i].Payload, &want)
			_ = json.Unmarshal([]byte(stored), &got)
			if string(mustJSON(want)) != string(mustJSON(got)) || it.TxnID != f.st.TxnID(it.ID) || it.Kind != rows[room][i].Kind {
				t.Fatalf("room %s item %d: %+v does not match stored row %s", room, i, it, stored)
			}
		}
	}
	if claimed, err := f.st.ClaimRooms(f.ctx, "other", 10, time.Minute); err != nil || len(claimed) != 0 {
		t.Fatalf("another sender claimed %d handed-off rooms (%v)", len(claimed), err)
	}
	var finished []store.Finished
	for _, h := range handOffs {
		b, _ := h.Batch()
		var res store.RoomResult
		for _, it := range b.Items {
			res.Sent = append(res.Sent, store.SentRow{ID: it.ID})
		}
		finished = append(finished, store.Finished{Room: b, Result: res})
	}
	if due, err := f.st.FinishRooms(f.ctx, "me", finished); err != nil || due != 0 {
		t.Fatalf("finishing the hand-offs: %d rooms due again (%v), want none", due, err)
	}
	if depth, _ := f.st.OutboxDepth(f.ctx); depth != 0 {
		t.Fatalf("%d rows unsent", depth)
	}
	var idle int
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT count(*) FROM outbox_room WHERE due = 'infinity' AND owner IS NULL`).Scan(&idle); err != nil || idle != 2 {
		t.Fatalf("%d rooms idle (%v), want 2", idle, err)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// Only idle rooms are handed off: not one a sender holds, nor one whose
// rows wait for a retry. Their rows wait for the claim, behind the older
// ones.
func TestOnlyIdleRoomsAreHandedOff(t *testing.T) {
	f := newFixture(t)
	lessee := store.Lessee{Owner: "me", Lease: time.Minute, Now: time.Now}
	for _, room := range []string{"!held:test", "!retry:test"} {
		if err := f.st.Enqueue(f.ctx, room, row(1)); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := f.st.ClaimRooms(f.ctx, "other", 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d rooms (%v), want 2", len(claimed), err)
	}
	for _, b := range claimed {
		if b.RoomID == "!retry:test" {
			if err := f.st.FinishRoom(f.ctx, "other", b, store.RoomResult{Retry: &store.RetryRow{ID: b.Items[0].ID, Backoff: time.Hour, Cause: "502"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	handOffs := f.writeLeased(lessee, map[string][]store.OutboxRow{"!held:test": {row(2)}, "!retry:test": {row(2)}}, "!held:test", "!retry:test")
	for room, h := range handOffs {
		if _, ok := h.Batch(); ok {
			t.Fatalf("room %s was handed off though not idle", room)
		}
	}
	var leasedToMe int
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT count(*) FROM outbox_room WHERE owner = 'me'`).Scan(&leasedToMe); err != nil || leasedToMe != 0 {
		t.Fatalf("%d rooms leased to the decision's sender (%v)", leasedToMe, err)
	}
	// The held room's sender finishes the first row: its room is due again
	// at once for the second, which a claim reads.
	for _, b := range claimed {
		if b.RoomID == "!held:test" {
			due, err := f.st.FinishRooms(f.ctx, "other", []store.Finished{{Room: b, Result: store.RoomResult{Sent: []store.SentRow{{ID: b.Items[0].ID}}}}})
			if err != nil || due != 1 {
				t.Fatalf("finishing the held room: %d due again (%v), want 1", due, err)
			}
		}
	}
	next, err := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute)
	if err != nil || len(next) != 1 || next[0].RoomID != "!held:test" || string(next[0].Items[0].Payload) != `{"n": 2}` {
		t.Fatalf("claimed %+v (%v), want the held room's second row", next, err)
	}
}

// A decision that writes more rows than a batch holds hands off the
// first ones; the rest are claimed after the release.
func TestAHandOffOfManyRowsLeavesTheRestToAClaim(t *testing.T) {
	f := newFixture(t)
	const room = "!many:test"
	var rows []store.OutboxRow
	for i := range 70 {
		rows = append(rows, row(i))
	}
	h := f.writeLeased(store.Lessee{Owner: "me", Lease: time.Minute}, map[string][]store.OutboxRow{room: rows}, room)[room]
	b, ok := h.Batch()
	if !ok || len(b.Items) == 0 || len(b.Items) >= len(rows) {
		t.Fatalf("handed off %d of %d rows (%v), want a batch's worth", len(b.Items), len(rows), ok)
	}
	var res store.RoomResult
	for _, it := range b.Items {
		res.Sent = append(res.Sent, store.SentRow{ID: it.ID})
	}
	if due, err := f.st.FinishRooms(f.ctx, "me", []store.Finished{{Room: b, Result: res}}); err != nil || due != 1 {
		t.Fatalf("%d rooms due again (%v), want the room", due, err)
	}
	rest, err := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute)
	if err != nil || len(rest) != 1 || len(b.Items)+len(rest[0].Items) != len(rows) || rest[0].Items[0].ID <= b.Items[len(b.Items)-1].ID {
		t.Fatalf("claimed %+v (%v), want the rows after the hand-off", rest, err)
	}
}
