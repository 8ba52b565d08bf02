package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// The power-level trap (issue 11, item 24): the usual order is to invite
// the bot first and raise it afterwards. The bot joins at level 0 and says
// what it needs; at 50 it manages but `!walkie status` says members cannot
// take part; when the admin raises it to 100 it sets the room up there and
// then, without a restart: members can publish permits and get the floor.
func TestPowerTrapBotRaisedAfterJoiningSetsTheRoomUp(t *testing.T) {
	ctx := context.Background()
	admin := newUser(t, shared, "admin", "ADM")
	alice := newUser(t, shared, "alice", "ALICEPHONE")
	bot := id.UserID(shared.Walkie.BotUserID())
	// Default power levels: the bot is invited at users_default (0).
	resp, err := admin.c.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset: "private_chat",
		Invite: []id.UserID{bot, id.UserID(alice.user)},
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	if _, err := alice.c.JoinRoomByID(ctx, room); err != nil {
		t.Fatal(err)
	}
	// The notice comes from the decision on the bot's state load: from
	// here on, only a live power-levels change can set the room up.
	admin.waitTimeline(room, "the bot's power notice", func(ev *event.Event) bool {
		body, _ := ev.Content.Raw["body"].(string)
		return ev.Sender == bot && ev.Type == event.EventMessage && strings.Contains(body, "power level")
	})

	// Raised to 50 the bot manages the room but may not set it up:
	// `!walkie status` says members cannot take part, and what to do.
	raise := func(level int) {
		t.Helper()
		var pl event.PowerLevelsEventContent
		if err := admin.c.StateEvent(ctx, room, event.StatePowerLevels, "", &pl); err != nil {
			t.Fatal(err)
		}
		if _, ok := pl.Events[floor.TypePermit]; ok {
			t.Fatalf("the permit level was set while the bot could not set the room up: %v", pl.Events)
		}
		pl.SetUserLevel(bot, level)
		if _, err := admin.c.SendStateEvent(ctx, room, event.StatePowerLevels, "", &pl); err != nil {
			t.Fatal(err)
		}
	}
	raise(50)
	admin.waitFloor(room, "the bot manages at 50", func(f floor.FloorState) bool { return f.Holder == nil })
	if _, err := admin.c.SendText(ctx, room, "!walkie status"); err != nil {
		t.Fatal(err)
	}
	admin.waitTimeline(room, "a status that says members cannot send permits", func(ev *event.Event) bool {
		body, _ := ev.Content.Raw["body"].(string)
		return ev.Sender == bot && strings.Contains(body, "cannot send talk permits") &&
			strings.Contains(body, "Give Walkie power level 100")
	})

	raise(100)

	levels := admin.waitPermitLevel(room)
	if levels[floor.TypePermit] != 0 || levels[floor.TypeBroadcastInfo] != 0 || levels[floor.TypeFloor] != 100 {
		t.Fatalf("power levels after the bot was raised: %+v", levels)
	}
	admin.waitFloor(room, "the bot publishes an idle floor", func(f floor.FloorState) bool { return f.Holder == nil })
	alice.permit(room, true, true, time.Time{}) // M_FORBIDDEN while the trap is set
	admin.waitFloor(room, "alice's permit counted", func(f floor.FloorState) bool { return f.Listeners == 1 })
	req := alice.request(room, "request", nil)
	if r := alice.waitResponse(room, req); r.Status != floor.StatusGranted {
		t.Fatalf("alice's request after the setup: %+v", r)
	}
}
