package e2e

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// A user the config blocks invites the bot: the bot declines. Walkie
// sends the reason docs/admin.md quotes with the decline (the decision
// tests check the call), but Dendrite 0.13 does not keep it: its /leave
// builds the membership event without the request's reason
// (clientapi/routing/leaveroom.go). docs/admin.md says so.
func TestABlockedUsersInviteIsDeclinedWithAReason(t *testing.T) {
	ctx := context.Background()
	blocked := walkieproc.BlockedUser(stack.Domain)
	local := strings.TrimPrefix(strings.SplitN(blocked, ":", 2)[0], "@")
	c, err := shared.HS.NewUser(ctx, local, "password-"+local, "INTRUDER")
	if err != nil {
		t.Fatal(err)
	}
	intruder := &device{t: t, c: c, user: c.UserID.String(), device: "INTRUDER"}
	bot := id.UserID(shared.Walkie.BotUserID())
	resp, err := c.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{bot}})
	if err != nil {
		t.Fatal(err)
	}
	var reason string
	intruder.waitTimeline(resp.RoomID, "the bot declining the invite", func(ev *event.Event) bool {
		if ev.Type != event.StateMember || ev.GetStateKey() != bot.String() {
			return false
		}
		_ = ev.Content.ParseRaw(ev.Type)
		m := ev.Content.AsMember()
		if m.Membership != event.MembershipLeave {
			return false
		}
		reason = m.Reason
		return true
	})
	if reason != "" && !strings.Contains(reason, "may not invite Walkie") {
		t.Fatalf("the decline's reason is %q, want the one docs/admin.md quotes", reason)
	}
	if reason == "" {
		t.Log("Dendrite dropped the decline's reason, as docs/admin.md says it does")
	}
}
