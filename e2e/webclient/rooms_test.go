package webclient

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

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
	c, err := shared.HS.NewUser(ctx, local, "password-"+local, "ADMIN")
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
	if _, err := dendrite.WaitForPermitLevel(ctx, a.c, resp.RoomID); err != nil {
		a.t.Fatalf("Walkie never set up the permit level in %s: %v", resp.RoomID, err)
	}
	return resp.RoomID
}

// checkBroadcast reads the room's history and checks the person's first
// broadcast: a `started` with the device and chunk_length 1, chunks
// numbered from 1 in Element's shape (an m.audio voice message in Ogg,
// with the MSC1767 and MSC3245 keys, referencing the start), and a
// `stopped` naming the last chunk.
func (a *admin) checkBroadcast(room id.RoomID, p *person) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var events []*event.Event
	from := ""
	for page := 0; page < 20; page++ {
		resp, err := a.c.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			a.t.Fatal(err)
		}
		events = append(resp.Chunk, events...)
		if resp.End == "" || len(resp.Chunk) == 0 {
			break
		}
		from = resp.End
	}
	var started id.EventID
	chunks, last := 0, 0
	for i := len(events) - 1; i >= 0; i-- { // oldest first
		ev := events[i]
		if ev.Sender.String() != p.userID {
			continue
		}
		raw := ev.Content.Raw
		switch {
		case ev.Type.Type == "io.element.voice_broadcast_info" && raw["state"] == "started" && started == "":
			if raw["device_id"] != p.device || raw["chunk_length"] != 1.0 {
				a.t.Errorf("started: %v", raw)
			}
			started = ev.ID
		case ev.Type == event.EventMessage && started != "" && raw["io.element.voice_broadcast_chunk"] != nil:
			rel, _ := raw["m.relates_to"].(map[string]any)
			if rel["event_id"] != started.String() {
				continue // a later broadcast's
			}
			chunks++
			seq, _ := raw["io.element.voice_broadcast_chunk"].(map[string]any)["sequence"].(float64)
			info, _ := raw["info"].(map[string]any)
			if int(seq) != chunks || raw["msgtype"] != "m.audio" || info["mimetype"] != "audio/ogg" ||
				raw["org.matrix.msc1767.file"] == nil || raw["org.matrix.msc1767.audio"] == nil || raw["org.matrix.msc3245.voice"] == nil ||
				rel["rel_type"] != "m.reference" {
				a.t.Errorf("chunk %d is not in Element's shape: %v", chunks, raw)
			}
		case ev.Type.Type == "io.element.voice_broadcast_info" && raw["state"] == "stopped" && started != "" && last == 0:
			n, _ := raw["last_chunk_sequence"].(float64)
			last = int(n)
		}
	}
	if started == "" || chunks == 0 || last != chunks {
		a.t.Errorf("%s's broadcast: started %q, %d chunks, stopped naming chunk %d", p.local, started, chunks, last)
	}
}
