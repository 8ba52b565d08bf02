package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/testkit/dendrite"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
)

// waitLimit bounds every wait for something a client should see. It is a
// deadline for failure, not a speed assertion.
const waitLimit = 45 * time.Second

// device is one logged-in Matrix device.
type device struct {
	t      *testing.T
	c      *mautrix.Client
	user   string
	device string
}

var userSeq atomic.Int64

// newUser registers a fresh user and logs in one device.
func newUser(t *testing.T, s *stack.Stack, name, deviceID string) *device {
	t.Helper()
	ctx := context.Background()
	local := fmt.Sprintf("%s%d", name, userSeq.Add(1))
	c, err := s.HS.NewUser(ctx, local, "password-"+local, deviceID)
	if err != nil {
		t.Fatal(err)
	}
	return &device{t: t, c: c, user: c.UserID.String(), device: deviceID}
}

// managedRoom: admin creates a room with the bot at power 100, invites the
// bot and the members; they join; the bot publishes an idle floor.
func managedRoom(t *testing.T, s *stack.Stack, admin *device, members ...*device) id.RoomID {
	t.Helper()
	ctx := context.Background()
	users := map[id.UserID]int{id.UserID(admin.user): 100, id.UserID(s.Walkie.BotUserID()): 100}
	resp, err := admin.c.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:             "private_chat",
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: users},
		Invite:             append([]id.UserID{id.UserID(s.Walkie.BotUserID())}, userIDs(members)...),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, err := m.c.JoinRoomByID(ctx, resp.RoomID); err != nil {
			t.Fatal(err)
		}
	}
	admin.waitFloor(resp.RoomID, "the bot publishes an idle floor", func(f floor.FloorState) bool { return f.Holder == nil })
	admin.waitPermitLevel(resp.RoomID)
	return resp.RoomID
}

func userIDs(ds []*device) []id.UserID {
	out := make([]id.UserID, len(ds))
	for i, d := range ds {
		out[i] = id.UserID(d.user)
	}
	return out
}

func (d *device) permit(room id.RoomID, send, receive bool, expires time.Time) {
	d.t.Helper()
	c := map[string]any{"device_id": d.device, "send": send, "receive": receive}
	if !expires.IsZero() {
		c["expires_ts"] = expires.UnixMilli()
	}
	if _, err := d.c.SendStateEvent(context.Background(), room, matrix.TypePermit, "_"+d.user+"_"+d.device, c); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) request(room id.RoomID, action string, extra map[string]any) id.EventID {
	d.t.Helper()
	c := map[string]any{"action": action, "device_id": d.device}
	for k, v := range extra {
		c[k] = v
	}
	resp, err := d.c.SendMessageEvent(context.Background(), room, matrix.TypeRequest, c)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.EventID
}

func (d *device) broadcast(typ event.Type, room id.RoomID, state string, started id.EventID, extra map[string]any) id.EventID {
	d.t.Helper()
	c := map[string]any{"state": state, "device_id": d.device, "chunk_length": 1}
	if started != "" {
		c["m.relates_to"] = map[string]any{"rel_type": "m.reference", "event_id": started}
	}
	for k, v := range extra {
		c[k] = v
	}
	resp, err := d.c.SendStateEvent(context.Background(), room, typ, d.user, c)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.EventID
}

func (d *device) chunk(room id.RoomID, started id.EventID, seq int) id.EventID {
	d.t.Helper()
	resp, err := d.c.SendMessageEvent(context.Background(), room, matrix.TypeChunk, map[string]any{
		"sequence": seq, "m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": started}})
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.EventID
}

// waitFloor waits until this device's /sync shows floor state matching pred.
func (d *device) waitFloor(room id.RoomID, what string, pred func(floor.FloorState) bool) floor.FloorState {
	d.t.Helper()
	return dendrite.MustWaitForFloor(d.t, d.c, room, what, waitLimit, pred)
}

// holderIs matches floor state held by the device.
func holderIs(dev *device) func(floor.FloorState) bool {
	return func(f floor.FloorState) bool {
		return f.Holder != nil && f.Holder.UserID == dev.user && f.Holder.DeviceID == dev.device
	}
}

// waitResponse waits for the talk_response that references the event.
func (d *device) waitResponse(room id.RoomID, to id.EventID) floor.Response {
	d.t.Helper()
	var found *floor.Response
	d.waitTimeline(room, fmt.Sprintf("a talk_response to %s", to), func(ev *event.Event) bool {
		if ev.Type.Type != floor.TypeResponse {
			return false
		}
		var rc matrix.ResponseContent
		if json.Unmarshal(ev.Content.VeryRaw, &rc) != nil || rc.RelatesTo == nil || rc.RelatesTo.EventID != to {
			return false
		}
		found = &rc.Response
		return true
	})
	return *found
}

// waitRedacted waits until the event shows as redacted, with a reason.
func (d *device) waitRedacted(room id.RoomID, target id.EventID) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		ev, err := d.c.GetEvent(ctx, room, target)
		if err == nil && ev.Unsigned.RedactedBecause != nil {
			reason, _ := ev.Unsigned.RedactedBecause.Content.Raw["reason"].(string)
			return reason
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("%s was never redacted", target)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitTimeline polls /messages until an event matches.
func (d *device) waitTimeline(room id.RoomID, what string, match func(*event.Event) bool) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		resp, err := d.c.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 100)
		if err == nil {
			for _, ev := range resp.Chunk {
				if match(ev) {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("%s never saw %s", d.user, what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// talkRoom is a managed room in which every talker has published a permit
// to send and receive, as the floor state's listener count shows.
func talkRoom(t *testing.T, admin *device, talkers ...*device) id.RoomID {
	t.Helper()
	var members []*device
	for _, d := range talkers {
		if d != admin {
			members = append(members, d)
		}
	}
	room := managedRoom(t, shared, admin, members...)
	for _, d := range talkers {
		d.permit(room, true, true, time.Time{})
	}
	admin.waitFloor(room, fmt.Sprintf("%d listeners", len(talkers)), func(f floor.FloorState) bool { return f.Listeners == len(talkers) })
	return room
}

// waitPermitLevel waits until the bot's room setup lets members publish
// permits.
func (d *device) waitPermitLevel(room id.RoomID) map[string]int {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	levels, err := dendrite.WaitForPermitLevel(ctx, d.c, room)
	if err != nil {
		d.t.Fatalf("the bot never set up the permit level in %s: %v", room, err)
	}
	return levels
}
