package floor

import (
	"strings"
	"testing"
	"time"
)

const otherController = "@other-walkie:example.org"

func roomRules() []rule {
	lostPower := managedPower()
	lostPower.Users[controller] = 40
	demoting := managedPower()
	for _, t := range BroadcastInfoTypes {
		demoting.Events[t] = 10
	}
	demoting.Users[alice.UserID] = 10
	demoting.Users[bob.UserID] = 60
	demoting.Users[carol.UserID] = 5
	demoting.Users[boss.UserID] = 20
	silenced := managedPower()
	for _, t := range BroadcastInfoTypes {
		silenced.Events[t] = 50
	}
	power := managedPower()
	return []rule{
		{
			name:    "member/holder leaving loses the floor silently",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      MemberChange{EventID: "$m", UserID: alice.UserID, Membership: "leave"},
			effects: []string{"floor", "resp BOB granted re $q-BOB"},
			log:     []string{"left", "revoke", "grant"},
			holder:  &bob,
			term:    8,
			check: func(t *testing.T, d Decision) {
				if _, ok := d.Room.Permits[alice.PermitStateKey()]; ok {
					t.Error("alice's permit survived her leaving")
				}
			},
		},
		{
			name:    "member/banned queued user dropped silently",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      MemberChange{EventID: "$m", UserID: bob.UserID, Membership: "ban"},
			effects: []string{"floor"},
			log:     []string{"left", "drop"},
			holder:  &alice,
		},
		{
			name:    "power/losing power makes the room unmanaged with one notice",
			room:    newTestRoom(),
			in:      PowerChange{EventID: "$pl", Levels: lostPower},
			effects: []string{"notice"},
			log:     []string{"power"},
			check: func(t *testing.T, d Decision) {
				if d.Room.Managed || !d.Room.PowerNoticeSent {
					t.Errorf("managed %v, notice sent %v", d.Room.Managed, d.Room.PowerNoticeSent)
				}
				if text := d.Effects[0].Text; !strings.Contains(text, `users["@walkie:example.org"]: 100`) {
					t.Errorf("notice does not say which level to set: %q", text)
				}
			},
		},
		{
			name: "power/the power notice is posted once",
			room: newTestRoom(unmanaged, with(func(r *Room) { r.PowerNoticeSent = true })),
			in:   PowerChange{EventID: "$pl", Levels: lostPower},
			log:  []string{"power"},
		},
		{
			name:    "power/gaining power publishes the floor",
			room:    newTestRoom(unmanaged, with(func(r *Room) { r.Published = false })),
			in:      PowerChange{EventID: "$pl", Levels: power},
			effects: []string{"floor"},
			log:     []string{"power"},
			check: func(t *testing.T, d Decision) {
				if !d.Room.Managed || !d.Room.Published {
					t.Errorf("managed %v, published %v", d.Room.Managed, d.Room.Published)
				}
			},
		},
		{
			name:    "power/holder who lost power is revoked",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      PowerChange{EventID: "$pl", Levels: silenced},
			effects: []string{"floor", "resp ALICE revoked insufficient_power re $req-ALICE"},
			log:     []string{"power", "revoke"},
		},
		{
			name:    "power/queue re-sorted and demoted devices dropped",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(carol, bob, boss)),
			in:      PowerChange{EventID: "$pl", Levels: demoting},
			effects: []string{"floor", "resp CAROL denied insufficient_power re $q-CAROL"},
			log:     []string{"power", "drop"},
			holder:  &alice,
			queue:   []Device{bob, boss},
			check: func(t *testing.T, d Decision) {
				if d.Room.Queue[0].Power != 60 || d.Room.Holder.Power != 10 {
					t.Errorf("powers not refreshed: queue %+v holder %+v", d.Room.Queue, d.Room.Holder)
				}
			},
		},
		{
			name: "config/valid keys applied",
			room: newTestRoom(),
			in:   ConfigChange{EventID: "$cfg", Values: map[string]any{"max_talk_ms": 20000.0, "max_queue": 5.0, "summary": true}},
			log:  []string{"config"},
			check: func(t *testing.T, d Decision) {
				c := d.Room.Config
				if c.MaxTalk != 20*time.Second || c.MaxQueue != 5 || !c.Summary || len(d.Room.Overrides) != 3 {
					t.Errorf("config %+v overrides %v", c, d.Room.Overrides)
				}
			},
		},
		{
			name: "config/rejected keys named in one notice",
			room: newTestRoom(),
			in: ConfigChange{EventID: "$cfg", Values: map[string]any{
				"max_talk_ms": 1500.5, "queue": "yes", "bogus": 1.0, "max_queue": 101.0, "pause_grace_ms": 0.0,
			}},
			effects: []string{"notice"},
			log:     []string{"config"},
			check: func(t *testing.T, d Decision) {
				text := d.Effects[0].Text
				for _, key := range []string{"bogus", "max_queue", "max_talk_ms", "queue"} {
					if !strings.Contains(text, key+" (") {
						t.Errorf("notice %q does not name %s", text, key)
					}
				}
				want := testConfig()
				want.PauseGrace = 0
				if d.Room.Config != want || len(d.Room.Overrides) != 1 {
					t.Errorf("config %+v overrides %v", d.Room.Config, d.Room.Overrides)
				}
			},
		},
		{
			name: "config/empty content restores defaults",
			room: newTestRoom(with(func(r *Room) {
				r.Overrides = map[string]any{"max_talk_ms": 20000.0}
				r.Config.MaxTalk = 20 * time.Second
			})),
			in:  ConfigChange{EventID: "$cfg"},
			log: []string{"config"},
			check: func(t *testing.T, d Decision) {
				if d.Room.Config != testConfig() || d.Room.Overrides != nil {
					t.Errorf("config %+v overrides %v", d.Room.Config, d.Room.Overrides)
				}
			},
		},
		{
			name:    "config/lower max_queue cancels the tail",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(carol, bob)),
			in:      ConfigChange{EventID: "$cfg", Values: map[string]any{"max_queue": 1.0}},
			effects: []string{"floor", "resp BOB cancelled queue_full re $q-BOB"},
			log:     []string{"config", "drop"},
			holder:  &alice,
			queue:   []Device{carol},
		},
		{
			name:  "floor seen/another controller first makes us passive",
			room:  newTestRoom(with(func(r *Room) { r.Published = false })),
			in:    FloorStateSeen{EventID: "$f", Sender: otherController},
			log:   []string{"passive"},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, false) },
		},
		{
			name:  "floor seen/our own echo marks us published",
			room:  newTestRoom(with(func(r *Room) { r.Published = false })),
			in:    FloorStateSeen{EventID: "$f", Sender: controller},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, false, true) },
		},
		{
			name:    "floor seen/a rival after we published is overwritten",
			room:    newTestRoom(),
			in:      FloorStateSeen{EventID: "$f", Sender: otherController},
			effects: []string{"floor"},
			log:     []string{"foreign_floor_state"},
			check:   func(t *testing.T, d Decision) { wantFlags(t, d.Room, false, true) },
		},
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
			in:   sameRoomSnapshot(controller),
			log:  []string{"config", "snapshot"},
		},
		{
			name:    "snapshot/room without floor state gets ours again",
			room:    newTestRoom(),
			in:      sameRoomSnapshot(""),
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
			name: "snapshot/state events count towards the state version",
			room: newTestRoom(with(func(r *Room) { r.StateVersion = 3 })),
			in:   MemberChange{EventID: "$m", UserID: "@zed:example.org", Membership: "join"},
			check: func(t *testing.T, d Decision) {
				if d.Room.StateVersion != 4 {
					t.Errorf("state version %d after a member event, want 4", d.Room.StateVersion)
				}
			},
		},
		{
			name:  "snapshot/floor owned by another controller makes us passive",
			room:  newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:    Snapshot{Power: &power, FloorSender: otherController},
			log:   []string{"passive", "config", "snapshot"},
			check: func(t *testing.T, d Decision) { wantFlags(t, d.Room, true, true) },
		},
		{
			name:    "admin/release revokes the holder and the queue advances",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      AdminRelease{By: "@ops:example.org", Holder: alice, Term: 7},
			effects: []string{"floor", "resp ALICE revoked admin_release re $req-ALICE", "resp BOB granted re $q-BOB"},
			log:     []string{"admin_release", "revoke", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			// alice's start_timeout was overdue: it fires first and hands
			// the floor to bob, whom the operator never meant to release.
			name:    "admin/release of a turn an overdue deadline ended changes nothing more",
			room:    newTestRoom(holding(alice, PhaseGranted), queued(bob)),
			in:      AdminRelease{By: "@ops:example.org", Holder: alice, Term: 7},
			at:      6 * time.Second,
			effects: []string{"floor", "resp ALICE revoked no_media re $req-ALICE", "resp BOB granted re $q-BOB"},
			log:     []string{"revoke", "grant", "admin_release_stale"},
			holder:  &bob,
			term:    8,
		},
		{
			name:   "admin/release naming another device changes nothing",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     AdminRelease{By: "@ops:example.org", Holder: bob, Term: 7},
			log:    []string{"admin_release_stale"},
			holder: &alice,
		},
		{
			name:    "effects/unpublished managed room publishes on any input",
			room:    newTestRoom(with(func(r *Room) { r.Published = false })),
			in:      Tick{},
			effects: []string{"floor"},
			check:   func(t *testing.T, d Decision) { wantFlags(t, d.Room, false, true) },
		},
		{
			name:   "effects/unchanged floor publishes nothing",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     Tick{},
			at:     time.Second,
			holder: &alice,
		},
	}
}

// sameRoomSnapshot is what /state returns for newTestRoom.
func sameRoomSnapshot(floorSender string) Snapshot {
	power := managedPower()
	snap := Snapshot{Power: &power, FloorSender: floorSender}
	for _, d := range []Device{alice, bob, carol, boss, mallory} {
		snap.Members = append(snap.Members, MemberChange{UserID: d.UserID, Membership: "join"})
	}
	for _, d := range []Device{alice, bob, carol, boss} {
		snap.Permits = append(snap.Permits, permitChange(d, true, true))
	}
	return snap
}

func wantFlags(t *testing.T, r *Room, passive, published bool) {
	t.Helper()
	if r.Passive != passive || r.Published != published {
		t.Errorf("passive %v published %v, want %v %v", r.Passive, r.Published, passive, published)
	}
}
