package floorchannel_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/testkit/channelclient"
)

// grantedBeforeItsFloor reads c's messages after its queued answer: the
// first of "response id granted" and "floor push with holder" must be the
// response; the push follows.
func grantedBeforeItsFloor(t *testing.T, c *channelclient.Client, id, holder string) channelclient.Message {
	t.Helper()
	first := c.Take("the grant of "+id+" or the floor it caused", func(m channelclient.Message) bool {
		return (m["type"] == "response" && m["id"] == id && m["status"] == "granted") ||
			(m["type"] == "floor" && m["room_id"] == room && channelclient.Holder(m) == holder)
	})
	if first["type"] != "response" || first["room_id"] != room {
		t.Fatalf("got %v first, want the response to %s granting the floor before the floor push", first, id)
	}
	if push := c.FloorUntil(room, "the floor after the grant", func(m channelclient.Message) bool { return channelclient.Holder(m) == holder }); push["term"] != first["term"] {
		t.Fatalf("floor push %v after grant %v, want the same term", push, first)
	}
	return first
}

// noResponseBefore reads c's messages up to the floor push with holder and
// fails on any response among them: the push is what the socket gets
// after a response that would have been meant for it.
func noResponseBefore(t *testing.T, c *channelclient.Client, holder string) {
	t.Helper()
	for {
		m := c.Next()
		if m["type"] == "response" {
			t.Fatalf("got %v, want no response for this socket", m)
		}
		if m["type"] == "floor" && m["room_id"] == room && channelclient.Holder(m) == holder {
			return
		}
	}
}

// A socket whose request was queued is told, on the socket, with its
// request's id, when the holder releases and the floor is its device's;
// so is another socket of the same device that follows the room, and no
// socket of another device.
func TestAQueuedRequestsGrantReachesItsSocket(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	a := r.connect(r.replica, alice, "PHONE")
	b := r.connect(r.replica, bob, "PHONE")
	bobsSecond := r.connect(r.replica, bob, "PHONE")
	bobsLaptop := r.connect(r.replica, bob, "LAPTOP")
	for _, c := range []*channelclient.Client{a, b, bobsSecond, bobsLaptop} {
		c.Send(channelclient.Message{"type": "subscribe", "room_id": room})
		c.Floor(room)
	}
	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "a1"})
	if resp := a.Response("a1"); resp["status"] != "granted" {
		t.Fatalf("alice's request: %v", resp)
	}
	b.Send(channelclient.Message{"type": "request", "room_id": room, "id": "b1"})
	if resp := b.Response("b1"); resp["status"] != "queued" {
		t.Fatalf("bob's request: %v, want queued", resp)
	}

	a.Send(channelclient.Message{"type": "release", "room_id": room, "id": "a2"})
	if resp := a.Response("a2"); resp["status"] != "released" {
		t.Fatalf("alice's release: %v", resp)
	}
	resp := grantedBeforeItsFloor(t, b, "b1", bob+"/PHONE")
	if resp["term"] != float64(2) || resp["device"].(map[string]any)["device_id"] != "PHONE" {
		t.Fatalf("bob's later answer %v, want granted at term 2 for his phone", resp)
	}
	grantedBeforeItsFloor(t, bobsSecond, "b1", bob+"/PHONE")
	noResponseBefore(t, bobsLaptop, bob+"/PHONE")
	noResponseBefore(t, a, bob+"/PHONE")
}

// Across replicas, and across a reconnect: bob's request was queued
// through one replica, his socket there dropped, and his device's new
// socket on another replica follows the room. Alice's release in the
// room's timeline, decided by the first replica, reaches it as the
// response to bob's request, ahead of the floor push.
func TestAQueuedRequestsGrantReachesTheDevicesSocketOnAnotherReplica(t *testing.T) {
	r := newRig(t, floorchannel.Options{})
	other := r.start(floorchannel.Options{})
	// A later answer, unlike a floor state, is not read back when a
	// listener (re)connects: the other replica must be listening first.
	r.waitListeners(2)
	a := r.connect(r.replica, alice, "PHONE")
	a.Send(channelclient.Message{"type": "request", "room_id": room, "id": "a1"})
	if resp := a.Response("a1"); resp["status"] != "granted" {
		t.Fatalf("alice's request: %v", resp)
	}
	b := r.connect(r.replica, bob, "PHONE")
	b.Send(channelclient.Message{"type": "request", "room_id": room, "id": "b1"})
	if resp := b.Response("b1"); resp["status"] != "queued" {
		t.Fatalf("bob's request: %v, want queued", resp)
	}
	_ = b.WS.CloseNow()

	again := r.connect(other, bob, "PHONE")
	again.Send(channelclient.Message{"type": "subscribe", "room_id": room})
	again.Floor(room)
	raw, _ := r.evs.Request(room, floorDevice(alice, "PHONE"), "release")
	if _, err := r.d.Transaction(t.Context(), "release", []json.RawMessage{raw}); err != nil {
		t.Fatal(err)
	}
	if resp := grantedBeforeItsFloor(t, again, "b1", bob+"/PHONE"); resp["term"] != float64(2) {
		t.Fatalf("bob's later answer %v, want granted at term 2", resp)
	}
}

// waitListeners waits until n floor listeners (one per replica's Run)
// listen on the rig's database.
func (r *rig) waitListeners(n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var listening int
		if err := r.st.Pool().QueryRow(r.t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&listening); err != nil {
			r.t.Fatal(err)
		}
		if listening >= n {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d floor listeners after 30 s, want %d", listening, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
