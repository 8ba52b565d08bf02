package webclient

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
)

// admin is a room creator driven from Go: setting rooms up is not what
// these tests are about.
type admin struct {
	t *testing.T
	c *mautrix.Client
}

func newAdmin(t *testing.T) *admin {
	t.Helper()
	ctx := context.Background()
	local := fmt.Sprintf("admin%d", userSeq.Add(1))
	if _, err := shared.HS.RegisterUser(ctx, local, "password-"+local, false); err != nil {
		t.Fatal(err)
	}
	c, err := shared.HS.Login(ctx, local, "password-"+local, "ADMIN")
	if err != nil {
		t.Fatal(err)
	}
	return &admin{t: t, c: c}
}

// room creates a room with Walkie at power 100, invites Walkie and the
// people (who join by following its link in the client), and waits until
// Walkie has published the floor and let members send permits.
func (a *admin) room(name string, initial []*event.Event, people ...*person) id.RoomID {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	bot := id.UserID(shared.Walkie.BotUserID())
	invite := []id.UserID{bot}
	for _, p := range people {
		invite = append(invite, id.UserID(p.userID))
	}
	resp, err := a.c.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Name: name, Preset: "private_chat", InitialState: initial, Invite: invite,
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{a.c.UserID: 100, bot: 100}},
	})
	if err != nil {
		a.t.Fatal(err)
	}
	err = dendrite.WaitForStateEvent(ctx, a.c, resp.RoomID, matrix.TypeFloor, "", func(raw json.RawMessage) bool {
		var f floor.FloorState
		return json.Unmarshal(raw, &f) == nil && f.Holder == nil
	})
	if err != nil {
		a.t.Fatalf("Walkie never published a floor in %s: %v", resp.RoomID, err)
	}
	for {
		var pl event.PowerLevelsEventContent
		if err := a.c.StateEvent(ctx, resp.RoomID, event.StatePowerLevels, "", &pl); err == nil {
			if _, ok := pl.Events[floor.TypePermit]; ok {
				return resp.RoomID
			}
		}
		select {
		case <-ctx.Done():
			a.t.Fatalf("Walkie never set up the permit level in %s", resp.RoomID)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
