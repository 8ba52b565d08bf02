package decide_test

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// A decision that leased its idle room to a sender that stops before the
// commit releases the room itself, so a claim sends its rows at once
// instead of after the lease: nobody else would have sent them before.
func TestAHandOffToAStoppedSenderIsReleased(t *testing.T) {
	f := newFixture(t)
	const first, second = "!a:test", "!b:test" // decided in this order, in one batch
	f.setupRoom(first, alice)
	f.setupRoom(second, alice)
	f.sendAll()
	h := f.d.HandOffTo("sender", time.Minute)
	if h == nil {
		t.Fatal("no hand-offs")
	}
	// The sender stops while the batch decides the second room, after the
	// first one's rows were leased to it.
	f.d.InjectFault(func(env matrix.Envelope) []matrix.Call {
		if env.RoomID == second {
			h.Stop()
		}
		return nil
	})
	f.deliverAndDecide(
		f.ev(first, admin, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie status"}),
		f.ev(second, admin, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "hello"}),
	)
	if left := h.Take(10); len(left) != 0 {
		t.Fatalf("%d hand-offs queued for a stopped sender", len(left))
	}
	var owner *string
	var dueNow bool
	if err := f.st.Pool().QueryRow(f.ctx, `SELECT owner, due <= clock_timestamp() FROM outbox_room WHERE room_id = $1`, first).Scan(&owner, &dueNow); err != nil {
		t.Fatal(err)
	}
	if owner != nil || !dueNow {
		t.Fatalf("the first room is leased to %v, due now %v; want it released for a claim", owner, dueNow)
	}
	if n := f.d.HandOffTo("next", time.Minute); n == nil {
		t.Fatal("after Stop another sender cannot take the hand-offs")
	}
}

// sendAll records every unsent row as sent, as a sender would: the rooms
// are idle after it.
func (f *fixture) sendAll() {
	f.t.Helper()
	for {
		batches, err := f.st.ClaimRooms(f.ctx, "sendAll", 100, time.Minute)
		if err != nil {
			f.t.Fatal(err)
		}
		if len(batches) == 0 {
			return
		}
		var done []store.Finished
		for _, b := range batches {
			var res store.RoomResult
			for _, it := range b.Items {
				res.Sent = append(res.Sent, store.SentRow{ID: it.ID})
			}
			done = append(done, store.Finished{Room: b, Result: res})
		}
		if _, err := f.st.FinishRooms(f.ctx, "sendAll", done); err != nil {
			f.t.Fatal(err)
		}
	}
}
