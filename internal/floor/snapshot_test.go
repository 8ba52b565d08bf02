package floor

import (
	"testing"
	"time"
)

func snapshotRules() []rule {
	power := managedPower()
	ours := ourFirstFloor
	// What /state shows after mallory, at the permit level, overwrote
	// alice's permit with an empty one.
	forgery := sameRoomSnapshot(&ours)
	forgery.Permits[0] = PermitChange{EventID: "$forged", Sender: mallory.UserID, StateKey: alice.PermitStateKey(), Empty: true}
	return []rule{
		{
			name: "snapshot/managed room publishes once",
			room: NewRoom(testRoomID, controller, testConfig()),
			in: Snapshot{
				Power:   &power,
				Members: []MemberChange{{UserID: alice.UserID, Membership: "join"}, {UserID: bob.UserID, Membership: "join"}},
				Permits: []PermitChange{
					permitChange(alice, true, true),
					{EventID: "$forged", Sender: alice.UserID, StateKey: bob.PermitStateKey(), DeviceID: "BOB", Send: true, Receive: true},
				},
				Config: &ConfigChange{Values: map[string]any{"max_queue": 2.0}},
			},
			effects: []string{"floor"},
			log:     []string{"forged_permit", "config", "snapshot"},
			check: func(t *testing.T, d Decision) {
				wantFlags(t, d.Room, false, true)
				if fs := d.Effects[0].Floor; fs.Listeners != 1 || fs.Term != 0 || d.Room.Config.MaxQueue != 2 {
					t.Errorf("floor %+v, max_queue %d", fs, d.Room.Config.MaxQueue)
				}
			},
		},
		{
			name: "snapshot/our unchanged floor state is not republished",
			room: newTestRoom(),
			in:   sameRoomSnapshot(&ours),
			log:  []string{"config", "snapshot"},
		},
		{
			name:    "snapshot/room without floor state gets ours again",
			room:    newTestRoom(),
			in:      sameRoomSnapshot(nil),
			effects: []string{"floor"},
			log:     []string{"config", "snapshot"},
		},
		{
			name:    "snapshot/unmanaged room posts only the power notice",
			room:    NewRoom(testRoomID, controller, testConfig()),
			in:      Snapshot{Config: &ConfigChange{Values: map[string]any{"bogus": true}}},
			effects: []string{"notice"},
			log:     []string{"config", "snapshot"},
			check: func(t *testing.T, d Decision) {
				if d.Room.Managed || !d.Room.PowerNoticeSent {
					t.Errorf("managed %v, notice sent %v", d.Room.Managed, d.Room.PowerNoticeSent)
				}
			},
		},
		{
			name: "snapshot/stale: state applied while it loaded keeps what the engine knows",
			room: newTestRoom(with(func(r *Room) { r.StateVersion = 3 })),
			in:   Snapshot{Power: &power, AsOf: 2},
			log:  []string{"snapshot_stale"},
			check: func(t *testing.T, d Decision) {
				if len(d.Room.Members) != 5 || len(d.Room.Permits) != 4 || d.Room.StateVersion != 3 {
					t.Errorf("stale snapshot changed the room: %d members, %d permits, version %d",
						len(d.Room.Members), len(d.Room.Permits), d.Room.StateVersion)
				}
			},
		},
		{
			name:  "snapshot/state events count towards the state version",
			room:  newTestRoom(with(func(r *Room) { r.StateVersion = 3 })),
			in:    MemberChange{EventID: "$m", UserID: "@zed:example.org", Membership: "join"},
			check: wantStateVersion(4),
		},
		{
			name:    "snapshot/someone else's floor state counts towards the state version",
			room:    newTestRoom(with(func(r *Room) { r.StateVersion = 3 })),
			in:      floorBy(otherController, 0),
			effects: []string{"floor"},
			log:     []string{"foreign_floor_state"},
			check:   wantStateVersion(4),
		},
		{
			// Otherwise every floor state we publish would make a
			// snapshot being loaded stale (snapshot_stale, load again).
			name:  "snapshot/our own floor state's echo does not count towards the state version",
			room:  newTestRoom(with(func(r *Room) { r.StateVersion = 3 })),
			in:    floorBy(controller, 0),
			check: wantStateVersion(3),
		},
		{
			name:  "snapshot/floor owned by a controller that published first makes us passive",
			room:  newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:    Snapshot{Power: &power, Floor: ptr(floorBy(otherController, -2*time.Hour))},
			log:   []string{"passive", "config", "snapshot"},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, true) },
		},
		{
			// An admin edited the floor state while Walkie was down: the
			// same overwrite as live, answered by republishing, not a
			// reason to give the room away.
			name:    "snapshot/a floor state written after our first one is overwritten",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      sameRoomSnapshot(ptr(floorBy(boss.UserID, -time.Minute))),
			effects: []string{"floor"},
			log:     []string{"foreign_floor_state", "config", "snapshot"},
			holder:  &alice,
			check:   func(t *testing.T, d Decision) { wantFlags(t, d.Room, false, true) },
		},
		{
			name:  "snapshot/our own latest floor state does not take the room from its owner",
			room:  newTestRoom(passiveTo(otherController, -2*time.Hour)),
			in:    sameRoomSnapshot(&ours),
			log:   []string{"config", "snapshot"},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, true) },
		},
		{
			// The controller left and is back: the floor it left behind was
			// emptied, and the room still shows it.
			name:    "snapshot/our floor state from before we left is replaced",
			room:    newTestRoom(with(func(r *Room) { r.Published = false })),
			in:      sameRoomSnapshot(&ours),
			effects: []string{"floor"},
			log:     []string{"config", "snapshot"},
		},
		{
			name:    "snapshot/a room without floor state is managed again",
			room:    newTestRoom(passiveTo(otherController, -2*time.Hour)),
			in:      sameRoomSnapshot(nil),
			effects: []string{"floor"},
			log:     []string{"config", "snapshot"},
			check: func(t *testing.T, d Decision) {
				wantFlags(t, d.Room, false, true)
				if d.Room.Rival != nil {
					t.Errorf("rival %+v kept, though the room shows no floor state", d.Room.Rival)
				}
			},
		},
		{
			// Room state holds the forgery; the permit alice herself sent
			// stays, and with it her floor.
			name:   "snapshot/a forged permit in room state keeps the user's real permit",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     forgery,
			log:    []string{"forged_permit", "config", "snapshot"},
			holder: &alice,
			check: func(t *testing.T, d Decision) {
				if p := d.Room.Permits[alice.PermitStateKey()]; p.EventID != "$permit-ALICE" {
					t.Errorf("alice's permit is %+v, want the one she sent", p)
				}
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// passiveTo makes the room passive to sender's first floor state at t0+at.
func passiveTo(sender string, at time.Duration) spec {
	return func(r *Room) {
		r.Passive = true
		claim := claimOf(floorBy(sender, at))
		r.Rival = &claim
	}
}

func wantStateVersion(want int64) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Room.StateVersion != want {
			t.Errorf("state version %d, want %d", d.Room.StateVersion, want)
		}
	}
}
