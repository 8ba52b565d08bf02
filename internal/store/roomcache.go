package store

import (
	"container/list"
	"sync"
	"sync/atomic"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Decoding a room's JSON state was the largest part of a decision on
// Walkie's side, and reading it a large part on PostgreSQL's. The store
// therefore keeps the rooms it wrote, decoded, with the version of the row
// they are (migration 007). The lock of a room sends the version held
// here and gets the state back only when the row's differs: when another
// replica or an operator wrote the room since, or the copy here is gone.
//
// A copy is correct by construction: it is used only when the version
// read under the row lock is the one it was written as, and a version is
// never given to two states. A copy is taken out of the cache when its
// room is locked (the decision mutates it), and a decision's own copy
// goes in only once its transaction committed: a transaction that rolls
// back leaves the room uncached, never wrong.

// DefaultRoomCache is how many decoded rooms a store keeps when
// Options.RoomCache is 0: a few KB each.
const DefaultRoomCache = 10_000

// roomCache is a bounded map of decoded rooms, the least recently put
// evicted first. Safe for concurrent use.
type roomCache struct {
	mu    sync.Mutex
	max   int
	rooms map[string]*list.Element // of cachedRoom
	order list.List                // front: the most recently put
	// hits counts locks answered from here (for tests).
	hits atomic.Int64
}

// cachedRoom is a decoded room as of a version of its row. Whoever holds
// one owns the room: nobody else reads or writes it.
type cachedRoom struct {
	roomID  string
	version int64
	room    *floor.Room
}

// newRoomCache returns a cache of up to max rooms; nil (no cache) when max
// is negative.
func newRoomCache(max int) *roomCache {
	if max < 0 {
		return nil
	}
	if max == 0 {
		max = DefaultRoomCache
	}
	return &roomCache{max: max, rooms: map[string]*list.Element{}}
}

// take removes the room's copy from the cache and hands it over.
func (c *roomCache) take(roomID string) (cachedRoom, bool) {
	if c == nil {
		return cachedRoom{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.rooms[roomID]
	if !ok {
		return cachedRoom{}, false
	}
	delete(c.rooms, roomID)
	return c.order.Remove(e).(cachedRoom), true
}

// put keeps r unless the cache holds a later version of its room (two
// transactions of this process that wrote the room one after the other
// may put their copies in either order).
func (c *roomCache) put(r cachedRoom) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.rooms[r.roomID]; ok {
		if e.Value.(cachedRoom).version > r.version {
			return
		}
		e.Value = r
		c.order.MoveToFront(e)
		return
	}
	c.rooms[r.roomID] = c.order.PushFront(r)
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		delete(c.rooms, c.order.Remove(oldest).(cachedRoom).roomID)
	}
}

// len is how many rooms the cache holds (for tests).
func (c *roomCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
