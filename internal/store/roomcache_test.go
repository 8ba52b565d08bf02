package store

import (
	"fmt"
	"testing"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// The cache holds at most its bound, dropping the rooms put longest ago;
// it keeps the later of two versions of a room, whichever comes last; a
// room taken out is out.
func TestRoomCacheBoundVersionsAndTake(t *testing.T) {
	c := newRoomCache(3)
	put := func(id string, version int64) {
		c.put(cachedRoom{roomID: id, version: version, room: &floor.Room{RoomID: id, Term: version}})
	}
	for i := range 5 {
		put(fmt.Sprint("!r", i), 10)
	}
	if c.len() != 3 {
		t.Fatalf("the cache holds %d rooms, want its bound 3", c.len())
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := c.take(fmt.Sprint("!r", i)); ok != want {
			t.Fatalf("!r%d cached: %v, want %v (the oldest go first)", i, ok, want)
		}
	}
	if c.len() != 0 {
		t.Fatalf("%d rooms left after taking every one", c.len())
	}

	put("!a", 7)
	put("!a", 5) // an older write of this process, put late
	if got, ok := c.take("!a"); !ok || got.version != 7 || got.room.Term != 7 {
		t.Fatalf("got %+v (%v), want version 7", got, ok)
	}
	if _, ok := c.take("!a"); ok {
		t.Fatal("a room taken out is still in the cache")
	}

	if newRoomCache(-1) != nil {
		t.Fatal("a negative bound must mean no cache")
	}
	var none *roomCache
	none.put(cachedRoom{roomID: "!a", version: 1, room: &floor.Room{}})
	if _, ok := none.take("!a"); ok || none.len() != 0 {
		t.Fatal("no cache holds nothing")
	}
}
