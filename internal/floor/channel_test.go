package floor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// overChannel is a request sent over the floor channel: no event, and a
// channel name for its answer.
func overChannel(in TalkRequest) TalkRequest {
	in.EventID, in.Channel = "", "c1"
	return in
}

// floorVersion checks the room's FloorVersion afterwards (newTestRoom
// starts at 0).
func floorVersion(want int64) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Room.FloorVersion != want {
			t.Errorf("FloorVersion %d, want %d", d.Room.FloorVersion, want)
		}
	}
}

// channelRules: a channel request is decided like a talk_request (same
// checks, same queue, same term); only the requester's answers are
// different: they are the socket's (Response.Channel), not the room's,
// and its queue place or turn remembers the channel for the later ones.
func channelRules() []rule {
	stale := overChannel(withTerm(talk(alice, ActionRelease), 6))
	return []rule{
		{
			name:    "channel/request granted: the answer is the socket's, the floor state the room's",
			room:    newTestRoom(),
			in:      overChannel(talk(alice, ActionRequest)),
			effects: []string{"floor", "resp ALICE granted via c1"},
			log:     []string{"grant"},
			holder:  &alice,
			term:    8,
			check: func(t *testing.T, d Decision) {
				floorVersion(1)(t, d)
				remembersChannel(alice, "c1")(t, d)
			},
		},
		{
			name:    "channel/a device without a permit is denied no_permit, and nothing changes",
			room:    newTestRoom(),
			in:      overChannel(talk(mallory, ActionRequest)),
			effects: []string{"resp MALLORY denied no_permit via c1"},
			log:     []string{"deny"},
			check:   floorVersion(0),
		},
		{
			name:    "channel/request while the floor is taken queues",
			room:    newTestRoom(holding(bob, PhaseTalking)),
			in:      overChannel(talk(alice, ActionRequest)),
			effects: []string{"resp ALICE queued floor_taken #1 via c1", "floor"},
			log:     []string{"queue"},
			holder:  &bob,
			queue:   []Device{alice},
			check:   remembersChannel(alice, "c1"),
		},
		{
			name:    "channel/pre-emption: the revoked holder is told in the room",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      overChannel(preempting(boss)),
			effects: []string{"floor", "resp ALICE revoked preempted re $req-ALICE", "resp BOSS granted via c1"},
			log:     []string{"revoke", "grant"},
			holder:  &boss,
			term:    8,
		},
		{
			name:    "channel/release hands the floor on; the next holder is told in the room",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      overChannel(talk(alice, ActionRelease)),
			effects: []string{"floor", "resp ALICE released via c1", "resp BOB granted re $q-BOB"},
			log:     []string{"release", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name:    "channel/cancel leaves the queue",
			room:    newTestRoom(holding(bob, PhaseTalking), queued(alice)),
			in:      overChannel(talk(alice, ActionCancel)),
			effects: []string{"resp ALICE cancelled via c1", "floor"},
			log:     []string{"cancel"},
			holder:  &bob,
		},
		{
			name:    "channel/a release for an earlier term is stale",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      stale,
			effects: []string{"resp ALICE denied stale_term via c1"},
			log:     []string{"deny"},
			holder:  &alice,
		},
		{
			name: "channel/the rate limit counts channel requests too",
			room: newTestRoom(with(func(r *Room) {
				r.Rate[alice.UserID] = RateWindow{Start: t0.Add(-time.Second), Count: 5}
			})),
			in:      overChannel(talk(alice, ActionRequest)),
			effects: []string{"resp ALICE denied rate_limited via c1"},
			log:     []string{"deny"},
		},
		{
			name:    "channel/an unmanaged room answers room_not_managed",
			room:    newTestRoom(unmanaged),
			in:      overChannel(talk(alice, ActionRequest)),
			effects: []string{"resp ALICE denied room_not_managed via c1"},
			log:     []string{"deny"},
		},
		{
			name:    "channel/a passive room still answers the socket, and says nothing to the room",
			room:    newTestRoom(with(func(r *Room) { r.Passive = true })),
			in:      overChannel(talk(alice, ActionRequest)),
			effects: []string{"resp ALICE denied room_not_managed via c1"},
			log:     []string{"deny"},
		},
		{
			name:    "channel/a passive room ignores the same request from the timeline",
			room:    newTestRoom(with(func(r *Room) { r.Passive = true })),
			in:      talk(alice, ActionRequest),
			effects: []string{},
		},
	}
}

// askedOverChannel marks dev's queue place, or its turn, as asked for over
// the floor channel (named "c-<DEVICE>"): there is no event to reference.
func askedOverChannel(dev Device) spec {
	return func(r *Room) {
		if r.Holder != nil && r.Holder.Device == dev {
			r.Holder.RequestEventID, r.Holder.Channel = "", "c-"+dev.DeviceID
		}
		for i := range r.Queue {
			if r.Queue[i].Device == dev {
				r.Queue[i].RequestEventID, r.Queue[i].Channel = "", "c-"+dev.DeviceID
			}
		}
	}
}

// remembersChannel checks that dev's queue place (or turn, when it holds
// the floor) remembers the channel request that asked, and no event.
func remembersChannel(dev Device, channel string) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		var eventID, got string
		if h := d.Room.Holder; h != nil && h.Device == dev {
			eventID, got = h.RequestEventID, h.Channel
		} else if i := d.Room.queuePosition(dev) - 1; i >= 0 {
			eventID, got = d.Room.Queue[i].RequestEventID, d.Room.Queue[i].Channel
		} else {
			t.Fatalf("%s neither holds the floor nor is queued", dev.DeviceID)
		}
		if got != channel || eventID != "" {
			t.Errorf("%s remembers channel %q and event %q, want channel %q and no event", dev.DeviceID, got, eventID, channel)
		}
	}
}

// channelLaterRules: a channel request's answers after its own (granted
// from the queue, dropped from it, its turn ended) go to the device's
// sockets (Response.Later), never to the room's timeline. The rows with a
// room-event request for the same thing are in timerRules, requestRules
// and effectOrderRules ("re $q-BOB"), and stay so.
func channelLaterRules() []rule {
	return []rule{
		{
			name:    "channel/later: the holder releases, the channel-queued device is granted on its sockets",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob), askedOverChannel(bob)),
			in:      talk(alice, ActionRelease),
			effects: []string{"floor", "resp ALICE released re $r", "resp BOB granted via c-BOB later"},
			log:     []string{"release", "grant"},
			holder:  &bob,
			term:    8,
			check:   remembersChannel(bob, "c-BOB"),
		},
		{
			name:    "channel/later: the holder releases over the channel too",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob), askedOverChannel(bob)),
			in:      overChannel(talk(alice, ActionRelease)),
			effects: []string{"floor", "resp ALICE released via c1", "resp BOB granted via c-BOB later"},
			log:     []string{"release", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name:    "channel/later: a timer revokes the holder and grants the channel-queued device",
			room:    newTestRoom(holding(alice, PhaseGranted), queued(bob), askedOverChannel(bob)),
			in:      Tick{},
			at:      5 * time.Second,
			effects: []string{"floor", "resp ALICE revoked no_media re $req-ALICE", "resp BOB granted via c-BOB later"},
			log:     []string{"revoke", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name: "channel/later: queue_timeout cancels on the sockets",
			room: newTestRoom(holding(alice, PhaseTalking), queued(bob), askedOverChannel(bob),
				with(func(r *Room) { r.Queue[0].EnqueuedAt = t0.Add(-time.Minute) })),
			in:      Tick{},
			effects: []string{"resp BOB cancelled queue_timeout via c-BOB later", "floor"},
			log:     []string{"drop"},
			holder:  &alice,
		},
		{
			name:    "channel/later: a queued permit's expiry denies on the sockets",
			room:    newTestRoom(permit(bob, true, true, t0.Add(time.Second)), holding(alice, PhaseTalking), queued(bob), askedOverChannel(bob)),
			in:      Tick{},
			at:      time.Second,
			effects: []string{"resp BOB denied permit_expired via c-BOB later", "floor"},
			log:     []string{"drop"},
			holder:  &alice,
		},
		{
			name: "channel/later: a trimmed queue cancels on the sockets",
			room: newTestRoom(holding(alice, PhaseTalking), queued(bob, boss), askedOverChannel(bob)),
			in: ConfigChange{EventID: "$cfg", Sender: carol.UserID,
				Values: map[string]any{"max_queue": 1.0}},
			effects: []string{"resp BOB cancelled queue_full via c-BOB later", "floor"},
			log:     []string{"config", "drop"},
			holder:  &alice,
			queue:   []Device{boss},
		},
		{
			name:    "channel/later: a chair's revoke of a queued place tells its sockets, the chair in the room",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob), askedOverChannel(bob)),
			in:      revoking(carol, &bob),
			effects: []string{"resp BOB cancelled chair_revoke via c-BOB later", "resp CAROL revoked chair_revoke re $r", "floor"},
			log:     []string{"drop"},
			holder:  &alice,
		},
		{
			name:    "channel/later: a turn granted over the channel is pre-empted on its sockets",
			room:    newTestRoom(holding(alice, PhaseTalking), askedOverChannel(alice)),
			in:      preempting(boss),
			effects: []string{"floor", "resp ALICE revoked preempted via c-ALICE later", "resp BOSS granted re $r"},
			log:     []string{"revoke", "grant"},
			holder:  &boss,
			term:    8,
		},
		{
			name: "channel/later: max_talk ends a turn granted over the channel on its sockets",
			room: newTestRoom(holding(alice, PhaseTalking), askedOverChannel(alice),
				with(func(r *Room) { r.Holder.LastActivity = t0.Add(25 * time.Second) })),
			in:      Tick{},
			at:      30 * time.Second,
			effects: []string{"resp ALICE revoked max_talk_time via c-ALICE later", "floor"},
			log:     []string{"revoke"},
		},
		{
			name: "channel/later: a channel request dropped from the queue on its sockets, the room-event one behind it granted in the room",
			room: newTestRoom(permit(boss, false, true, time.Time{}), holding(alice, PhaseGranted), queued(bob, boss),
				askedOverChannel(boss)),
			in: Tick{},
			at: 5 * time.Second,
			effects: []string{"floor", "resp ALICE revoked no_media re $req-ALICE", "resp BOSS denied listen_only via c-BOSS later",
				"resp BOB granted re $q-BOB"},
			log:    []string{"revoke", "drop", "grant"},
			holder: &bob,
			term:   8,
		},
	}
}

// A queue place and a turn keep their channel through the store's JSON;
// rooms stored before it existed read back without one, answered in the
// room as before.
func TestTheRequestsChannelIsStored(t *testing.T) {
	r := newTestRoom(holding(alice, PhaseTalking), queued(bob, carol), askedOverChannel(alice), askedOverChannel(bob))
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Room
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Holder.Channel != "c-ALICE" || back.Queue[back.queuePosition(bob)-1].Channel != "c-BOB" ||
		back.Queue[back.queuePosition(carol)-1].Channel != "" {
		t.Fatalf("stored holder %+v, queue %+v: want channels c-ALICE, c-BOB and none for CAROL", back.Holder, back.Queue)
	}
	if strings.Count(string(raw), `"channel":`) != 2 {
		t.Errorf("stored room %s: want a channel only where a channel request asked", raw)
	}

	stored := `{"room_id":"!r:example.org","controller":"@walkie:example.org","managed":true,"term":3,` +
		`"queue":[{"user_id":"@bob:example.org","device_id":"BOB","power":0,"enqueued_at":"2026-05-01T11:59:59Z","request_event_id":"$q"}]}`
	var old Room
	if err := json.Unmarshal([]byte(stored), &old); err != nil {
		t.Fatal(err)
	}
	if len(old.Queue) != 1 || old.Queue[0].Channel != "" || old.Queue[0].RequestEventID != "$q" {
		t.Fatalf("old queue %+v, want BOB queued by $q without a channel", old.Queue)
	}
}
