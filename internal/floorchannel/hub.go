package floorchannel

import (
	"slices"
	"sync"

	"github.com/coder/websocket"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/metrics"
)

// hub knows the sockets, their users and the rooms they follow, and
// pushes each room's floor states to its followers in version order.
type hub struct {
	mu sync.Mutex
	// rooms: room → follower → the latest version pushed to it.
	rooms map[string]map[*conn]int64
	users map[string]int // authenticated sockets per user
	conns map[*conn]struct{}
	// metrics counts pushes (nil: not counted).
	metrics *metrics.Channel
}

func newHub(m *metrics.Channel) hub {
	return hub{rooms: map[string]map[*conn]int64{}, users: map[string]int{}, conns: map[*conn]struct{}{}, metrics: m}
}

// push queues a floor push for c (under h.mu).
func (h *hub) push(c *conn, msg []byte) {
	c.send(msg)
	if h.metrics != nil {
		h.metrics.Pushes.Inc()
	}
}

// noVersion is "nothing pushed yet": below every version, 0 included (a
// room that never published floor state).
const noVersion = -1

// add registers a new socket (closeAll reaches it from now on).
func (h *hub) add(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conns[c] = struct{}{}
}

// authenticate counts a socket's user as authenticated on it, unless the
// user has max sockets already.
func (h *hub) authenticate(c *conn, user string, max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[user] >= max {
		return false
	}
	h.users[user]++
	c.user = user
	return true
}

// leave forgets a socket, its user's count and its subscriptions.
func (h *hub) leave(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	if c.user != "" {
		if h.users[c.user]--; h.users[c.user] <= 0 {
			delete(h.users, c.user)
		}
	}
	for room := range c.subscribed {
		h.unsubscribeLocked(c, room)
	}
}

// subscribe makes c follow room (afresh: its current state will be
// pushed again). It fails when c follows max rooms already.
func (h *hub) subscribe(c *conn, room string, max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !c.subscribed[room] && len(c.subscribed) >= max {
		return false
	}
	followers := h.rooms[room]
	if followers == nil {
		followers = map[*conn]int64{}
		h.rooms[room] = followers
	}
	followers[c] = noVersion
	c.subscribed[room] = true
	return true
}

func (h *hub) unsubscribe(c *conn, room string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsubscribeLocked(c, room)
}

func (h *hub) unsubscribeLocked(c *conn, room string) {
	delete(c.subscribed, room)
	if followers := h.rooms[room]; followers != nil {
		delete(followers, c)
		if len(followers) == 0 {
			delete(h.rooms, room)
		}
	}
}

// publish pushes a room's floor state to each follower that has seen no
// later (or the same) version: two sources (this process's decisions and
// the database's notifications) deliver most states twice, and in either
// order.
func (h *hub) publish(room string, version int64, fs floor.FloorState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var msg []byte // encoded once, for every follower
	for c, seen := range h.rooms[room] {
		if version <= seen {
			continue
		}
		if msg == nil {
			msg = floorPush(room, version, fs)
		}
		h.rooms[room][c] = version
		h.push(c, msg)
	}
}

// offer pushes a room's floor state to one follower, if it is still one
// and has not seen it (the state read when it subscribed).
func (h *hub) offer(c *conn, room string, version int64, fs floor.FloorState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen, ok := h.rooms[room][c]
	if !ok || version <= seen {
		return
	}
	h.rooms[room][c] = version
	h.push(c, floorPush(room, version, fs))
}

// dropFollowers unsubscribes the followers of room whose user gone
// reports, and sends each of them msg.
func (h *hub) dropFollowers(room string, gone func(user string) bool, msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.rooms[room] {
		if gone(c.user) {
			h.unsubscribeLocked(c, room)
			c.send(msg)
		}
	}
}

// followedRooms lists the rooms some socket follows.
func (h *hub) followedRooms() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	rooms := make([]string, 0, len(h.rooms))
	for room := range h.rooms {
		rooms = append(rooms, room)
	}
	slices.Sort(rooms)
	return rooms
}

// closeAll closes every socket.
func (h *hub) closeAll(code websocket.StatusCode, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.fail(code, reason)
	}
}
