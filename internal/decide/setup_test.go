package decide_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/decide"
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
)

// managing is the fixture with config floor.manage_power_levels set to
// manage (the service's default is on).
func managing(t *testing.T, manage bool) *fixture {
	f := newFixture(t)
	f.d = decide.New(decide.Options{Store: f.st, Controller: bot, Permissions: permissions{}, ManagePowerLevels: manage, Log: zerolog.Nop()})
	return f
}

// defaultPowerLevels are Matrix's defaults as a client creates a room,
// with the bot at botLevel: nothing set up for the protocol.
func (f *fixture) defaultPowerLevels(room string, botLevel int) json.RawMessage {
	return f.ev(room, admin, "m.room.power_levels", sk(""), map[string]any{
		"users":         map[string]int{admin: 100, bot: botLevel},
		"users_default": 0, "events_default": 0, "state_default": 50, "redact": 50,
		"events": map[string]int{"m.room.power_levels": 100},
	})
}

// invitedRoom: admin created room with default power levels and invited
// the bot without raising it (level botLevel); the bot joined and loaded
// the room's state.
func (f *fixture) invitedRoom(room string, botLevel int) {
	f.t.Helper()
	state := []json.RawMessage{
		f.ev(room, admin, "m.room.member", sk(admin), map[string]any{"membership": "join"}),
		f.defaultPowerLevels(room, botLevel),
		f.ev(room, bot, "m.room.member", sk(bot), map[string]any{"membership": "join"}),
	}
	f.deliver(state...)
	f.reload(room, state...)
}

// echoFloors delivers the floor states Walkie wrote after row since back to
// it, as the homeserver echoes the bot's own events.
func (f *fixture) echoFloors(room string, since int64) {
	f.t.Helper()
	for _, s := range f.outbox(room) {
		if s.ID > since && s.Kind == matrix.KindState && s.Request.EventType == floor.TypeFloor {
			f.deliver(f.ev(room, bot, floor.TypeFloor, sk(""), s.Request.Content))
		}
	}
}

func (f *fixture) kinds(room string, since int64) []string {
	var kinds []string
	for _, s := range f.outbox(room) {
		if s.ID > since {
			kinds = append(kinds, s.Kind)
		}
	}
	return kinds
}

// The power-level trap (issue 11, item 24): invited first and raised to 100
// afterwards, the bot sets the room up when the raise arrives, as a
// durable outbox call, not only at the next restart.
func TestRaisingTheBotAfterItJoinedSetsTheRoomUp(t *testing.T) {
	f := managing(t, true)
	const room = "!trap:test"
	f.invitedRoom(room, 0)
	if r := f.room(room); r.Managed || !r.PowerNoticeSent || r.PowerSetUp {
		t.Fatalf("after joining at level 0: managed %v, notice %v, set up %v", r.Managed, r.PowerNoticeSent, r.PowerSetUp)
	}
	before := f.lastID(room)
	f.deliver(f.defaultPowerLevels(room, 100))
	// The room is set up once it is known to be Walkie's: when the echo
	// of its first floor state arrives (two controllers would otherwise
	// both edit the power levels).
	f.echoFloors(room, before)
	kinds := f.kinds(room, before)
	if !strings.Contains(strings.Join(kinds, " "), matrix.KindSetupPowerLevels) {
		t.Fatalf("calls after the bot was raised: %v, want a %s", kinds, matrix.KindSetupPowerLevels)
	}
	if r := f.room(room); !r.Managed || !r.PowerSetUp {
		t.Fatalf("after the raise: managed %v, set up %v", r.Managed, r.PowerSetUp)
	}
	// The bot's own write of the levels comes back as a power change: no
	// second setup.
	before = f.lastID(room)
	f.deliver(f.defaultPowerLevels(room, 100))
	if kinds := f.kinds(room, before); strings.Contains(strings.Join(kinds, " "), matrix.KindSetupPowerLevels) {
		t.Fatalf("a second setup: %v", kinds)
	}
}

// With floor.manage_power_levels off, the raise changes nothing in the
// power levels; the notice already said what an admin should set.
func TestWithoutManagePowerLevelsTheBotNeverSetsUp(t *testing.T) {
	f := managing(t, false)
	const room = "!hands-off:test"
	f.invitedRoom(room, 0)
	f.deliver(f.defaultPowerLevels(room, 100))
	for _, s := range f.outbox(room) {
		if s.Kind == matrix.KindSetupPowerLevels {
			t.Fatal("the bot set the room up with manage_power_levels off")
		}
	}
}

// statusOf asks `!walkie status` as admin and returns the answer.
func (f *fixture) statusOf(room string) string {
	f.t.Helper()
	before := f.lastID(room)
	f.deliver(f.ev(room, admin, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "!walkie status"}))
	for _, s := range f.outbox(room) {
		if s.ID > before && s.Kind == matrix.KindMessage {
			var c struct {
				Body string `json:"body"`
			}
			_ = json.Unmarshal(s.Request.Content, &c)
			return c.Body
		}
	}
	f.t.Fatal("no answer to !walkie status")
	return ""
}

// `!walkie status` in a room the bot manages (level 50) but members cannot
// take part in says so and what to do, instead of that all is well (issue
// 11, item 24).
func TestStatusSaysWhenMembersCannotSendPermits(t *testing.T) {
	for _, tc := range []struct {
		manage bool
		want   string
	}{
		{true, `Give Walkie power level 100 (users["@walkie:test"] in m.room.power_levels) and it sets the room up`},
		{false, `An admin should set these power levels (m.room.power_levels): events["org.matrix.msc4002.talk_permit"]: 0`},
	} {
		f := managing(t, tc.manage)
		const room = "!blocked:test"
		f.invitedRoom(room, 50)
		if !f.room(room).Managed {
			t.Fatal("the bot at 50 does not manage the room")
		}
		text := f.statusOf(room)
		for _, want := range []string{"The floor is free", "cannot send talk permits (level 50 needed) or voice broadcast info", tc.want} {
			if !strings.Contains(text, want) {
				t.Errorf("manage %v: status lacks %q:\n%s", tc.manage, want, text)
			}
		}
	}
	// Set up, it says nothing of the kind.
	f := managing(t, true)
	f.setupRoom("!fine:test", alice)
	if text := f.statusOf("!fine:test"); strings.Contains(text, "cannot") {
		t.Errorf("status in a room set up: %s", text)
	}
}
