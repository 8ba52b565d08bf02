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
			// busy_elsewhere counts only joined rooms: a floor left behind
			// would let its holder hold a second one, and still hold this
			// one when the controller re-joins.
			name: "member/the controller leaving forgets the floor silently",
			room: newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:   MemberChange{EventID: "$m", UserID: controller, Membership: "leave"},
			log:  []string{"left", "revoke", "drop"},
			check: func(t *testing.T, d Decision) {
				if d.Room.Published {
					t.Error("the floor state must go up afresh after the next join")
				}
			},
		},
		{
			// The tick that ends every decision must not put up the floor
			// state the leave cleared: nothing sent there could arrive.
			name: "member/a room the controller left stays silent",
			room: newTestRoom(with(func(r *Room) {
				r.Members[controller] = "leave"
				r.Published = false
			})),
			in: Tick{},
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
			effects: []string{"resp ALICE revoked insufficient_power re $req-ALICE", "floor"},
			log:     []string{"power", "revoke"},
		},
		{
			name:    "power/queue re-sorted and demoted devices dropped",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(carol, bob, boss)),
			in:      PowerChange{EventID: "$pl", Levels: demoting},
			effects: []string{"resp CAROL denied insufficient_power re $q-CAROL", "floor"},
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
			// A reload or a re-join reads the same event again.
			name:    "config/the same rejected keys are not noticed twice",
			room:    newTestRoom(with(func(r *Room) { r.ConfigNoticeFor = "$cfg" })),
			in:      ConfigChange{EventID: "$cfg", Values: map[string]any{"bogus": 1.0}},
			effects: []string{},
			log:     []string{"config"},
		},
		{
			name:    "config/a new config event with rejected keys is noticed",
			room:    newTestRoom(with(func(r *Room) { r.ConfigNoticeFor = "$old" })),
			in:      ConfigChange{EventID: "$cfg", Values: map[string]any{"bogus": 1.0}},
			effects: []string{"notice"},
			log:     []string{"config"},
			check: func(t *testing.T, d Decision) {
				if d.Room.ConfigNoticeFor != "$cfg" {
					t.Errorf("noticed config %q, want $cfg", d.Room.ConfigNoticeFor)
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
			effects: []string{"resp BOB cancelled queue_full re $q-BOB", "floor"},
			log:     []string{"config", "drop"},
			holder:  &alice,
			queue:   []Device{carol},
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

// sameRoomSnapshot is what /state returns for newTestRoom, with latest as
// the room's floor state (nil: none).
func sameRoomSnapshot(latest *FloorStateSeen) Snapshot {
	power := managedPower()
	snap := Snapshot{Power: &power, Floor: latest}
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

// A reload reads the room's floor_config again: the notice about its
// ignored keys was posted when the event arrived, and is not repeated.
func TestAReloadRepeatsNoConfigNotice(t *testing.T) {
	room := newTestRoom()
	cfg := ConfigChange{EventID: "$cfg", Values: map[string]any{"bogus": 1.0}}
	first := Decide(room, cfg, Env{Now: t0})
	if len(first.Effects) != 1 || first.Effects[0].Kind != EffectNotice {
		t.Fatalf("the config event itself: effects %+v, want one notice", first.Effects)
	}
	var members []MemberChange
	for user, m := range room.Members {
		members = append(members, MemberChange{UserID: user, Membership: m})
	}
	power := room.Power
	reload := Decide(first.Room, Snapshot{Power: &power, Members: members, Config: &cfg, AsOf: room.StateVersion}, Env{Now: t0})
	for _, e := range reload.Effects {
		if e.Kind == EffectNotice {
			t.Fatalf("the reload repeated a notice: %q", e.Text)
		}
	}
}
