package dendrite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/openid"
)

// TestDendriteEndToEnd runs a real Dendrite with an appservice registration
// and checks the three things the walkie end-to-end tests rely on: accounts
// and devices, room events pushed to the appservice, and WaitForStateEvent.
func TestDendriteEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	as := newFakeAppservice(t)
	registration := as.writeRegistration(t, "localhost")

	// Written only by Dendrite's single output goroutine, and read by a
	// cleanup registered before Stop's, so it runs after Dendrite is gone.
	var log bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dendrite output:\n%s", log.String())
		}
	})
	began := time.Now()
	hs, err := Start(ctx, Options{
		WorkDir:                     t.TempDir(),
		AppserviceRegistrationPaths: []string{registration},
		LogWriter:                   &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.Stop)
	t.Logf("dendrite serving at %s after %s (includes a build if the binaries were missing)", hs.URL(), time.Since(began))

	const password = "correct horse battery"
	alice := registerUser(ctx, t, hs, "alice")
	bob := registerUser(ctx, t, hs, "bob")

	alicePhone := login(ctx, t, hs, "alice", password, "ALICE_PHONE")
	aliceLaptop := login(ctx, t, hs, "alice", password, "ALICE_LAPTOP")
	bobPhone := login(ctx, t, hs, "bob", password, "BOB_PHONE")
	for _, c := range []*mautrix.Client{alicePhone, aliceLaptop} {
		if c.UserID != alice {
			t.Fatalf("device %s logged in as %s, want %s", c.DeviceID, c.UserID, alice)
		}
	}

	t.Run("NewUser registers a user and logs one device in", func(t *testing.T) {
		carol, err := hs.NewUser(ctx, "carol", password, "CAROL_PHONE")
		if err != nil {
			t.Fatal(err)
		}
		want := id.NewUserID("carol", hs.ServerName())
		if carol.UserID != want || carol.DeviceID != "CAROL_PHONE" || carol.AccessToken == "" {
			t.Fatalf("NewUser gave %s device %q token set=%v, want %s device CAROL_PHONE with a token",
				carol.UserID, carol.DeviceID, carol.AccessToken != "", want)
		}
		if whoami, err := carol.Whoami(ctx); err != nil || whoami.UserID != want {
			t.Fatalf("whoami with carol's token: %+v, %v", whoami, err)
		}
	})

	created, err := alicePhone.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Name: "walkie"})
	if err != nil {
		t.Fatal(err)
	}
	room := created.RoomID
	if _, err := alicePhone.InviteUser(ctx, room, &mautrix.ReqInviteUser{UserID: bob}); err != nil {
		t.Fatal(err)
	}
	if _, err := bobPhone.JoinRoom(ctx, room.String(), nil); err != nil {
		t.Fatal(err)
	}

	t.Run("appservice receives the room's membership events", func(t *testing.T) {
		want := []memberChange{
			{alice, event.MembershipJoin},
			{bob, event.MembershipInvite},
			{bob, event.MembershipJoin},
		}
		err := as.waitFor(ctx, func(events []*event.Event) bool {
			seen := membershipChanges(events, room)
			for _, w := range want {
				if !slices.Contains(seen, w) {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatalf("membership events %v never all reached the appservice: %v; got %v",
				want, err, membershipChanges(as.events(), room))
		}
		if bad := as.unauthorized(); bad != 0 {
			t.Errorf("%d appservice requests lacked the hs_token", bad)
		}
	})

	t.Run("WaitForStateEvent sees a topic change on every device", func(t *testing.T) {
		const topic = "push to talk"
		if _, err := alicePhone.SendStateEvent(ctx, room, event.StateTopic, "", &event.TopicEventContent{Topic: topic}); err != nil {
			t.Fatal(err)
		}
		hasTopic := func(content json.RawMessage) bool {
			var c event.TopicEventContent
			return json.Unmarshal(content, &c) == nil && c.Topic == topic
		}
		for _, c := range []*mautrix.Client{bobPhone, aliceLaptop} {
			waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := WaitForStateEvent(waitCtx, c, room, event.StateTopic, "", hasTopic)
			cancel()
			if err != nil {
				t.Errorf("device %s: %v", c.DeviceID, err)
			}
		}
	})

	t.Run("WaitForStateEvent keeps waiting while the content does not match", func(t *testing.T) {
		waitCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		err := WaitForStateEvent(waitCtx, bobPhone, room, event.StateTopic, "", func(json.RawMessage) bool { return false })
		if err == nil || waitCtx.Err() == nil {
			t.Fatalf("got %v, want the wait to end only with its context", err)
		}
	})

	t.Run("devices of one account are distinct", func(t *testing.T) {
		phone, err := alicePhone.Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		laptop, err := aliceLaptop.Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if phone.DeviceID != "ALICE_PHONE" || laptop.DeviceID != "ALICE_LAPTOP" {
			t.Fatalf("whoami devices = %s, %s; want ALICE_PHONE, ALICE_LAPTOP", phone.DeviceID, laptop.DeviceID)
		}
	})

	t.Run("OpenID tokens verify with the federation userinfo endpoint", func(t *testing.T) {
		tok, err := alicePhone.RequestOpenIDToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Dendrite 0.13 puts an absolute Unix time into expires_in, not
		// the spec's lifetime (internal/openid reads both).
		if now := time.Now().Unix(); int64(tok.ExpiresIn) < now {
			t.Errorf("expires_in = %d; Dendrite sent an absolute time (about %d) before", tok.ExpiresIn, now+3600)
		}
		v, err := openid.New(openid.Options{Servers: map[string]string{hs.ServerName(): hs.URL()}})
		if err != nil {
			t.Fatal(err)
		}
		user, err := v.Verify(ctx, openid.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType,
			MatrixServerName: tok.MatrixServerName, ExpiresIn: int64(tok.ExpiresIn)})
		if err != nil || user != alice.String() {
			t.Fatalf("verified as %q, %v; want %s (userinfo needs federation enabled)", user, err, alice)
		}
		_, err = v.Verify(ctx, openid.Token{AccessToken: "made-up", TokenType: "Bearer", MatrixServerName: hs.ServerName(), ExpiresIn: 600})
		if !errors.Is(err, openid.ErrRejected) {
			t.Fatalf("a made-up token: %v, want ErrRejected", err)
		}
	})

	t.Run("registering a taken localpart fails", func(t *testing.T) {
		if _, err := hs.RegisterUser(ctx, "alice", password, false); err == nil {
			t.Fatal("second registration of alice succeeded")
		}
	})
}

// A Dendrite that refuses its configuration must fail Start with Dendrite's
// own explanation, and leave nothing behind.
func TestStartReportsWhyDendriteExited(t *testing.T) {
	workDir := t.TempDir()
	_, err := Start(t.Context(), Options{
		WorkDir:                     workDir,
		AppserviceRegistrationPaths: []string{filepath.Join(workDir, "missing.yaml")},
	})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("Start error = %v, want one quoting Dendrite's complaint about missing.yaml", err)
	}
	if left, _ := os.ReadDir(workDir); len(left) != 0 {
		t.Errorf("instance directory left behind: %v", left)
	}
}

func registerUser(ctx context.Context, t *testing.T, hs *Server, localpart string) id.UserID {
	t.Helper()
	userID, err := hs.RegisterUser(ctx, localpart, "correct horse battery", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := id.NewUserID(localpart, hs.ServerName()); userID != want {
		t.Fatalf("registered %s, want %s", userID, want)
	}
	return userID
}

func login(ctx context.Context, t *testing.T, hs *Server, localpart, password, deviceID string) *mautrix.Client {
	t.Helper()
	client, err := hs.Login(ctx, localpart, password, deviceID)
	if err != nil {
		t.Fatal(err)
	}
	if client.DeviceID != id.DeviceID(deviceID) || client.AccessToken == "" {
		t.Fatalf("login gave device %q token set=%v, want device %s with a token", client.DeviceID, client.AccessToken != "", deviceID)
	}
	return client
}

type memberChange struct {
	user       id.UserID
	membership event.Membership
}

func membershipChanges(events []*event.Event, room id.RoomID) []memberChange {
	var changes []memberChange
	for _, evt := range events {
		if evt.RoomID != room || evt.Type != event.StateMember || evt.StateKey == nil {
			continue
		}
		var content event.MemberEventContent
		if json.Unmarshal(evt.Content.VeryRaw, &content) == nil {
			changes = append(changes, memberChange{id.UserID(*evt.StateKey), content.Membership})
		}
	}
	return changes
}

// fakeAppservice records the transactions Dendrite pushes and answers
// everything with 200 {}, like a healthy appservice.
type fakeAppservice struct {
	server  *httptest.Server
	hsToken string

	mu          sync.Mutex
	received    []*event.Event
	badRequests int
	changed     chan struct{} // closed and replaced on every transaction
}

func newFakeAppservice(t *testing.T) *fakeAppservice {
	as := &fakeAppservice{hsToken: "hs-token-" + randomHex(8), changed: make(chan struct{})}
	as.server = httptest.NewServer(http.HandlerFunc(as.serveHTTP))
	t.Cleanup(as.server.Close)
	return as
}

func (as *fakeAppservice) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+as.hsToken {
		as.mu.Lock()
		as.badRequests++
		as.mu.Unlock()
		http.Error(w, `{"errcode":"M_FORBIDDEN"}`, http.StatusForbidden)
		return
	}
	if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/transactions/") {
		var txn struct {
			Events []*event.Event `json:"events"`
		}
		if err := json.NewDecoder(r.Body).Decode(&txn); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		as.mu.Lock()
		as.received = append(as.received, txn.Events...)
		close(as.changed)
		as.changed = make(chan struct{})
		as.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte("{}"))
}

func (as *fakeAppservice) events() []*event.Event {
	as.mu.Lock()
	defer as.mu.Unlock()
	return slices.Clone(as.received)
}

func (as *fakeAppservice) unauthorized() int {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.badRequests
}

// waitFor blocks until done holds for the events received so far.
func (as *fakeAppservice) waitFor(ctx context.Context, done func([]*event.Event) bool) error {
	for {
		as.mu.Lock()
		ok, changed := done(as.received), as.changed
		as.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// writeRegistration writes an appservice registration that owns
// @walkietest exclusively and, through a non-exclusive ".*" rooms namespace,
// asks for every room's events.
func (as *fakeAppservice) writeRegistration(t *testing.T, serverName string) string {
	t.Helper()
	registration := fmt.Sprintf(`id: walkie-test
url: %q
as_token: %q
hs_token: %q
sender_localpart: walkietest
rate_limited: false
namespaces:
  users:
    - exclusive: true
      regex: %q
  aliases: []
  rooms:
    - exclusive: false
      regex: ".*"
`, as.server.URL, "as-token-"+randomHex(8), as.hsToken, "^@walkietest:"+regexp.QuoteMeta(serverName)+"$")
	path := filepath.Join(t.TempDir(), "registration.yaml")
	if err := os.WriteFile(path, []byte(registration), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
