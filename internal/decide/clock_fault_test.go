package decide_test

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Deadlines are set and compared on the database's clock only, so a
// replica whose own clock is wrong grants, times and revokes exactly as
// the others do.
//
// Neither PostgreSQL's clock nor this process's can be moved from a test.
// AdvanceClock shifts the database clock as the store reads it, which is
// what a database an hour ahead of this process looks like to Walkie. Had
// any step read the process clock instead, the grant would be stamped an
// hour early and DueRooms, which reads the database clock, would call the
// floor overdue the moment it was granted.
func TestTimersRunOnTheDatabaseClock(t *testing.T) {
	f := newFixture(t)
	const room = "!clock:test"
	f.setupRoom(room, alice)
	f.deliver(f.permit(room, alice, "A", nil))

	f.st.AdvanceClock(time.Hour)
	f.deliver(f.request(room, alice, "A", "request", nil))
	r := f.room(room)
	if r.Holder == nil {
		t.Fatal("alice was not granted the floor")
	}
	if skew := time.Until(r.Holder.GrantedAt); skew < 59*time.Minute {
		t.Fatalf("the grant is stamped %v from this process's clock; want the database clock, an hour ahead", skew)
	}
	if due, err := f.st.DueRooms(f.ctx, 10); err != nil || len(due) != 0 {
		t.Fatalf("a floor granted just now is due already: %v %v", due, err)
	}

	// start_timeout (5 s in testDefaults) passes on the database clock alone.
	f.st.AdvanceClock(testDefaults.StartTimeout)
	due, err := f.st.DueRooms(f.ctx, 10)
	if err != nil || len(due) != 1 || due[0] != room {
		t.Fatalf("after start_timeout on the database clock the room must be due: %v %v", due, err)
	}
	since := f.lastID(room)
	f.tick(room, 0)
	if r := f.room(room); r.Holder != nil {
		t.Fatalf("the timer did not revoke the floor: holder %s", holderOf(r))
	}
	expectResponse(t, f.responses(room, since), 0, floor.StatusRevoked, floor.ReasonNoMedia)
}

// DueRooms compares deadlines with clock_timestamp(), not with a time
// the caller passes in: a deadline written relative to the database's
// clock is due, or not, whatever this process believes the time to be.
func TestDueRoomsReadsTheDatabaseClock(t *testing.T) {
	f := newFixture(t)
	const past, future = "!past:test", "!future:test"
	f.setupRoom(past)
	f.setupRoom(future)
	for room, offset := range map[string]string{past: "-1 second", future: "1 hour"} {
		if _, err := f.st.Pool().Exec(f.ctx, `UPDATE room SET next_deadline = clock_timestamp() + $2::interval
			WHERE room_id = $1`, room, offset); err != nil {
			t.Fatal(err)
		}
	}
	due, err := f.st.DueRooms(f.ctx, 10)
	if err != nil || len(due) != 1 || due[0] != past {
		t.Fatalf("due rooms %v (%v); want only %s", due, err, past)
	}
}
