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

// authenticate counts a socket's user as authenticated on it with
// device, unless the user has max sockets already.
func (h *hub) authenticate(c *conn, user, device string, max int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[user] >= max {
		return false
	}
	h.users[user]++
	c.user, c.device = user, device
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
	h.deliver(room, nil, version, &fs)
}

// deliver hands a committed decision's news to the room's followers: its
// later answers to floor-channel requests (see answerLocked) and its floor
// state. With a floor state they go with it, first, to each follower that
// has not had that version yet: the two copies of a decision (this
// process's and the database's) make one delivery, and no socket gets
// the floor state a grant caused before the grant's answer. A follower
// that got a later version first gets neither: that floor state tells it
// what happened. Without a floor state (the decision published none) the
// answers go at once; the caller sees to it that only one copy comes.
func (h *hub) deliver(room string, answers []floor.Response, version int64, fs *floor.FloorState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fs == nil {
		for c := range h.rooms[room] {
			h.answerLocked(c, room, answers)
		}
		return
	}
	var msg []byte // encoded once, for every follower
	for c, seen := range h.rooms[room] {
		if version <= seen {
			continue
		}
		if msg == nil {
			msg = floorPush(room, version, *fs)
		}
		h.answerLocked(c, room, answers)
		h.rooms[room][c] = version
		h.push(c, msg)
	}
}

// answerLocked sends c the later answers (floor.Response.Later) meant
// for its user and device, each as the response to the request's id.
// Every socket of the device that follows the room gets them, not "the
// socket that asked": by now that one may be gone, replaced by the
// device's next socket, or served by another replica, while a socket of
// the device that follows the room is found by whichever replica serves
// it, and gets the room's floor states in the same order. A device with
// no such socket gets nothing here: it learns from the floor state, which
// the room has too.
func (h *hub) answerLocked(c *conn, room string, answers []floor.Response) {
	for _, a := range answers {
		id, ok := requestID(a.Channel)
		if !ok || a.Device == nil || c.user != a.Device.UserID || c.device != a.Device.DeviceID {
			continue
		}
		c.send(encode(responseMessage{Type: typeResponse, ID: id, RoomID: room, Response: a}))
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
