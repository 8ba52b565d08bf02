package store_test

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/store"
)

// Rooms sent at the same moment are recorded together; one room whose
// results PostgreSQL refuses (a NUL in an error text) does not lose the
// others', and is itself left to run out its lease.
func TestFinishRoomsRecordsEachRoomWhateverTheOthers(t *testing.T) {
	f := newFixture(t)
	rooms := []string{"!a:test", "!b:test", "!c:test"}
	for _, room := range rooms {
		if err := f.st.Enqueue(f.ctx, room, row(1), row(2)); err != nil {
			t.Fatal(err)
		}
	}
	batches, err := f.st.ClaimRooms(f.ctx, "me", 10, time.Minute)
	if err != nil || len(batches) != len(rooms) {
		t.Fatalf("claimed %d rooms (%v), want %d", len(batches), err, len(rooms))
	}
	var finished []store.Finished
	for _, b := range batches {
		res := store.RoomResult{Sent: []store.SentRow{{ID: b.Items[0].ID, EventID: "$sent"}, {ID: b.Items[1].ID}}}
		if b.RoomID == "!b:test" {
			res = store.RoomResult{Failed: []store.FailedRow{{ID: b.Items[0].ID, Cause: "bad\x00cause"}}}
		}
		finished = append(finished, store.Finished{Room: b, Result: res})
	}
	if _, err := f.st.FinishRooms(f.ctx, "me", finished); err == nil {
		t.Fatal("the refused room's error was not reported")
	}

	var sent int
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND room_id <> '!b:test'`).Scan(&sent); err != nil {
		t.Fatal(err)
	}
	if sent != 4 {
		t.Fatalf("%d rows of a and c recorded as sent, want 4", sent)
	}
	var eventIDs int
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT count(*) FROM outbox WHERE sent_event_id = '$sent'`).Scan(&eventIDs); err != nil || eventIDs != 2 {
		t.Fatalf("%d rows carry their event ID (%v), want 2", eventIDs, err)
	}
	// a and c are idle again; b is still leased (its results were lost).
	if again, _ := f.st.ClaimRooms(f.ctx, "other", 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed %d rooms, want none", len(again))
	}
}
