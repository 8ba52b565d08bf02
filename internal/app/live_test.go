package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/livekit"
	"github.com/walkie-ptt/walkie/internal/rtcauth"
	lktest "github.com/walkie-ptt/walkie/internal/testkit/livekit"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
)

// The live-mode wiring that needs no SFU: the token service's room check,
// the webhooks' way into decisions, and the service URL in the floor
// state. Permissions on a real LiveKit are proven end to end (e2e/live).

const webListen = "127.0.0.1:29331"

// newLiveTestService is the real service with live mode set up; the SFU
// it names is never called.
func newLiveTestService(t *testing.T) *Service {
	return newLiveTestServiceOn(t, "ws://127.0.0.1:1", "walkie", strings.Repeat("s", 40))
}

// newLiveTestServiceOn is the real service with live mode on the LiveKit
// server at url, whose key and secret it is given.
func newLiveTestServiceOn(t *testing.T, url, key, secret string) *Service {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "livekit-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := testconfig.Parse(testconfig.Values{HomeserverURL: "http://127.0.0.1:1", Domain: "example.org", Port: 29330,
		ASToken: "AS6TESTTOKEN6NOT6A6SECRET", HSToken: testHSToken, DatabaseURL: pgtest.NewDatabase(t),
		Permissions: map[string]string{"example.org": "user"}, WebListen: webListen,
		LiveKit: &testconfig.LiveKit{URL: url, APIKey: key, APISecretFile: secretFile}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(context.Background(), cfg, zerolog.Nop(), prometheus.NewRegistry(), Build{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	if svc.live == nil || svc.sender.Media == nil || svc.verifier == nil {
		t.Fatal("live mode is not wired: no token service, permission sender or OpenID verifier")
	}
	if svc.live.decider != svc.decider {
		t.Fatal("live mode decides webhooks and reconciliations with another decider than the service's")
	}
	return svc
}

// seedRoom makes a managed room with alice and a permit for her device,
// in live mode when live; alice asks for the floor with that device (one
// device holds one room's floor at a time).
func seedRoom(t *testing.T, svc *Service, room, device string, live bool) floor.FloorState {
	t.Helper()
	levels := floor.PowerLevels{Users: map[string]int{bot: 100, mod: 50}, StateDefault: 50, Redact: 50,
		Events: map[string]int{floor.TypePermit: 0, floor.TypeBroadcastInfo: 0, floor.TypeFloor: 100}}
	snap := floor.Snapshot{Power: &levels, Members: []floor.MemberChange{
		{UserID: bot, Membership: "join"}, {UserID: mod, Membership: "join"}, {UserID: alice, Membership: "join"}},
		Permits: []floor.PermitChange{{Sender: alice, StateKey: "_" + alice + "_" + device, DeviceID: device, Send: true, Receive: true}}}
	join, _ := json.Marshal(map[string]any{"type": "m.room.member", "sender": bot, "state_key": bot, "event_id": "$join-" + room,
		"room_id": room, "origin_server_ts": 1, "content": map[string]any{"membership": "join"}})
	if _, err := svc.decider.Transaction(context.Background(), "txn-"+room, []json.RawMessage{join}); err != nil {
		t.Fatal(err)
	}
	if r, _, err := svc.store.Room(context.Background(), room); err == nil {
		snap.AsOf = r.StateVersion // the snapshot is as new as the bot's join
	}
	if live {
		snap.Config = &floor.ConfigChange{EventID: "$config", Sender: mod, Values: map[string]any{"mode": floor.ModeLive}}
	}
	out, _, err := svc.decider.Decide(context.Background(), room, snap,
		floor.TalkRequest{EventID: "$req", Sender: alice, Action: floor.ActionRequest, DeviceID: device})
	if err != nil {
		t.Fatal(err)
	}
	if out.Floor == nil || out.Floor.Holder == nil {
		t.Fatalf("seed: alice does not hold the floor: %+v, log %+v", out.Floor, out.Log)
	}
	return *out.Floor
}

func TestLiveRoomsNameTheTokenService(t *testing.T) {
	svc := newLiveTestService(t)
	fs := seedRoom(t, svc, "!live:example.org", "A", true)
	if want := "http://" + webListen + "/_walkie/v1/livekit"; fs.Mode != floor.ModeLive || fs.LiveKitServiceURL != want {
		t.Fatalf("floor state %+v, want mode live and the service at %s", fs, want)
	}
	if fs = seedRoom(t, svc, "!quiet:example.org", "B", false); fs.Mode != "" || fs.LiveKitServiceURL != "" {
		t.Fatalf("floor state of a broadcast room %+v names live mode", fs)
	}
}

func TestTokenServiceAccess(t *testing.T) {
	svc := newLiveTestService(t)
	ctx := context.Background()
	seedRoom(t, svc, "!live:example.org", "A", true)
	seedRoom(t, svc, "!quiet:example.org", "B", false)
	for _, c := range []struct {
		room, user string
		want       error
	}{
		{"!live:example.org", alice, nil},
		{"!live:example.org", "@stranger:example.org", rtcauth.ErrNotJoined},
		{"!quiet:example.org", alice, rtcauth.ErrNotLive},
		{"!unknown:example.org", alice, rtcauth.ErrNotJoined},
	} {
		if err := svc.live.CheckLive(ctx, c.room, c.user); !errors.Is(err, c.want) {
			t.Errorf("CheckLive(%s, %s) = %v, want %v", c.room, c.user, err, c.want)
		}
	}
	// Only the room a token was handed out for is known by its LiveKit name.
	if room, ok, err := svc.store.LiveKitRoomOf(ctx, livekit.RoomName("!live:example.org")); err != nil || !ok || room != "!live:example.org" {
		t.Fatalf("LiveKitRoomOf = %q, %v, %v; want the live room", room, ok, err)
	}
	if _, ok, err := svc.store.LiveKitRoomOf(ctx, livekit.RoomName("!quiet:example.org")); err != nil || ok {
		t.Fatalf("the broadcast room is known by its LiveKit name (%v, %v)", ok, err)
	}
}

// Webhooks become decisions: the holder's microphone starts its talk, its
// leaving frees the floor; another track, another room and a participant
// Walkie minted no token for change nothing.
func TestWebhooksAreDecided(t *testing.T) {
	svc := newLiveTestService(t)
	ctx := context.Background()
	const room = "!live:example.org"
	seedRoom(t, svc, room, "A", true)
	if err := svc.live.CheckLive(ctx, room, alice); err != nil {
		t.Fatal(err)
	}
	name := livekit.RoomName(room)
	aliceA := livekit.Participant{Identity: alice + ":A", UserID: alice, DeviceID: "A"}
	holder := func() *floor.Holder {
		r, _, err := svc.store.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		return r.Holder
	}
	for _, ignored := range []livekit.Event{
		{ID: "camera", Kind: livekit.TrackPublished, Room: name, Participant: aliceA},
		{ID: "elsewhere", Kind: livekit.TrackPublished, Room: livekit.RoomName("!other:example.org"), Participant: aliceA, Microphone: true},
		{ID: "foreign", Kind: livekit.ParticipantLeft, Room: name, Participant: livekit.Participant{Identity: alice + ":A"}},
	} {
		if err := svc.live.webhook(ctx, ignored); err != nil {
			t.Fatalf("%s: %v", ignored.ID, err)
		}
		if h := holder(); h == nil || h.Publishing {
			t.Fatalf("after the %s webhook the holder is %+v, want alice granted and not publishing", ignored.ID, h)
		}
	}
	if err := svc.live.webhook(ctx, livekit.Event{ID: "mic", Kind: livekit.TrackPublished, Room: name, Participant: aliceA, Microphone: true}); err != nil {
		t.Fatal(err)
	}
	if h := holder(); h == nil || !h.Publishing || h.Phase != floor.PhaseTalking {
		t.Fatalf("after her microphone was published the holder is %+v, want alice talking", h)
	}
	if err := svc.live.webhook(ctx, livekit.Event{ID: "gone", Kind: livekit.ParticipantLeft, Room: name, Participant: aliceA}); err != nil {
		t.Fatal(err)
	}
	if h := holder(); h != nil {
		t.Fatalf("after she left the SFU the holder is %+v, want none", h)
	}
}

// The reconciler ends the turn of a holder that was talking and is no
// longer on the SFU (its participant_left webhook was lost): the next
// pass finds it gone, on a real LiveKit where the room has nobody.
func TestReconcilerEndsTheTurnOfAHolderGoneFromTheSFU(t *testing.T) {
	ctx := t.Context()
	lk, err := lktest.Start(ctx, lktest.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lk.Stop)
	svc := newLiveTestServiceOn(t, lk.URL(), lk.APIKey(), lk.APISecret())
	const room = "!live:example.org"
	seedRoom(t, svc, room, "A", true)
	if err := svc.live.CheckLive(ctx, room, alice); err != nil {
		t.Fatal(err)
	}
	aliceA := livekit.Participant{Identity: alice + ":A", UserID: alice, DeviceID: "A"}
	if err := svc.live.webhook(ctx, livekit.Event{ID: "mic", Kind: livekit.TrackPublished, Room: livekit.RoomName(room), Participant: aliceA, Microphone: true}); err != nil {
		t.Fatal(err)
	}
	if r, _, err := svc.store.Room(ctx, room); err != nil || r.Holder == nil || !r.Holder.Publishing {
		t.Fatalf("before the reconciler: %v, %v; want alice talking", r, err)
	}
	rooms, err := svc.store.LiveKitRooms(ctx)
	if err != nil || len(rooms) != 1 || rooms[0].RoomID != room {
		t.Fatalf("live rooms to reconcile %+v, %v; want %s", rooms, err, room)
	}
	if err := svc.live.reconcile(ctx, rooms[0]); err != nil {
		t.Fatal(err)
	}
	r, _, err := svc.store.Room(ctx, room)
	if err != nil || r.Holder != nil {
		t.Fatalf("after the reconciler the holder is %+v (%v), want none", r.Holder, err)
	}
}
