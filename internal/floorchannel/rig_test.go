package floorchannel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/channelclient"
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

func (rep *replica) dial(t *testing.T, header http.Header) (*channelclient.Client, *http.Response, error) {
	t.Helper()
	return channelclient.Dial(t, rep.http.URL, header)
}

// connect opens a socket and authenticates as user with device.
func (r *rig) connect(rep *replica, user, device string) *channelclient.Client {
	r.t.Helper()
	c := channelclient.MustDial(r.t, rep.http.URL)
	c.Auth(r.hs.token(user), user, device)
	return c
}

func floorDevice(user, device string) floor.Device {
	return floor.Device{UserID: user, DeviceID: device}
}
