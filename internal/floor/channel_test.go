package floor

import (
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
// checks, same queue, same term); only the requester's own answer is
// different: it is the socket's (Response.Channel), not the room's.
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
			check:   floorVersion(1),
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
