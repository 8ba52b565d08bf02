package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

// waitLimit bounds every wait for something that should happen: a
// deadline for failure, not a speed assertion. LiveKit notices a
// participant whose process died only when its connection times out.
const waitLimit = 90 * time.Second

// member is a Matrix user's device, and once it joined the room's call,
// its LiveKit participant.
type member struct {
	t      *testing.T
	c      *mautrix.Client
	user   string
	device string
	// peer and identity: the participant, after joinCall.
	peer     *lkpeer.Peer
	identity string
}

var userSeq atomic.Int64

func newMember(t *testing.T, name string) *member {
	t.Helper()
	ctx := t.Context()
	local := fmt.Sprintf("%s%d", name, userSeq.Add(1))
	c, err := shared.HS.NewUser(ctx, local, "password-"+local, "PHONE")
	if err != nil {
		t.Fatal(err)
	}
	return &member{t: t, c: c, user: c.UserID.String(), device: "PHONE"}
}

func (m *member) dev() floor.Device { return floor.Device{UserID: m.user, DeviceID: m.device} }

// liveRoom is a room that admin creates with the bot at power 100, in
// live mode (its floor_config), where every talker has a permit to talk
// and listen, as the floor state shows.
func liveRoom(t *testing.T, admin *member, talkers ...*member) id.RoomID {
	t.Helper()
	ctx := t.Context()
	bot := id.UserID(shared.Walkie.BotUserID())
	invite := []id.UserID{bot}
	for _, m := range talkers {
		invite = append(invite, id.UserID(m.user))
	}
	resp, err := admin.c.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:             "private_chat",
		PowerLevelOverride: &event.PowerLevelsEventContent{Users: map[id.UserID]int{id.UserID(admin.user): 100, bot: 100}},
		Invite:             invite,
	})
	if err != nil {
		t.Fatal(err)
	}
	room := resp.RoomID
	for _, m := range talkers {
		if _, err := m.c.JoinRoomByID(ctx, room); err != nil {
			t.Fatal(err)
		}
	}
	admin.waitFloor(room, "the bot publishes an idle floor", func(f floor.FloorState) bool { return f.Holder == nil })
	admin.waitPermitLevel(room)
	if _, err := admin.c.SendStateEvent(ctx, room, event.Type{Type: floor.TypeFloorConfig, Class: event.StateEventType}, "",
		map[string]any{"mode": floor.ModeLive}); err != nil {
		t.Fatal(err)
	}
	for _, m := range talkers {
		if _, err := m.c.SendStateEvent(ctx, room, matrix.TypePermit, "_"+m.user+"_"+m.device,
			map[string]any{"device_id": m.device, "send": true, "receive": true}); err != nil {
			t.Fatal(err)
		}
	}
	service := shared.Walkie.WebURL() + "/_walkie/v1/livekit"
	admin.waitFloor(room, fmt.Sprintf("live, naming %s, %d listeners", service, len(talkers)), func(f floor.FloorState) bool {
		return f.Mode == floor.ModeLive && f.LiveKitServiceURL == service && f.Listeners == len(talkers)
	})
	return room
}

// waitPermitLevel waits until the bot's room setup lets members publish
// permits.
func (m *member) waitPermitLevel(room id.RoomID) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.t.Context(), waitLimit)
	defer cancel()
	if _, err := dendrite.WaitForPermitLevel(ctx, m.c, room); err != nil {
		m.t.Fatalf("the bot never set up the permit level in %s: %v", room, err)
	}
}

// waitFor polls cond until it holds; the test fails after waitLimit.
func (m *member) waitFor(what string, cond func(ctx context.Context) bool) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.t.Context(), waitLimit)
	defer cancel()
	for !cond(ctx) {
		select {
		case <-ctx.Done():
			m.t.Fatalf("waited in vain for: %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitFloor waits until this member's /sync shows floor state matching pred.
func (m *member) waitFloor(room id.RoomID, what string, pred func(floor.FloorState) bool) floor.FloorState {
	m.t.Helper()
	return dendrite.MustWaitForFloor(m.t, m.c, room, what, waitLimit, pred)
}

func heldBy(m *member) func(floor.FloorState) bool {
	return func(f floor.FloorState) bool { return f.Holder != nil && *f.Holder == m.dev() }
}

// ask sends a talk_request (request, release) for this member's device.
func (m *member) ask(room id.RoomID, action string) {
	m.t.Helper()
	if _, err := m.c.SendMessageEvent(m.t.Context(), room, matrix.TypeRequest,
		map[string]any{"action": action, "device_id": m.device}); err != nil {
		m.t.Fatal(err)
	}
}

// tokenRequest posts an /sfu/get request to Walkie's token service.
func tokenRequest(t *testing.T, room id.RoomID, tok *mautrix.RespOpenIDToken, device string) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"room": room, "openid_token": tok, "device_id": device})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(shared.Walkie.WebURL()+"/_walkie/v1/livekit/sfu/get", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("the token service answered %d, not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func (m *member) openID() *mautrix.RespOpenIDToken {
	m.t.Helper()
	tok, err := m.c.RequestOpenIDToken(m.t.Context())
	if err != nil {
		m.t.Fatal(err)
	}
	return tok
}

// joinCall asks Walkie's token service for a LiveKit token, as a
// MatrixRTC client does, and joins the room's call with it as a Go
// participant.
func (m *member) joinCall(room id.RoomID) {
	m.t.Helper()
	status, out := tokenRequest(m.t, room, m.openID(), m.device)
	jwt, _ := out["jwt"].(string)
	lkURL, _ := out["url"].(string)
	if status != http.StatusOK || jwt == "" || lkURL != sfu.URL() {
		m.t.Fatalf("token service: %d %v, want a token for %s", status, out, sfu.URL())
	}
	peer, err := lkpeer.Start(m.t.Context(), ns, lkpeer.Options{})
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(peer.Close)
	ctx, cancel := context.WithTimeout(m.t.Context(), waitLimit)
	defer cancel()
	if m.identity, err = peer.Join(ctx, lkURL, jwt); err != nil {
		m.t.Fatalf("%s could not join the call: %v\nlivekit:\n%s", m.user, err, sfu.Output())
	}
	m.peer = peer
}

// publish makes the participant try to publish its microphone for good,
// allowed or not (lkpeer's Publish).
func (m *member) publish() {
	m.t.Helper()
	if err := m.peer.Publish(m.t.Context()); err != nil {
		m.t.Fatal(err)
	}
}

func (m *member) stats() lkpeer.Stats {
	m.t.Helper()
	s, err := m.peer.Stats(m.t.Context())
	if err != nil {
		m.t.Fatal(err)
	}
	return s
}

// waitStats waits until the participant's stats satisfy cond.
func (m *member) waitStats(what string, cond func(lkpeer.Stats) bool) lkpeer.Stats {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(m.t.Context(), waitLimit)
	defer cancel()
	s, err := m.peer.WaitFor(ctx, what, cond)
	if err != nil {
		m.t.Fatal(err)
	}
	return s
}

// hears waits until listener received n more packets from speaker than
// it had.
func (m *member) hears(speaker *member, n uint64) {
	m.t.Helper()
	from := m.stats().Received[speaker.identity]
	m.waitStats(fmt.Sprintf("%d packets from %s", n, speaker.user), func(s lkpeer.Stats) bool {
		return s.Received[speaker.identity] >= from+n
	})
}

// silenced waits until speaker's track is gone at the listener, then until
// the speaker sent another 100 frames, and checks that none of them
// arrived. Packets sent before the permission was withdrawn may still
// trickle in (each carries its send time; one host, one clock): call it
// once the floor state said the turn ended, which Walkie publishes only
// after the permission change.
func (m *member) silenced(speaker *member) {
	m.t.Helper()
	m.waitStats(speaker.user+"'s track to end", func(s lkpeer.Stats) bool { return s.Subscribed[speaker.identity] == 0 })
	withdrawn := time.Now()
	sent := speaker.stats().Bound
	speaker.waitStats("100 more frames sent", func(s lkpeer.Stats) bool { return s.Bound >= sent+100 })
	s := m.stats()
	if last := s.LastSent[speaker.identity]; last.After(withdrawn) {
		m.t.Fatalf("%s received a packet %s sent %v after its permission was withdrawn", m.user, speaker.user, last.Sub(withdrawn))
	}
	if s.LastSent[speaker.identity].IsZero() {
		m.t.Fatalf("%s's packets carried no send times", speaker.user)
	}
}

// adminRoom reads the room through Walkie's admin API.
func adminRoom(t *testing.T, room id.RoomID) (out struct {
	Holder *struct {
		UserID string `json:"user_id"`
		Phase  string `json:"phase"`
	} `json:"holder"`
}) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
		shared.Walkie.URL()+"/_walkie/admin/v1/rooms/"+url.PathEscape(room.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+shared.Walkie.Config.AppService.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin API: %d, %v", resp.StatusCode, err)
	}
	return out
}

// metric reads one series of Walkie's metrics (0 when it is absent).
func metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(shared.Walkie.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f
			}
		}
	}
	return 0
}
