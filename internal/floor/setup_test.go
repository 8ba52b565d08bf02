package floor

import (
	"time"

	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
)

// invitedPower is a room's power levels as clients create them (Matrix's
// defaults) with the bot at level: nothing is set up for the protocol, so
// members could send neither permits nor broadcast info.
func invitedPower(level int) PowerLevels {
	return PowerLevels{
		Users:        map[string]int{boss.UserID: 100, controller: level},
		Events:       map[string]int{eventPowerLevels: 100, TypeFloorConfig: 50},
		StateDefault: 50,
		Redact:       50,
	}
}

// invitedAt: the bot joined a room with invitedPower(level) and was not set
// up. Below 50 it manages nothing, has said so once and published nothing.
func invitedAt(level int) spec {
	return func(r *Room) {
		r.Power = invitedPower(level)
		r.Members[controller] = "join"
		r.Managed = CanManage(r.Power, controller)
		if !r.Managed {
			r.Published, r.PowerNoticeSent = false, true
		}
	}
}

// setUp: Room setup ran here once; an admin removed the permit level since.
func setUp(r *Room) {
	r.PowerSetUp = true
	delete(r.Power.Events, TypePermit)
}

func wantSetUp(want bool) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if d.Room.PowerSetUp != want {
			t.Errorf("PowerSetUp %v, want %v", d.Room.PowerSetUp, want)
		}
	}
}

func noticeSays(wants ...string) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		text := effectOf(t, d, EffectNotice).Text
		for _, want := range wants {
			if !strings.Contains(text, want) {
				t.Errorf("the notice lacks %s:\n%s", want, text)
			}
		}
	}
}

// setupRules pin Room setup (PROTOCOL.md "Room setup"; issue 11, items 17
// and 24).
func setupRules() []rule {
	raised := invitedPower(100)
	atFifty := invitedPower(50)
	complete := managedPower()
	afterSetup := managedPower()
	delete(afterSetup.Events, TypePermit)
	reload := sameRoomSnapshot(&ourFirstFloor)
	reload.Power = &afterSetup
	rejoin := reload
	rejoin.Members = append(rejoin.Members, MemberChange{UserID: controller, Membership: "join"})
	fresh := Snapshot{Power: &raised, Members: []MemberChange{{UserID: controller, Membership: "join"}}}
	return []rule{
		{
			// The power-level trap: invited first, raised afterwards.
			name:    "setup/the bot raised to 100 after it joined sets the room up at once",
			room:    newTestRoom(invitedAt(0)),
			in:      PowerChange{EventID: "$pl", Levels: raised},
			manage:  true,
			effects: []string{"floor", "setup"},
			log:     []string{"power", "power_setup"},
			check: func(t *testing.T, d Decision) {
				wantSetUp(true)(t, d)
				if got := d.Log[len(d.Log)-1]; got.Action != LogPowerSetup || !strings.Contains(string(got.Reason), TypePermit) {
					t.Errorf("no setup log line naming what it adds: %+v", got)
				}
			},
		},
		{
			name:    "setup/raised only to 50: managed, and the notice asks for the level that sets the room up",
			room:    newTestRoom(invitedAt(0), with(func(r *Room) { r.PowerNoticeSent = false })),
			in:      PowerChange{EventID: "$pl", Levels: atFifty},
			manage:  true,
			effects: []string{"floor", "notice"},
			log:     []string{"power"},
			check: noticeSays(`users["@walkie:example.org"]: 100 (to publish the floor state, redact and set the levels below itself)`,
				`events["org.matrix.msc4002.talk_permit"]: 0`),
		},
		{
			name:    "setup/then raised to 100: set up without another notice",
			room:    newTestRoom(invitedAt(50), with(func(r *Room) { r.PowerNoticeSent = true })),
			in:      PowerChange{EventID: "$pl", Levels: raised},
			manage:  true,
			effects: []string{"setup"},
			log:     []string{"power", "power_setup"},
			check:   wantSetUp(true),
		},
		{
			// Two controllers invited at once would both edit the power
			// levels before either knew of the other: setup waits until
			// the room is known to be ours.
			name:    "setup/a reload of a new room publishes first, and waits for the echo to set up",
			room:    NewRoom(testRoomID, controller, testConfig()),
			in:      fresh,
			manage:  true,
			effects: []string{"floor"},
			log:     []string{"config", "snapshot"},
			check:   wantSetUp(false),
		},
		{
			name: "setup/the echo of our first floor state sets the room up",
			room: newTestRoom(invitedAt(0), func(r *Room) {
				r.Power, r.Managed = raised, true
				r.FirstPublished, r.FirstPublishedID = time.Time{}, ""
			}),
			in:      FloorStateSeen{EventID: "$ours", Sender: controller, Timestamp: t0},
			manage:  true,
			effects: []string{"setup"},
			log:     []string{"power_setup"},
			check:   wantSetUp(true),
		},
		{
			name: "setup/a rival's earlier floor state: no setup, the rival's room",
			room: newTestRoom(invitedAt(0), func(r *Room) {
				r.Power, r.Managed = raised, true
				r.FirstPublished, r.FirstPublishedID = time.Time{}, ""
				r.Rival = &FloorClaim{Sender: "@rival:example.org", EventID: "$rival", Timestamp: t0.Add(-time.Second)}
			}),
			in:     FloorStateSeen{EventID: "$ours", Sender: controller, Timestamp: t0},
			manage: true,
			log:    []string{"passive"},
			check:  wantSetUp(false),
		},
		{
			name:    "setup/levels set by hand: nothing to add, and the setup is done",
			room:    newTestRoom(invitedAt(0)),
			in:      PowerChange{EventID: "$pl", Levels: complete},
			manage:  true,
			effects: []string{"floor"},
			log:     []string{"power", "power_setup"},
			check:   wantSetUp(true),
		},
		{
			name:   "setup/once: a reload does not put back a level an admin removed",
			room:   newTestRoom(setUp),
			in:     reload,
			manage: true,
			log:    []string{"config", "snapshot"},
		},
		{
			name: "setup/once: nor does a re-join",
			room: newTestRoom(setUp, with(func(r *Room) {
				r.Members[controller] = "leave"
				r.Published = false
			})),
			in:      rejoin,
			manage:  true,
			effects: []string{"floor"},
			log:     []string{"config", "snapshot"},
		},
		{
			name:    "setup/once: nor a later power change",
			room:    newTestRoom(setUp),
			in:      PowerChange{EventID: "$pl", Levels: afterSetup},
			manage:  true,
			log:     []string{"power"},
			effects: nil,
		},
		{
			name:    "setup/manage_power_levels off: nothing is set up, and the notice says what to set",
			room:    newTestRoom(invitedAt(0), with(func(r *Room) { r.PowerNoticeSent = false })),
			in:      PowerChange{EventID: "$pl", Levels: raised},
			effects: []string{"floor", "notice"},
			log:     []string{"power"},
			check: func(t *testing.T, d Decision) {
				wantSetUp(false)(t, d)
				noticeSays(`events["org.matrix.msc4002.talk_permit"]: 0 (so members can send it)`)(t, d)
				if text := effectOf(t, d, EffectNotice).Text; strings.Contains(text, "users[") {
					t.Errorf("the bot manages already, yet the notice asks for its level:\n%s", text)
				}
			},
		},
		{
			name:   "setup/a passive controller leaves the setup to the room's owner",
			room:   newTestRoom(invitedAt(0), with(func(r *Room) { r.Passive = true })),
			in:     PowerChange{EventID: "$pl", Levels: raised},
			manage: true,
			log:    []string{"power"},
			check:  wantSetUp(false),
		},
		{
			name:   "setup/a bot that left sets nothing up",
			room:   newTestRoom(invitedAt(0), with(func(r *Room) { r.Members[controller] = "leave" })),
			in:     PowerChange{EventID: "$pl", Levels: raised},
			manage: true,
			log:    []string{"power"},
			check:  wantSetUp(false),
		},
	}
}

// `!walkie status` says when members cannot take part, and what to do.
func TestMemberPowerProblem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		room   *Room
		manage bool
		want   []string // "" when members can take part
	}{
		{name: "set up", room: newTestRoom(), manage: true, want: nil},
		{
			name: "bot at 50, Walkie may set up", room: newTestRoom(invitedAt(50)), manage: true,
			want: []string{"Members (power level 0) cannot send talk permits (level 50 needed) or voice broadcast info (level 50 needed)",
				`Give Walkie power level 100 (users["@walkie:example.org"]`, `events["org.matrix.msc4002.talk_permit"]: 0`},
		},
		{
			name: "bot at 50, manage_power_levels off", room: newTestRoom(invitedAt(50)), manage: false,
			want: []string{"cannot send talk permits", "An admin should set these power levels", `events["io.element.voice_broadcast_info"]: 0`},
		},
		{
			name: "an admin removed the permit level after the setup", room: newTestRoom(setUp), manage: true,
			want: []string{"cannot send talk permits (level 50 needed), so", `An admin should set these power levels (m.room.power_levels): events["org.matrix.msc4002.talk_permit"]: 0.`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MemberPowerProblem(tc.room, tc.manage)
			if (got == "") != (tc.want == nil) {
				t.Fatalf("MemberPowerProblem = %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// The notice and README's quick start ask for the same level: the one that
// lets the bot set the room up under Matrix's default power levels.
func TestTheNoticeAsksForTheLevelTheReadmeNames(t *testing.T) {
	text := MissingPowerAdvice(invitedPower(0), controller, true)
	const want = `users["@walkie:example.org"]: 100 `
	if !strings.Contains(text, want) {
		t.Fatalf("the notice does not ask for level 100:\n%s", text)
	}
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), "give it power level 100 so it can set the room up") {
		t.Error("README.md no longer tells admins to give the bot power level 100")
	}
	// Without room setup the bot needs only what managing takes.
	if text := MissingPowerAdvice(invitedPower(0), controller, false); !strings.Contains(text, `users["@walkie:example.org"]: 50 `) {
		t.Errorf("with manage_power_levels off the notice should ask for 50:\n%s", text)
	}
}
