package floorchannel_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/testkit/channelclient"
	"github.com/walkie-ptt/walkie/internal/testkit/roomevents"
)

func TestAuthFailuresCloseWithAReason(t *testing.T) {
	r := newRig(t, floorchannel.Options{AuthTimeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		name   string
		first  func(*channelclient.Client)
		code   websocket.StatusCode
		reason string
	}{
		{"no auth in time", func(*channelclient.Client) {}, 4002, "no auth message within"},
		{"not JSON", func(c *channelclient.Client) { c.SendRaw([]byte("hello")) }, 4000, "bad auth message"},
		{"another message first", func(c *channelclient.Client) { c.Send(channelclient.Message{"type": "subscribe", "room_id": room}) }, 4000, "first message must be an auth"},
		{"no device", func(c *channelclient.Client) {
			c.Send(channelclient.Message{"type": "auth", "openid": r.hs.token(alice)})
		}, 4000, "device_id"},
		{"unknown token", func(c *channelclient.Client) {
			tok := r.hs.token(alice)
			tok.AccessToken = "made-up"
			c.Send(channelclient.Message{"type": "auth", "openid": tok, "device_id": "PHONE"})
		}, 4001, "does not know it"},
		{"expired token (absolute expiry, as Dendrite sends)", func(c *channelclient.Client) {
			tok := r.hs.token(alice)
			tok.ExpiresIn = time.Now().Add(-time.Minute).Unix()
			c.Send(channelclient.Message{"type": "auth", "openid": tok, "device_id": "PHONE"})
		}, 4001, "expired"},
		{"token of a server Walkie cannot ask", func(c *channelclient.Client) {
			tok := r.hs.token(alice)
			tok.MatrixServerName = "elsewhere.example"
			c.Send(channelclient.Message{"type": "auth", "openid": tok, "device_id": "PHONE"})
		}, 4001, "not one this Walkie can ask"},
		{"another user's token than claimed", func(c *channelclient.Client) {
			c.Send(channelclient.Message{"type": "auth", "openid": r.hs.token(bob), "device_id": "PHONE", "user_id": alice})
		}, 4003, "@bob:test's, not @alice:test's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := r.dial(t, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.first(c)
			ce := c.Closed()
			if ce.Code != tc.code || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("closed with %d %q, want %d and a reason saying %q", ce.Code, ce.Reason, tc.code, tc.reason)
			}
			if strings.Contains(ce.Reason, "openid-") {
				t.Fatalf("the reason shows the token: %q", ce.Reason)
			}
		})
	}

	t.Run("homeserver down: try again later", func(t *testing.T) {
		c, _, err := r.dial(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok := r.hs.token(alice)
		r.hs.mu.Lock()
		r.hs.down = true
		r.hs.mu.Unlock()
		defer func() { r.hs.mu.Lock(); r.hs.down = false; r.hs.mu.Unlock() }()
		c.Send(channelclient.Message{"type": "auth", "openid": tok, "device_id": "PHONE"})
		if ce := c.Closed(); ce.Code != websocket.StatusTryAgainLater {
			t.Fatalf("closed with %d %q, want 1013", ce.Code, ce.Reason)
		}
	})
}

func TestSocketsPerUserAreCapped(t *testing.T) {
	r := newRig(t, floorchannel.Options{MaxSocketsPerUser: 2})
	first := r.connect(r.replica, alice, "PHONE")
	r.connect(r.replica, alice, "LAPTOP")
	third, _, err := r.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	third.Send(channelclient.Message{"type": "auth", "openid": r.hs.token(alice), "device_id": "TABLET"})
	if ce := third.Closed(); ce.Code != 4004 || !strings.Contains(ce.Reason, "at most 2") {
		t.Fatalf("third socket closed with %d %q, want 4004", ce.Code, ce.Reason)
	}
	r.connect(r.replica, bob, "PHONE") // others are not affected

	// Once a socket closes, its place is free again.
	if err := first.WS.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, err := r.dial(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Send(channelclient.Message{"type": "auth", "openid": r.hs.token(alice), "device_id": "TABLET"})
		m, err := c.Read()
		if err == nil && m["type"] == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place for a socket after one closed: %v %v", m, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOriginCheck(t *testing.T) {
	r := newRig(t, floorchannel.Options{PublicURL: "https://walkie.example.org/", AllowedOrigins: []string{"https://app.example.org"}})
	for origin, allowed := range map[string]bool{
		"":                                true, // not a browser
		"https://walkie.example.org":      true,
		"https://walkie.example.org:443":  true,
		"https://app.example.org":         true,
		"https://evil.example":            false,
		"http://walkie.example.org":       false, // another scheme is another origin
		"https://app.example.org.evil.io": false,
		"null":                            false,
	} {
		header := http.Header{}
		if origin != "" {
			header.Set("Origin", origin)
		}
		c, resp, err := r.dial(t, header)
		switch {
		case allowed && err != nil:
			t.Errorf("origin %q refused: %v", origin, err)
		case !allowed && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden):
			t.Errorf("origin %q: %v, want 403", origin, err)
		}
		if c != nil {
			_ = c.WS.CloseNow()
		}
	}
}

func TestBadMessagesAreAnsweredWithErrors(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	c := r.connect(r.replica, alice, "PHONE")
	for _, tc := range []struct {
		msg     string
		errcode string
		id      string
	}{
		{`not json`, "M_NOT_JSON", ""},
		{`[1, 2]`, "M_NOT_JSON", ""},
		{`{"type": "request", "id": "x0"`, "M_NOT_JSON", ""},
		{`{"type": "release"} {}`, "M_NOT_JSON", ""},
		{`{"type": "shout", "id": "x1"}`, "M_UNRECOGNIZED", "x1"},
		{`{"id": "x2"}`, "M_BAD_JSON", "x2"},
		{`{"type": "request", "room_id": "!room:test"}`, "M_BAD_JSON", ""},
		{`{"type": "request", "room_id": "room", "id": "x3"}`, "M_BAD_JSON", "x3"},
		{`{"type": "request", "room_id": "!room:test", "id": "x4", "term": "7"}`, "M_BAD_JSON", ""},
		{`{"type": "request", "room_id": "!room:test", "id": "x5", "term": -1}`, "M_BAD_JSON", "x5"},
		{`{"type": "auth", "openid": {}, "device_id": "X", "id": "x6"}`, "M_BAD_JSON", "x6"},
		{`{"type": "subscribe", "room_id": "!unknown:test"}`, "M_NOT_FOUND", ""},
		{`{"type": "request", "room_id": "!unknown:test", "id": "x7"}`, "M_NOT_FOUND", "x7"},
	} {
		c.SendRaw([]byte(tc.msg))
		m := c.Next()
		if m["type"] != "error" || m["errcode"] != tc.errcode || (tc.id != "" && m["id"] != tc.id) || m["error"] == "" {
			t.Errorf("%s: got %v, want error %s (id %q) with an explanation", tc.msg, m, tc.errcode, tc.id)
		}
	}
	// Carol is not in the room: she may not follow it.
	carolSocket := r.connect(r.replica, carol, "PHONE")
	carolSocket.Send(channelclient.Message{"type": "subscribe", "room_id": room})
	if m := carolSocket.Next(); m["type"] != "error" || m["errcode"] != "M_FORBIDDEN" {
		t.Fatalf("carol subscribing: %v, want M_FORBIDDEN", m)
	}

	// The socket still works after all that.
	c.Send(channelclient.Message{"type": "subscribe", "room_id": room})
	if push := c.Floor(room); push["term"] != float64(0) {
		t.Fatalf("first push %v, want the idle floor at term 0", push)
	}

	// A message over the size limit closes the socket (1009).
	c.SendRaw([]byte(`{"type": "subscribe", "room_id": "!` + strings.Repeat("x", 5000) + `"}`))
	if ce := c.Closed(); ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %d %q, want 1009", ce.Code, ce.Reason)
	}
}

func TestMessageRateIsLimited(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	c := r.connect(r.replica, alice, "PHONE")
	// Unsubscribing is answered only when refused: 60 at once overrun
	// the burst of 20 (a refill of 5 a second would need 8 s to absorb them).
	for range 60 {
		c.Send(channelclient.Message{"type": "unsubscribe", "room_id": room})
	}
	m := c.Next()
	if m["type"] != "error" || m["errcode"] != "M_LIMIT_EXCEEDED" {
		t.Fatalf("got %v, want M_LIMIT_EXCEEDED", m)
	}
}

func TestRequestIsDecidedAndPushedToFollowers(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	a := r.connect(r.replica, alice, "PHONE")
	b := r.connect(r.replica, bob, "PHONE")
	for _, c := range []*channelclient.Client{a, b} {
		c.Send(channelclient.Message{"type": "subscribe", "room_id": room})
		if push := c.Floor(room); channelclient.Holder(push) != "" {
			t.Fatalf("first push %v, want an idle floor", push)
		}
	}

	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "r1"})
	resp := a.Response("r1")
	if resp["type"] != "response" || resp["id"] != "r1" || resp["room_id"] != room || resp["status"] != "granted" || resp["term"] != float64(1) {
		t.Fatalf("response %v, want granted at term 1 for r1", resp)
	}
	for name, c := range map[string]*channelclient.Client{"alice": a, "bob": b} {
		push := c.Floor(room)
		if channelclient.Holder(push) != alice+"/PHONE" || push["term"] != float64(1) {
			t.Fatalf("%s got %v, want alice's phone holding at term 1", name, push)
		}
	}

	// Bob queues; alice releases; bob holds.
	b.Send(channelclient.Message{"type": "request", "room_id": room, "id": "b1"})
	if resp := b.Response("b1"); resp["status"] != "queued" || resp["position"] != float64(1) {
		t.Fatalf("bob's response %v, want queued at 1", resp)
	}
	a.Floor(room)
	a.Send(channelclient.Message{"type": "release", "room_id": room, "id": "r2", "term": 1})
	if resp := a.Response("r2"); resp["status"] != "released" {
		t.Fatalf("alice's release: %v", resp)
	}
	if push := a.Floor(room); channelclient.Holder(push) != bob+"/PHONE" || push["term"] != float64(2) {
		t.Fatalf("after the release: %v, want bob holding at term 2", push)
	}

	// A device without a permit in the room is denied, and nothing changes.
	forged := r.connect(r.replica, alice, "FORGED")
	forged.Send(channelclient.Message{"type": "request", "room_id": room, "id": "f1", "preempt": true})
	if resp := forged.Response("f1"); resp["status"] != "denied" || resp["reason"] != "no_permit" {
		t.Fatalf("forged device: %v, want denied no_permit", resp)
	}
	rm, _, err := r.st.Room(t.Context(), room)
	if err != nil || rm.Holder == nil || rm.Holder.UserID != bob || rm.Term != 2 {
		t.Fatalf("the room after the forged request: %+v, %v", rm.Holder, err)
	}
}

func TestAnotherReplicasDecisionIsPushed(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	other := r.start(floorchannel.Options{})
	listener := r.connect(other, bob, "PHONE")
	listener.Send(channelclient.Message{"type": "subscribe", "room_id": room})
	listener.Floor(room)

	talker := r.connect(r.replica, alice, "PHONE")
	talker.Send(channelclient.Message{"type": "request", "room_id": room, "id": "r1"})
	if resp := talker.Response("r1"); resp["status"] != "granted" {
		t.Fatalf("response %v", resp)
	}
	if push := listener.Floor(room); channelclient.Holder(push) != alice+"/PHONE" {
		t.Fatalf("the other replica pushed %v, want alice holding", push)
	}
	// A decision from the timeline (not the channel) reaches it too.
	raw, _ := r.evs.Request(room, floorDevice(alice, "PHONE"), "release")
	if _, err := r.d.Transaction(t.Context(), "release", []json.RawMessage{raw}); err != nil {
		t.Fatal(err)
	}
	if push := listener.Floor(room); channelclient.Holder(push) != "" {
		t.Fatalf("after the timeline release: %v, want an idle floor", push)
	}
}

func TestADroppedSocketKeepsTheFloor(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	a := r.connect(r.replica, alice, "PHONE")
	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "r1"})
	if resp := a.Response("r1"); resp["status"] != "granted" {
		t.Fatalf("response %v", resp)
	}
	_ = a.WS.CloseNow()
	deadline := time.Now().Add(10 * time.Second)
	for r.ch.Sockets() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dropped socket was never noticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rm, _, err := r.st.Room(t.Context(), room)
	if err != nil || rm.Holder == nil || rm.Holder.UserID != alice {
		t.Fatalf("after the socket dropped: holder %+v, %v; want alice still holding", rm.Holder, err)
	}
}

func TestShutdownClosesSockets(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	c := r.connect(r.replica, alice, "PHONE")
	r.stop()
	if ce := c.Closed(); ce.Code != websocket.StatusGoingAway {
		t.Fatalf("closed with %d %q, want 1001", ce.Code, ce.Reason)
	}
}

func TestFollowersWhoLeaveAreDropped(t *testing.T) {
	r := newRig(t, floorchannel.Options{MemberCheck: 100 * time.Millisecond})
	b := r.connect(r.replica, bob, "PHONE")
	b.Send(channelclient.Message{"type": "subscribe", "room_id": room})
	b.Floor(room)
	leave, _ := r.evs.Event(room, bob, "m.room.member", roomevents.StateKey(bob), map[string]string{"membership": "leave"})
	if _, err := r.d.Transaction(t.Context(), "leave", []json.RawMessage{leave}); err != nil {
		t.Fatal(err)
	}
	m := b.Take("being dropped", func(m channelclient.Message) bool { return m["type"] == "error" })
	if m["errcode"] != "M_FORBIDDEN" || m["room_id"] != room {
		t.Fatalf("got %v, want M_FORBIDDEN for the room", m)
	}
}

func TestDeadConnectionsArePingedOut(t *testing.T) {
	r := newRig(t, floorchannel.Options{PingInterval: 100 * time.Millisecond})
	r.connect(r.replica, alice, "PHONE")
	// The client never reads again, so it answers no ping: Walkie gives up on
	// it (and the close handshake it cannot complete).
	deadline := time.Now().Add(30 * time.Second)
	for r.ch.Sockets() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a socket that answers no ping is still open")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// (Its close frame, 1008 "no pong", waits behind the pings the client
	// never answered: reading now would answer those first, into a closed
	// connection.)
}

func TestTheTestClientUsesThePath(t *testing.T) {
	if channelclient.Path != floorchannel.Path {
		t.Fatalf("channelclient.Path %q, floorchannel.Path %q", channelclient.Path, floorchannel.Path)
	}
}
