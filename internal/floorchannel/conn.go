package floorchannel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/store"
)

// Close codes of the floor channel beyond RFC 6455's (docs/protocol.md).
const (
	closeBadAuth        websocket.StatusCode = 4000 // the first message was not a valid auth message
	closeAuthFailed     websocket.StatusCode = 4001 // the homeserver does not vouch for the token
	closeAuthTimeout    websocket.StatusCode = 4002 // no auth message in time
	closeWrongUser      websocket.StatusCode = 4003 // the token is another user's than user_id says
	closeTooManySockets websocket.StatusCode = 4004 // the user has MaxSocketsPerUser sockets already
)

// conn is one socket. One goroutine reads and handles the client's
// messages in order; another writes everything queued for the client
// (responses, errors and pushes, in the order queued) and pings.
type conn struct {
	s    *Server
	ws   *websocket.Conn
	out  chan []byte
	done chan struct{} // closed by fail: the writer closes the socket

	failOnce    sync.Once
	closeCode   websocket.StatusCode
	closeReason string

	// Set once by authentication (under hub.mu), then read by the reader
	// and the hub.
	user, device string
	// subscribed is the hub's (under hub.mu).
	subscribed map[string]bool
	bucket     tokenBucket
}

func newConn(s *Server, ws *websocket.Conn) *conn {
	return &conn{s: s, ws: ws, out: make(chan []byte, outboundQueue), done: make(chan struct{}),
		subscribed: map[string]bool{},
		bucket:     tokenBucket{tokens: burstMessages, last: time.Now()}}
}

// send queues a message for the client. A client that does not read is
// disconnected rather than allowed to hold pushes to others up.
func (c *conn) send(msg []byte) {
	select {
	case c.out <- msg:
	case <-c.done:
	default:
		c.fail(websocket.StatusPolicyViolation, "too slow: messages for this socket piled up")
	}
}

// fail closes the socket with code and reason (the first call wins); the
// writer sends the close frame after what was queued before.
func (c *conn) fail(code websocket.StatusCode, reason string) {
	c.failOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		close(c.done)
	})
}

// serve runs the socket until it closes.
func (c *conn) serve() {
	c.s.hub.add(c)
	defer c.s.hub.leave(c)
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.writeLoop()
	}()
	if c.authenticate() {
		c.readLoop()
	}
	c.fail(websocket.StatusNormalClosure, "")
	<-written
}

// writeLoop writes queued messages, pings every PingInterval, and closes
// the socket once fail was called.
func (c *conn) writeLoop() {
	ping := time.NewTicker(c.s.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.done:
			c.flush()
			_ = c.ws.Close(c.closeCode, c.closeReason)
			return
		case msg := <-c.out:
			if err := c.write(msg); err != nil {
				c.fail(websocket.StatusGoingAway, "write failed")
				_ = c.ws.CloseNow()
				return
			}
		case <-ping.C:
			// A pong needs the reader running: Ping waits for it apart.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.PingInterval)
				defer cancel()
				if err := c.ws.Ping(ctx); err != nil {
					c.fail(websocket.StatusPolicyViolation, "no pong: the connection seems dead")
				}
			}()
		}
	}
}

// flush writes what was queued before the close (an error explaining it,
// say), without waiting long for a client that does not read.
func (c *conn) flush() {
	for {
		select {
		case msg := <-c.out:
			if c.write(msg) != nil {
				return
			}
		default:
			return
		}
	}
}

func (c *conn) write(msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

// read reads the next text message; ok is false once the socket is done.
func (c *conn) read() ([]byte, bool) {
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			// A message over the read limit has been answered with 1009
			// by the library already.
			return nil, false
		}
		if typ == websocket.MessageText {
			return data, true
		}
		c.send(errorPush(clientMessage{}, &protocolError{code: errNotJSON, msg: "binary messages are not understood: send JSON text"}))
	}
}

// authenticate waits for the auth message, has the token checked and
// answers ready, or closes the socket saying why.
func (c *conn) authenticate() bool {
	timer := time.AfterFunc(c.s.opts.AuthTimeout, func() {
		c.s.authFailed("timeout")
		c.fail(closeAuthTimeout, fmt.Sprintf("no auth message within %s", c.s.opts.AuthTimeout))
	})
	data, ok := c.read()
	if !timer.Stop() || !ok {
		return false
	}
	m, perr := parseMessage(data)
	switch {
	case perr != nil:
		c.s.authFailed("bad_message")
		c.fail(closeBadAuth, "bad auth message: "+perr.msg)
		return false
	case m.Type != typeAuth:
		c.s.authFailed("bad_message")
		c.fail(closeBadAuth, "the first message must be an auth message")
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
	user, err := c.s.opts.Verifier.Verify(ctx, *m.OpenID)
	cancel()
	switch {
	case errors.Is(err, openid.ErrUnavailable):
		c.s.log.Warn().Err(err).Str("server", m.OpenID.MatrixServerName).Msg("Floor channel: the homeserver could not verify an OpenID token")
		c.s.authFailed("unavailable")
		c.fail(websocket.StatusTryAgainLater, "the homeserver could not verify the token; try again later")
		return false
	case err != nil:
		c.s.log.Debug().Err(err).Str("server", m.OpenID.MatrixServerName).Msg("Floor channel: OpenID token refused")
		c.s.authFailed("rejected")
		c.fail(closeAuthFailed, "OpenID token refused: "+authFailure(err))
		return false
	case m.UserID != "" && m.UserID != user:
		c.s.authFailed("wrong_user")
		c.fail(closeWrongUser, truncate(fmt.Sprintf("the token is %s's, not %s's", user, m.UserID)))
		return false
	}
	if !c.s.hub.authenticate(c, user, m.DeviceID, c.s.opts.MaxSocketsPerUser) {
		c.s.authFailed("too_many_sockets")
		c.fail(closeTooManySockets, fmt.Sprintf("at most %d floor-channel sockets per user", c.s.opts.MaxSocketsPerUser))
		return false
	}
	c.send(encode(readyMessage{Type: typeReady, UserID: user, DeviceID: c.device}))
	return true
}

// authFailure says briefly why a token was refused (never the token).
func authFailure(err error) string {
	switch {
	case errors.Is(err, openid.ErrExpired):
		return "it has expired"
	case errors.Is(err, openid.ErrRejected):
		return "the homeserver does not know it"
	case errors.Is(err, openid.ErrWrongServer):
		return "it belongs to a user of another server"
	case errors.Is(err, openid.ErrUnknownServer):
		return "its server is not one this Walkie can ask"
	case errors.Is(err, openid.ErrMalformed):
		return "malformed"
	}
	return "not accepted"
}

// truncate keeps a close reason within the 123 bytes a close frame holds.
func truncate(reason string) string {
	if len(reason) > 123 {
		return reason[:120] + "..."
	}
	return reason
}

// readLoop handles the client's messages in order until the socket closes.
func (c *conn) readLoop() {
	refused := 0
	for {
		data, ok := c.read()
		if !ok {
			return
		}
		select {
		case <-c.done:
			return
		default:
		}
		m, perr := parseMessage(data)
		if perr != nil {
			c.s.received("invalid")
		} else {
			c.s.received(m.Type)
		}
		if perr == nil && !c.bucket.take(time.Now()) {
			perr = &protocolError{code: errLimit, msg: fmt.Sprintf("more than %d messages a second", messageRate)}
			if refused++; refused > maxRefused {
				c.fail(websocket.StatusPolicyViolation, "too many messages")
				return
			}
		}
		if perr != nil {
			c.send(errorPush(m, perr))
			continue
		}
		refused = 0
		switch m.Type {
		case typeAuth:
			c.send(errorPush(m, &protocolError{code: errBadJSON, msg: "already authenticated"}))
		case typeSubscribe:
			c.subscribe(m)
		case typeUnsubscribe:
			c.s.hub.unsubscribe(c, m.RoomID)
		default:
			c.request(m)
		}
	}
}

// subscribe makes the socket follow a room its user is joined to, and
// pushes the room's current floor state.
func (c *conn) subscribe(m clientMessage) {
	// Follow first, then read: a change committed in between is pushed
	// by the hub or found by the read, and the hub drops the older one.
	if !c.s.hub.subscribe(c, m.RoomID, maxSubscriptions) {
		c.send(errorPush(m, &protocolError{code: errLimit, msg: fmt.Sprintf("a socket may follow at most %d rooms", maxSubscriptions)}))
		return
	}
	room, perr := c.room(m.RoomID)
	if perr == nil && room.Members[c.user] != "join" {
		perr = &protocolError{code: errForbidden, msg: "you are not joined to this room"}
	}
	if perr != nil {
		c.s.hub.unsubscribe(c, m.RoomID)
		c.send(errorPush(m, perr))
		return
	}
	c.s.hub.offer(c, m.RoomID, room.FloorVersion, c.s.opts.Decider.PublishedFloor(room, time.Now()))
}

var notInRoom = &protocolError{code: errNotFound, msg: "Walkie is not in this room"}

// room reads a room Walkie is in.
func (c *conn) room(roomID string) (*floor.Room, *protocolError) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	room, joined, err := c.s.opts.Store.Room(ctx, roomID)
	switch {
	case errors.Is(err, store.ErrUnknownRoom) || (err == nil && !joined):
		return nil, notInRoom
	case err != nil:
		c.s.log.Error().Err(err).Str("room_id", roomID).Msg("Floor channel: could not read a room")
		return nil, &protocolError{code: errUnknown, msg: "could not read the room; try again"}
	}
	return room, nil
}

// request decides a request, release or cancel and answers it.
func (c *conn) request(m clientMessage) {
	req := floor.TalkRequest{Channel: channelName(m.ID), Sender: c.user, DeviceID: c.device,
		Action: action(m.Type), Term: m.Term, Preempt: m.Preempt}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	resp, out, err := c.s.opts.Decider.ChannelRequest(ctx, m.RoomID, req)
	cancel()
	if errors.Is(err, decide.ErrNotJoined) {
		c.send(errorPush(m, notInRoom))
		return
	}
	if err != nil {
		c.s.log.Error().Err(err).Str("room_id", m.RoomID).Str("user_id", c.user).Msg("Floor channel: could not decide a request")
		c.send(errorPush(m, &protocolError{code: errUnknown, msg: "the request could not be decided; try again"}))
		return
	}
	c.send(encode(responseMessage{Type: typeResponse, ID: m.ID, RoomID: m.RoomID, Response: resp}))
	if out.Floor != nil {
		// At once, ahead of the copy that comes through Run, with the
		// decision's later answers to other requests (a release that
		// grants the next in the queue), which go first.
		c.s.hub.deliver(m.RoomID, out.Later, out.FloorVersion, out.Floor)
	}
}

// channelName is the engine's name (floor.TalkRequest.Channel) of the
// request the client named id; requestID gives id back.
func channelName(id string) string { return channelPrefix + id }

func requestID(channel string) (string, bool) { return strings.CutPrefix(channel, channelPrefix) }

const channelPrefix = "channel:"

// tokenBucket limits a socket's messages: burstMessages at once, then
// messageRate a second.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	b.tokens = min(burstMessages, b.tokens+now.Sub(b.last).Seconds()*messageRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
