package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/channelclient"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// The floor channel, end to end: OpenID tokens from Dendrite (federation
// enabled, so it serves userinfo), the walkie binary's client-facing
// listener, decisions in PostgreSQL.

// openID asks the device's homeserver for an OpenID token.
func (d *device) openID() *mautrix.RespOpenIDToken {
	d.t.Helper()
	tok, err := d.c.RequestOpenIDToken(context.Background())
	if err != nil {
		d.t.Fatal(err)
	}
	return tok
}

// channel opens an authenticated floor-channel socket to w as the device.
func (d *device) channel(w *walkieproc.Process) *channelclient.Client {
	d.t.Helper()
	c := channelclient.MustDial(d.t, w.WebURL())
	c.Auth(d.openID(), d.user, d.device)
	return c
}

// follow subscribes to room and returns the first push.
func follow(c *channelclient.Client, room id.RoomID) channelclient.Message {
	c.Send(channelclient.Message{"type": "subscribe", "room_id": room})
	return c.Floor(room.String())
}

func TestChannelAuthFailures(t *testing.T) {
	alice, bob := newUser(t, shared, "alice", "PHONE"), newUser(t, shared, "bob", "PHONE")
	for _, tc := range []struct {
		name   string
		auth   func() channelclient.Message
		code   int
		reason string
	}{
		{"made-up token", func() channelclient.Message {
			tok := alice.openID()
			tok.AccessToken = "made-up"
			return channelclient.Message{"type": "auth", "openid": tok, "device_id": alice.device}
		}, 4001, "does not know it"},
		{"expired token", func() channelclient.Message {
			tok := alice.openID()
			tok.ExpiresIn = int(time.Now().Add(-time.Minute).Unix()) // Dendrite's absolute form
			return channelclient.Message{"type": "auth", "openid": tok, "device_id": alice.device}
		}, 4001, "expired"},
		{"token claiming another server", func() channelclient.Message {
			tok := alice.openID()
			tok.MatrixServerName = "elsewhere.example"
			return channelclient.Message{"type": "auth", "openid": tok, "device_id": alice.device}
		}, 4001, "not one this Walkie can ask"},
		{"bob's token for alice", func() channelclient.Message {
			return channelclient.Message{"type": "auth", "openid": bob.openID(), "device_id": alice.device, "user_id": alice.user}
		}, 4003, "not " + alice.user},
		{"an access token instead of an OpenID token", func() channelclient.Message {
			tok := alice.openID()
			tok.AccessToken = alice.c.AccessToken
			return channelclient.Message{"type": "auth", "openid": tok, "device_id": alice.device}
		}, 4001, "does not know it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := channelclient.MustDial(t, shared.Walkie.WebURL())
			c.Send(tc.auth())
			if ce := c.Closed(); int(ce.Code) != tc.code || !strings.Contains(ce.Reason, tc.reason) {
				t.Fatalf("closed with %d %q, want %d saying %q", ce.Code, ce.Reason, tc.code, tc.reason)
			}
		})
	}
	// And the real thing works.
	alice.channel(shared.Walkie)
}

func TestChannelGrantIsPushedAndPublished(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice, bob := newUser(t, shared, "alice", "ALICEPHONE"), newUser(t, shared, "bob", "BOBPHONE")
	room := talkRoom(t, admin, alice, bob)
	a, b := alice.channel(shared.Walkie), bob.channel(shared.Walkie)
	follow(a, room)
	if first := follow(b, room); channelclient.Holder(first) != "" {
		t.Fatalf("first push %v, want an idle floor", first)
	}

	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "press-1"})
	if resp := a.Response("press-1"); resp["status"] != "granted" || resp["term"] != float64(1) {
		t.Fatalf("alice's response %v, want granted at term 1", resp)
	}
	if push := b.Floor(room.String()); channelclient.Holder(push) != alice.user+"/"+alice.device || push["term"] != float64(1) {
		t.Fatalf("bob's socket got %v, want alice holding at term 1", push)
	}
	// The room has the floor state too.
	bob.waitFloor(room, "alice holds (room state)", func(f floor.FloorState) bool { return holderIs(alice)(f) && f.Term == 1 })

	// But no talk_response for alice's channel request: bob's timeline
	// request is answered after anything queued before it (a room's
	// outbox goes out in order), and none of what came before is alice's.
	req := bob.request(room, "request", nil)
	if r := bob.waitResponse(room, req); r.Status != floor.StatusQueued {
		t.Fatalf("bob's request: %+v", r)
	}
	if push := a.FloorUntil(room.String(), "bob queued", func(m channelclient.Message) bool {
		q, _ := m["queue"].([]any)
		return len(q) == 1
	}); channelclient.Holder(push) != alice.user+"/"+alice.device {
		t.Fatalf("alice's socket got %v", push)
	}
	for _, r := range timelineResponses(t, bob, room) {
		if r.Device != nil && r.Device.UserID == alice.user {
			t.Fatalf("a talk_response for alice's channel request reached the timeline: %+v", r)
		}
	}
}

// timelineResponses are the room's talk_responses, newest first.
func timelineResponses(t *testing.T, d *device, room id.RoomID) []floor.Response {
	t.Helper()
	resp, err := d.c.Messages(context.Background(), room, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []floor.Response
	for _, ev := range resp.Chunk {
		if ev.Type != (event.Type{Type: floor.TypeResponse, Class: event.MessageEventType}) {
			continue
		}
		var rc matrix.ResponseContent
		if json.Unmarshal(ev.Content.VeryRaw, &rc) == nil {
			out = append(out, rc.Response)
		}
	}
	return out
}

func TestChannelForgedDeviceChangesNothing(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice := newUser(t, shared, "alice", "ALICEPHONE")
	room := talkRoom(t, admin, alice)
	// Alice's token, but a device she holds no permit for.
	forged := channelclient.MustDial(t, shared.Walkie.WebURL())
	forged.Auth(alice.openID(), alice.user, "NOTMYPHONE")
	forged.Send(channelclient.Message{"type": "request", "room_id": room, "id": "f1", "preempt": true})
	if resp := forged.Response("f1"); resp["status"] != "denied" || resp["reason"] != "no_permit" {
		t.Fatalf("forged device: %v, want denied no_permit", resp)
	}
	// Nothing changed: the floor is idle at term 0, and alice's own
	// device then gets term 1.
	if f := admin.waitFloor(room, "the floor as it was", func(floor.FloorState) bool { return true }); f.Holder != nil || f.Term != 0 {
		t.Fatalf("floor after the forged request: %+v", f)
	}
	a := alice.channel(shared.Walkie)
	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "r1"})
	if resp := a.Response("r1"); resp["status"] != "granted" || resp["term"] != float64(1) {
		t.Fatalf("alice's own device: %v, want granted at term 1", resp)
	}
}

func TestChannelReplicaPushesAnotherReplicasDecision(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice, bob := newUser(t, shared, "alice", "ALICEPHONE"), newUser(t, shared, "bob", "BOBPHONE")
	room := talkRoom(t, admin, alice, bob)
	replica := startReplica(t)
	onReplica := bob.channel(replica)
	follow(onReplica, room)
	onMain := alice.channel(shared.Walkie)
	follow(onMain, room)

	// Decided by the first process, pushed by the replica.
	onMain.Send(channelclient.Message{"type": "request", "room_id": room, "id": "r1"})
	if resp := onMain.Response("r1"); resp["status"] != "granted" {
		t.Fatalf("response %v", resp)
	}
	if push := onReplica.Floor(room.String()); channelclient.Holder(push) != alice.user+"/"+alice.device {
		t.Fatalf("the replica pushed %v, want alice holding", push)
	}
	// And the other way round: alice releases through the replica.
	onAliceReplica := alice.channel(replica)
	onAliceReplica.Send(channelclient.Message{"type": "release", "room_id": room, "id": "r2", "term": 1})
	if resp := onAliceReplica.Response("r2"); resp["status"] != "released" {
		t.Fatalf("release through the replica: %v", resp)
	}
	if push := onMain.FloorUntil(room.String(), "an idle floor", func(m channelclient.Message) bool {
		return channelclient.Holder(m) == ""
	}); push["term"] != float64(1) {
		t.Fatalf("the first process pushed %v, want idle after term 1", push)
	}
}

// A request queued over the channel of one process is granted when the
// holder releases through another: the grant, and later the turn's end
// (start_timeout: bob never starts), reach bob's socket as responses to
// his request's id, the grant ahead of the floor push it caused, and no
// talk_response for bob reaches the timeline.
func TestChannelLaterAnswersReachTheQueuedSocket(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice, bob := newUser(t, shared, "alice", "ALICEPHONE"), newUser(t, shared, "bob", "BOBPHONE")
	room := talkRoom(t, admin, alice, bob)
	replica := startReplica(t)
	b := bob.channel(replica)
	follow(b, room)
	a := alice.channel(shared.Walkie)
	follow(a, room)
	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "a1"})
	if resp := a.Response("a1"); resp["status"] != "granted" || resp["term"] != float64(1) {
		t.Fatalf("alice's request: %v, want granted at term 1", resp)
	}
	// A state decided after bob followed the room reached the replica:
	// its listener is up (a later answer, unlike a floor state, is not
	// read back when a listener connects).
	b.FloorUntil(room.String(), "alice holding", func(m channelclient.Message) bool {
		return channelclient.Holder(m) == alice.user+"/"+alice.device
	})
	b.Send(channelclient.Message{"type": "request", "room_id": room, "id": "b1"})
	if resp := b.Response("b1"); resp["status"] != "queued" {
		t.Fatalf("bob's request: %v, want queued", resp)
	}

	a.Send(channelclient.Message{"type": "release", "room_id": room, "id": "a2", "term": 1})
	if resp := a.Response("a2"); resp["status"] != "released" {
		t.Fatalf("alice's release: %v", resp)
	}
	bobHolds := func(m channelclient.Message) bool {
		return m["type"] == "floor" && m["room_id"] == room.String() && channelclient.Holder(m) == bob.user+"/"+bob.device
	}
	first := b.Take("bob's grant or the floor it caused", func(m channelclient.Message) bool {
		return bobHolds(m) || (m["type"] == "response" && m["id"] == "b1")
	})
	if first["type"] != "response" || first["status"] != "granted" || first["term"] != float64(2) {
		t.Fatalf("bob's socket got %v first, want the response to b1 granting term 2 before the floor push", first)
	}
	b.Take("the floor push with bob holding", bobHolds)
	if resp := b.Response("b1"); resp["status"] != "revoked" || resp["reason"] != string(floor.ReasonNoMedia) {
		t.Fatalf("bob's socket got %v, want his turn revoked no_media", resp)
	}

	// Alice's timeline request is answered after anything queued for the
	// room before it, and none of that is bob's.
	req := alice.request(room, "request", nil)
	alice.waitResponse(room, req)
	for _, r := range timelineResponses(t, alice, room) {
		if r.Device != nil && r.Device.UserID == bob.user {
			t.Fatalf("a talk_response for bob's channel request reached the timeline: %+v", r)
		}
	}
}

func TestChannelDroppedSocketDoesNotReleaseTheFloor(t *testing.T) {
	admin := newUser(t, shared, "admin", "ADM")
	alice, bob := newUser(t, shared, "alice", "ALICEPHONE"), newUser(t, shared, "bob", "BOBPHONE")
	room := talkRoom(t, admin, alice, bob)
	a := alice.channel(shared.Walkie)
	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "r1"})
	if resp := a.Response("r1"); resp["status"] != "granted" {
		t.Fatalf("response %v", resp)
	}
	_ = a.WS.CloseNow() // the phone loses its connection
	// Walkie has noticed once it counts no socket (this test's is the
	// only one; earlier tests' have closed too by then).
	waitChannelSockets(t, shared.Walkie, 0)

	// Bob asks after the drop and is queued behind alice.
	b := bob.channel(shared.Walkie)
	follow(b, room)
	b.Send(channelclient.Message{"type": "request", "room_id": room, "id": "b1"})
	if resp := b.Response("b1"); resp["status"] != "queued" {
		t.Fatalf("bob after alice's socket dropped: %v, want queued behind her", resp)
	}
	// What ends alice's turn is media: she never started, so start_timeout
	// revokes her and bob gets the floor.
	if push := b.FloorUntil(room.String(), "bob holding", func(m channelclient.Message) bool {
		return channelclient.Holder(m) == bob.user+"/"+bob.device
	}); push["term"] != float64(2) {
		t.Fatalf("push %v, want bob at term 2", push)
	}
}

// waitChannelSockets waits until w reports n open floor-channel sockets.
func waitChannelSockets(t *testing.T, w *walkieproc.Process, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	want := fmt.Sprintf("walkie_floor_channel_sockets %d\n", n)
	for {
		resp, err := http.Get(w.MetricsURL())
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("walkie never reported %d floor-channel sockets (last error %v)", n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestChannelIsAnnouncedToTheWebClient(t *testing.T) {
	resp, err := http.Get(shared.Walkie.WebURL() + "/_walkie/client/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg struct {
		FloorChannel string `json:"floor_channel"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil || cfg.FloorChannel != channelclient.Path {
		t.Fatalf("the client config names floor channel %q (%v), want %s", cfg.FloorChannel, err, channelclient.Path)
	}
}

// startReplica starts a second walkie process on the shared stack's
// database, stopped when the test ends.
func startReplica(t *testing.T) *walkieproc.Process {
	t.Helper()
	replica, err := shared.Walkie.Replica(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replica.Stop)
	if err := replica.Start(t.Context()); err != nil {
		t.Fatalf("start a second walkie on the same database: %v", err)
	}
	return replica
}
