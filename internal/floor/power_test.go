package floor

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// v12 is a room version 12 create event by boss that names extra creators;
// in such rooms creators are not listed in power_levels' users.
func v12(extra ...string) RoomCreate {
	return RoomCreate{EventID: "$create", Sender: boss.UserID, RoomVersion: "12", AdditionalCreators: extra}
}

// notListed removes users from power_levels, as room version 12 demands
// of its creators.
func notListed(users ...string) spec {
	return func(r *Room) {
		for _, u := range users {
			delete(r.Power.Users, u)
		}
	}
}

func creatorRules() []rule {
	power := managedPower()
	delete(power.Users, controller)
	return []rule{
		{
			name:    "power/a room version 12 creator outranks every level",
			room:    newTestRoom(unmanaged, notListed(controller), with(func(r *Room) { r.PowerNoticeSent = true })),
			in:      v12(controller),
			effects: []string{"floor"},
			log:     []string{"power"},
			check: func(t *testing.T, d Decision) {
				if !d.Room.Managed {
					t.Error("an additional creator of a v12 room cannot manage it")
				}
			},
		},
		{
			name: "power/creators of older rooms hold only their listed level",
			room: newTestRoom(unmanaged, notListed(controller), with(func(r *Room) { r.PowerNoticeSent = true })),
			in:   RoomCreate{EventID: "$create", Sender: controller, RoomVersion: "11"},
			log:  []string{"power"},
			check: func(t *testing.T, d Decision) {
				if d.Room.Managed {
					t.Error("the creator of a v11 room manages it without a level")
				}
			},
		},
		{
			name: "power/a power-levels change keeps the creators",
			room: newTestRoom(notListed(controller), with(func(r *Room) { r.Power.Creators = v12(controller).creators() })),
			in:   PowerChange{EventID: "$pl", Levels: power},
			log:  []string{"power"},
			check: func(t *testing.T, d Decision) {
				if !d.Room.Managed {
					t.Error("the creators were forgotten with the new power levels")
				}
			},
		},
		{
			name: "power/a creator pre-empts a holder at 100",
			room: newTestRoom(holding(boss, PhaseTalking),
				with(func(r *Room) { r.Power.Creators = v12(bob.UserID).creators()[1:] })),
			in:      TalkRequest{EventID: "$req", Sender: bob.UserID, DeviceID: "BOB", Action: ActionRequest, Preempt: true},
			effects: []string{"floor", "resp BOSS revoked preempted re $req-BOSS", "resp BOB granted re $req"},
			log:     []string{"revoke", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name: "snapshot/room version 12: the creators outrank every level",
			room: NewRoom(testRoomID, controller, testConfig()),
			in:   Snapshot{Power: &power, Create: ptr(v12(controller))},
			// The power notice is not needed: the controller may edit power
			// levels itself.
			effects: []string{"floor"},
			log:     []string{"config", "snapshot"},
			check: func(t *testing.T, d Decision) {
				if !d.Room.Managed || d.Room.Power.UserLevel(controller) != CreatorLevel {
					t.Errorf("managed %v, level %d", d.Room.Managed, d.Room.Power.UserLevel(controller))
				}
			},
		},
		{
			name: "snapshot/a reload without the create event keeps the creators",
			room: newTestRoom(notListed(controller), with(func(r *Room) { r.Power.Creators = v12(controller).creators() })),
			in:   Snapshot{Power: &power, Floor: ptr(ourFirstFloor)},
			// Everybody left the snapshot's member list: listeners 4 -> 0.
			effects: []string{"floor"},
			log:     []string{"config", "snapshot"},
			check: func(t *testing.T, d Decision) {
				if !d.Room.Managed {
					t.Error("the creators were forgotten by a reload")
				}
			},
		},
	}
}

func TestWhichRoomVersionsGiveCreatorsPower(t *testing.T) {
	for version, want := range map[string]bool{
		"1": false, "9": false, "10": false, "11": false, "": false, "custom.12": false,
		"12": true, "13": true, "org.matrix.hydra.11": true,
	} {
		c := RoomCreate{Sender: "@c:x", RoomVersion: version, AdditionalCreators: []string{"@d:x"}}
		got := c.creators()
		if (got != nil) != want {
			t.Errorf("room version %q: creators %v, want outranking %v", version, got, want)
		}
		if want && !slices.Equal(got, []string{"@c:x", "@d:x"}) {
			t.Errorf("room version %q: creators %v", version, got)
		}
	}
}

// A creator's level is the highest there is; nothing that computes with
// levels may overflow on it.
func TestCreatorLevelIsSafeToCompute(t *testing.T) {
	r := newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) {
		r.Power.Users[bob.UserID] = -5
		r.Power.Creators = []string{carol.UserID}
	}))
	now := t0
	r.Queue = []QueueEntry{
		{Device: bob, Power: r.Power.UserLevel(bob.UserID), EnqueuedAt: now.Add(-2 * time.Second)},
		{Device: carol, Power: r.Power.UserLevel(carol.UserID), EnqueuedAt: now.Add(-time.Second)},
	}
	r.sortQueue()
	if got := queueDevices(r); !slices.Equal(got, []Device{carol, bob}) {
		t.Errorf("queue %v: the creator must come first", got)
	}
}

// A creator controller cannot write its infinite level into power_levels:
// room setup reserves its types at the highest level anyone holds there.
func TestSetupPowerLevelsForACreatorController(t *testing.T) {
	pl := PowerLevels{Users: map[string]int{"@mod:x": 150}, StateDefault: 50, Redact: 50, Creators: []string{controller}}
	want := map[string]int{TypeFloor: 150, TypeResponse: 150, TypePermit: 0,
		TypeBroadcastInfo: 0, TypeBroadcastInfoMSC3888: 0, TypeBroadcastInfoElement: 0}
	if got := SetupPowerLevels(pl, controller); !maps.Equal(got, want) {
		t.Errorf("SetupPowerLevels = %v, want %v", got, want)
	}
	pl.Users = nil
	if text := MissingPowerAdvice(pl, controller, false); !strings.Contains(text, `events["org.matrix.msc4002.floor"]: 100`) {
		t.Errorf("advice for a creator controller:\n%s", text)
	}
}
