package e2e

import (
	"context"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// Walkie's message rate per socket (docs/protocol.md: 5 a second after a
// burst of 20), a little lower so the bench never meets the limit.
const (
	socketRate  = 4.0
	socketBurst = 16.0
)

// channelRoom is a room measured over the floor channel: the requester
// presses through its sockets in turn (each press, request and release,
// on one), and the listener follows the room on a socket of its own.
type channelRoom struct {
	requester string // user ID; the device is TALK
	room      string
	sockets   []*pacedSocket
	next      int
	presses   int
	term      int64
	// answers has what the requester's sockets read; pushes what the
	// listener's read.
	answers, pushes chan received
	all             []*floorSocket
	paced           time.Duration
}

// pacedSocket is a requester's socket with the bench's copy of Walkie's
// message budget for it.
type pacedSocket struct {
	*floorSocket
	tokens float64
	last   time.Time
}

// newChannelRoom sets a room up like a benchRoom, then connects the
// requester's sockets (not following the room: a request's response is
// queued before the push it causes, so the response is what the requester
// sees first) and the listener's, which follows it.
func newChannelRoom(ctx context.Context, s *stack.Stack, name string, sockets int) (*channelRoom, error) {
	p, err := newRoomPeople(ctx, s, name, s.Walkie.BotUserID())
	if err != nil {
		return nil, err
	}
	r := &channelRoom{requester: p.requester.UserID.String(), room: p.room.String(),
		answers: make(chan received, 1024), pushes: make(chan received, 1024)}
	tok, err := p.requester.RequestOpenIDToken(ctx)
	if err != nil {
		return nil, fmt.Errorf("the requester's OpenID token: %w", err)
	}
	for range sockets {
		sock, err := r.connect(ctx, s.Walkie.WebURL(), tok, "TALK", false, r.answers)
		if err != nil {
			r.close()
			return nil, err
		}
		r.sockets = append(r.sockets, &pacedSocket{floorSocket: sock, tokens: socketBurst, last: time.Now()})
	}
	if tok, err = p.listener.RequestOpenIDToken(ctx); err != nil {
		r.close()
		return nil, fmt.Errorf("the listener's OpenID token: %w", err)
	}
	_, err = r.connect(ctx, s.Walkie.WebURL(), tok, "LISTEN", true, r.pushes)
	if err == nil {
		err = p.permitRequester(ctx)
	}
	if err == nil {
		// Walkie counts the permit before the first request can be granted.
		_, err = r.wait(ctx, r.pushes, "the permit counted", r.isFloor(func(f floor.FloorState) bool { return f.Listeners == 1 }))
	}
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// connect opens and authenticates a socket, has it follow the room if
// asked, and sends its messages to out.
func (r *channelRoom) connect(ctx context.Context, webURL string, tok *mautrix.RespOpenIDToken, device string,
	following bool, out chan<- received) (*floorSocket, error) {
	sock, err := dialChannel(ctx, webURL)
	if err != nil {
		return nil, err
	}
	r.all = append(r.all, sock)
	if err := sock.auth(ctx, tok, device); err != nil {
		return nil, err
	}
	if following {
		// Walkie may learn of the listener's join after the bot's own.
		if err := follow(ctx, sock, r.room, true); err != nil {
			return nil, err
		}
	}
	go func() {
		_ = sock.listen(ctx, func(m received) {
			select {
			case out <- m:
			case <-ctx.Done():
			}
		})
	}()
	return sock, nil
}

func (r *channelRoom) close() {
	for _, s := range r.all {
		s.close()
	}
}

// cycle is one press over the channel: request → the requester's socket
// has the grant and the listener's the push → release → the release is
// answered and the listener has the idle floor.
func (r *channelRoom) cycle(ctx context.Context) (requester, listener time.Duration, err error) {
	sock := r.sockets[r.next]
	r.next = (r.next + 1) % len(r.sockets)
	r.paced += sock.reserve(2) // the request and its release
	r.presses++
	press := fmt.Sprintf("press-%d", r.presses)
	sent := time.Now()
	if err := sock.send(ctx, map[string]any{"type": "request", "room_id": r.room, "id": press}); err != nil {
		return 0, 0, err
	}
	seen, err := r.wait(ctx, r.answers, "the grant", r.isResponse(press))
	if err != nil {
		return 0, 0, err
	}
	if seen.m.Status != floor.StatusGranted {
		return 0, 0, fmt.Errorf("request %s answered %q (%s), want granted", press, seen.m.Status, seen.m.Reason)
	}
	holds := func(f floor.FloorState) bool {
		return f.Holder != nil && f.Holder.UserID == r.requester && f.Holder.DeviceID == "TALK" && f.Term > r.term
	}
	heard, err := r.wait(ctx, r.pushes, "the listener's push of the grant", r.isFloor(holds))
	if err != nil {
		return 0, 0, err
	}
	r.term = seen.m.Term
	release := "release-" + press
	if err := sock.send(ctx, map[string]any{"type": "release", "room_id": r.room, "id": release, "term": r.term}); err != nil {
		return 0, 0, err
	}
	if done, err := r.wait(ctx, r.answers, "the release's answer", r.isResponse(release)); err != nil {
		return 0, 0, err
	} else if done.m.Status != floor.StatusReleased {
		return 0, 0, fmt.Errorf("release %s answered %q (%s)", release, done.m.Status, done.m.Reason)
	}
	idle := func(f floor.FloorState) bool { return f.Holder == nil && f.Term >= r.term }
	if _, err := r.wait(ctx, r.pushes, "the listener's push of the idle floor", r.isFloor(idle)); err != nil {
		return 0, 0, err
	}
	return seen.at.Sub(sent), heard.at.Sub(sent), nil
}

func (r *channelRoom) isResponse(id string) func(channelMessage) bool {
	return func(m channelMessage) bool { return m.Type == "response" && m.ID == id }
}

func (r *channelRoom) isFloor(pred func(floor.FloorState) bool) func(channelMessage) bool {
	return func(m channelMessage) bool { return m.Type == "floor" && m.RoomID == r.room && pred(m.FloorState) }
}

// wait reads from ch until a message matches; an error message from
// Walkie ends the wait with an error.
func (r *channelRoom) wait(ctx context.Context, ch <-chan received, what string, match func(channelMessage) bool) (received, error) {
	timeout := time.After(waitLimit)
	for {
		select {
		case got := <-ch:
			if got.m.Type == "error" {
				return got, fmt.Errorf("waiting for %s, Walkie answered %s: %s", what, got.m.Errcode, got.m.Error)
			}
			if match(got.m) {
				return got, nil
			}
		case <-timeout:
			return received{}, fmt.Errorf("no %s within %s", what, waitLimit)
		case <-ctx.Done():
			return received{}, errors.Join(fmt.Errorf("waiting for %s", what), ctx.Err())
		}
	}
}

// reserve takes n messages from the socket's budget, first sleeping until
// the budget has them, and returns how long it slept.
func (s *pacedSocket) reserve(n float64) time.Duration {
	now := time.Now()
	s.tokens = min(socketBurst, s.tokens+now.Sub(s.last).Seconds()*socketRate)
	s.last = now
	var slept time.Duration
	if s.tokens < n {
		slept = time.Duration((n - s.tokens) / socketRate * float64(time.Second))
		time.Sleep(slept)
		s.tokens, s.last = n, time.Now()
	}
	s.tokens -= n
	return slept
}
