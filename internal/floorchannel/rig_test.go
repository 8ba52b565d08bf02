package floorchannel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	bot   = "@walkie:test"
	admin = "@admin:test"
	alice = "@alice:test"
	bob   = "@bob:test"
	carol = "@carol:test" // not in the room
	room  = "!room:test"
)

var defaults = floor.Config{
	StartTimeout: timers.StartTimeout, InactivityTimeout: timers.InactivityTimeout, MaxTalk: timers.MaxTalk,
	PauseGrace: timers.PauseGrace, RevokeGrace: timers.RevokeGrace, QueueTimeout: timers.QueueTimeout,
	Queue: true, MaxQueue: 8, PreemptPowerLevel: 50, OneRoomPerDevice: true, RateLimit: 100, RateWindow: time.Second,
}

type nobody struct{}

func (nobody) PermissionLevel(string) config.Level { return config.LevelBlock }

// homeserver answers OpenID userinfo for the tokens it issued.
type homeserver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens map[string]string
	n      int
	down   bool
}

func newHomeserver(t *testing.T) *homeserver {
	hs := &homeserver{tokens: map[string]string{}}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		if hs.down {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		user, ok := hs.tokens[r.URL.Query().Get("access_token")]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errcode":"M_UNKNOWN_TOKEN"}`)
			return
		}
		fmt.Fprintf(w, `{"sub":%q}`, user)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// token issues an OpenID token for user.
func (hs *homeserver) token(user string) openid.Token {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.n++
	tok := fmt.Sprintf("openid-%d", hs.n)
	hs.tokens[tok] = user
	return openid.Token{AccessToken: tok, TokenType: "Bearer", MatrixServerName: "test", ExpiresIn: 3600}
}

// replica is one Walkie process's part: a store, a decider and a channel
// served over HTTP, its Run going until the test ends.
type replica struct {
	st   *store.Store
	d    *decide.Decider
	ch   *floorchannel.Server
	http *httptest.Server
	stop context.CancelFunc
	done chan struct{}
}

type rig struct {
	t   *testing.T
	url string // the database
	hs  *homeserver
	evs *roomevents.Builder
	*replica
}

func newRig(t *testing.T, opts floorchannel.Options) *rig {
	r := &rig{t: t, url: pgtest.NewDatabase(t), hs: newHomeserver(t), evs: roomevents.New("e")}
	r.replica = r.start(opts)
	// The room: admin created it, the bot, alice and bob joined; alice's
	// phone and bob's phone have permits.
	events := r.evs.RoomWithPermits(room, admin, bot, []floor.Device{{UserID: alice, DeviceID: "PHONE"}, {UserID: bob, DeviceID: "PHONE"}})
	if _, err := r.d.Transaction(t.Context(), "setup", events); err != nil {
		t.Fatal(err)
	}
	if rm, joined, err := r.st.Room(t.Context(), room); err != nil || !joined || !rm.Managed {
		t.Fatalf("room not set up: joined %v, err %v", joined, err)
	}
	return r
}

// start starts another replica on the rig's database.
func (r *rig) start(opts floorchannel.Options) *replica {
	t := r.t
	st := pgtest.NewStore(t, store.Options{URI: r.url, MaxConns: 8, Controller: bot, Defaults: defaults})
	d := decide.New(decide.Options{Store: st, Controller: bot, Permissions: nobody{}, Log: zerolog.Nop()})
	v, err := openid.New(openid.Options{Servers: map[string]string{"test": r.hs.URL}})
	if err != nil {
		t.Fatal(err)
	}
	opts.Decider, opts.Store, opts.Verifier = d, st, v
	if opts.PublicURL == "" {
		opts.PublicURL = "https://walkie.example.org"
	}
	ch := floorchannel.New(opts)
	rep := &replica{st: st, d: d, ch: ch, http: httptest.NewServer(ch), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	rep.stop = cancel
	go func() {
		defer close(rep.done)
		ch.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-rep.done
		rep.http.Close()
	})
	return rep
}

// client is a test's end of a socket.
type client struct {
	t  *testing.T
	ws *websocket.Conn
	// held are messages read while looking for another (take).
	held []map[string]any
}

func (rep *replica) dial(t *testing.T, header http.Header) (*client, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(rep.http.URL, "http")+floorchannel.Path,
		&websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &client{t: t, ws: ws}, resp, nil
}

// connect opens a socket and authenticates as user with device.
func (r *rig) connect(rep *replica, user, device string) *client {
	r.t.Helper()
	c, _, err := rep.dial(r.t, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	c.send(map[string]any{"type": "auth", "openid": r.hs.token(user), "device_id": device})
	if m := c.next(); m["type"] != "ready" || m["user_id"] != user || m["device_id"] != device {
		r.t.Fatalf("after auth: %v, want ready for %s/%s", m, user, device)
	}
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatal(err)
	}
}

// next is the next message from Walkie.
func (c *client) next() map[string]any {
	c.t.Helper()
	if len(c.held) > 0 {
		m := c.held[0]
		c.held = c.held[1:]
		return m
	}
	m, err := c.read()
	if err != nil {
		c.t.Fatalf("reading: %v", err)
	}
	return m
}

func (c *client) read() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(c.t.Context(), 15*time.Second)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(data, &m)
}

// closed reads until Walkie closes the socket and returns its close frame.
func (c *client) closed() websocket.CloseError {
	c.t.Helper()
	for {
		m, err := c.read()
		if err == nil {
			continue // messages before the close
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("the socket ended without a close frame: %v (last message %v)", err, m)
		}
		return ce
	}
}

// take returns the first message (held or new) that match accepts; the
// others stay held, in order. A response and the floor push it causes
// may arrive in either order.
func (c *client) take(what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for i, m := range c.held {
		if match(m) {
			c.held = append(c.held[:i:i], c.held[i+1:]...)
			return m
		}
	}
	for {
		m, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v (held %v)", what, err, c.held)
		}
		if match(m) {
			return m
		}
		if m["type"] == "error" {
			c.t.Fatalf("waiting for %s, got %v", what, m)
		}
		c.held = append(c.held, m)
	}
}

// floorOf is the next floor push for room.
func (c *client) floorOf(roomID string) map[string]any {
	c.t.Helper()
	return c.take("a floor push", func(m map[string]any) bool { return m["type"] == "floor" && m["room_id"] == roomID })
}

// response is the response to the request named id.
func (c *client) response(id string) map[string]any {
	c.t.Helper()
	return c.take("response "+id, func(m map[string]any) bool { return m["type"] == "response" && m["id"] == id })
}

func holderOf(push map[string]any) string {
	h, ok := push["holder"].(map[string]any)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%v/%v", h["user_id"], h["device_id"])
}

func floorDevice(user, device string) floor.Device {
	return floor.Device{UserID: user, DeviceID: device}
}
