package floor

import (
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

func media(kind MediaEventKind, dev Device) MediaEvent {
	return MediaEvent{Kind: kind, Device: dev, ID: "wh-" + string(kind)}
}

// liveRules pin live mode (live.go): the floor is the publish permission on
// the SFU, and the SFU's reports are the holder's activity.
func liveRules() []rule {
	return []rule{
		{
			name:    "live/a grant allows the holder to publish, ahead of the floor state",
			room:    newTestRoom(with(live)),
			in:      talk(alice, ActionRequest),
			effects: []string{"allow ALICE", "floor", "resp ALICE granted re $r"},
			log:     []string{"grant"},
			holder:  &alice,
			term:    8,
			check: func(t *testing.T, d Decision) {
				if f := effectOf(t, d, EffectFloorState).Floor; f.Mode != ModeLive {
					t.Errorf("floor state mode = %q, want live", f.Mode)
				}
			},
		},
		{
			name:    "live/a broadcast room's grant asks nothing of the SFU",
			room:    newTestRoom(),
			in:      talk(alice, ActionRequest),
			effects: []string{"floor", "resp ALICE granted re $r"},
			log:     []string{"grant"},
			holder:  &alice,
			term:    8,
			check: func(t *testing.T, d Decision) {
				if f := effectOf(t, d, EffectFloorState).Floor; f.Mode != "" {
					t.Errorf("floor state mode = %q, want none", f.Mode)
				}
			},
		},
		{
			name:    "live/a release withdraws the permission before anything else",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:      talk(alice, ActionRelease),
			effects: []string{"deny ALICE", "resp ALICE released re $r", "floor"},
			log:     []string{"release"},
		},
		{
			name:    "live/a release to the next in queue: the old holder's withdrawal, then the new holder's permission",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing), queued(bob)),
			in:      talk(alice, ActionRelease),
			effects: []string{"deny ALICE", "allow BOB", "floor", "resp ALICE released re $r", "resp BOB granted re $q-BOB"},
			log:     []string{"release", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name:    "live/pre-emption withdraws the holder's permission first",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:      preempting(boss),
			effects: []string{"deny ALICE", "allow BOSS", "floor", "resp ALICE revoked preempted re $req-ALICE", "resp BOSS granted re $r"},
			log:     []string{"revoke", "grant"},
			holder:  &boss,
			term:    8,
		},
		{
			name:   "live/the holder's published track makes it talking",
			room:   newTestRoom(with(live), holding(alice, PhaseGranted)),
			in:     media(MediaPublished, alice),
			at:     time.Second,
			log:    []string{"started"},
			holder: &alice,
			check: func(t *testing.T, d Decision) {
				if h := d.Room.Holder; !h.Publishing || h.Phase != PhaseTalking {
					t.Errorf("holder %+v: want publishing and talking", h)
				}
			},
		},
		{
			name:    "live/granted but never publishing: start_timeout revokes no_media",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted)),
			in:      Tick{},
			at:      timers.StartTimeout,
			effects: []string{"deny ALICE", "resp ALICE revoked no_media re $req-ALICE", "floor"},
			log:     []string{"revoke"},
		},
		{
			name:   "live/a publishing holder has no inactivity timeout: the track is the activity",
			room:   newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:     Tick{},
			at:     timers.InactivityTimeout * 2,
			holder: &alice,
		},
		{
			name:    "live/max_talk still ends a live turn",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:      Tick{},
			at:      timers.MaxTalk,
			effects: []string{"deny ALICE", "resp ALICE revoked max_talk_time re $req-ALICE", "floor"},
			log:     []string{"revoke"},
		},
		{
			name:    "live/the holder's track ends: the floor is free at once",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing), queued(bob)),
			in:      media(MediaUnpublished, alice),
			at:      time.Second,
			effects: []string{"deny ALICE", "allow BOB", "floor", "resp ALICE revoked inactive re $req-ALICE", "resp BOB granted re $q-BOB"},
			log:     []string{"revoke", "grant"},
			holder:  &bob,
			term:    8,
		},
		{
			name:    "live/the holder leaves the SFU room: the floor is free at once",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:      media(MediaLeft, alice),
			effects: []string{"deny ALICE", "resp ALICE revoked inactive re $req-ALICE", "floor"},
			log:     []string{"revoke"},
		},
		{
			name:    "live/a holder that rejoins gets its permission again (its new token cannot publish)",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted)),
			in:      media(MediaJoined, alice),
			effects: []string{"allow ALICE"},
			holder:  &alice,
		},
		{
			name:    "live/a publication without the floor is withdrawn again",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:      media(MediaPublished, bob),
			effects: []string{"deny BOB"},
			log:     []string{"media_withdrawn"},
			holder:  &alice,
		},
		{
			name:    "live/anyone else joining is set listen-only (LiveKit may have refreshed a past holder's token)",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:      media(MediaJoined, bob),
			effects: []string{"deny BOB"},
			holder:  &alice,
		},
		{
			name:   "live/someone else leaving changes nothing",
			room:   newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing), queued(bob)),
			in:     media(MediaLeft, bob),
			log:    []string{"ignore_media"},
			holder: &alice,
			queue:  []Device{bob},
		},
		{
			name:   "live/reports in a broadcast room are ignored",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     media(MediaPublished, bob),
			log:    []string{"ignore_media"},
			holder: &alice,
		},
		{
			name:    "live/a `started` in live mode is a request; the turn talks only once the track is published",
			room:    newTestRoom(with(live)),
			in:      BroadcastInfo{EventID: "$bc", Sender: alice.UserID, DeviceID: alice.DeviceID, State: BroadcastStarted},
			effects: []string{"allow ALICE", "floor"},
			log:     []string{"grant"},
			holder:  &alice,
			term:    8,
			check: func(t *testing.T, d Decision) {
				if h := d.Room.Holder; h.Phase != PhaseGranted || h.BroadcastEventID != "$bc" {
					t.Errorf("holder %+v: want granted (start_timeout running) on broadcast $bc", h)
				}
			},
		},
		{
			name:    "live/a floor_config leaving live mode withdraws the holder's permission",
			room:    newTestRoom(with(live), holding(alice, PhaseGranted), with(publishing)),
			in:      ConfigChange{EventID: "$cfg", Sender: carol.UserID, Values: map[string]any{"mode": "broadcast"}},
			effects: []string{"deny ALICE", "floor"},
			log:     []string{"config"},
			holder:  &alice,
		},
		{
			name:    "live/a floor_config entering live mode allows the holder",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			sfu:     true,
			in:      ConfigChange{EventID: "$cfg", Sender: carol.UserID, Values: map[string]any{"mode": "live"}},
			effects: []string{"allow ALICE", "floor"},
			log:     []string{"config"},
			holder:  &alice,
		},
		{
			name:    "live/without an SFU set up, a floor_config asking for live mode is refused with a notice",
			room:    newTestRoom(holding(alice, PhaseTalking)),
			in:      ConfigChange{EventID: "$cfg", Sender: carol.UserID, Values: map[string]any{"mode": "live"}},
			effects: []string{"notice"},
			log:     []string{"config"},
			holder:  &alice,
			check: func(t *testing.T, d Decision) {
				if d.Room.Config.Live() || d.Room.Overrides["mode"] != nil {
					t.Errorf("mode %q, overrides %v: want broadcast, no override", d.Room.Config.Mode, d.Room.Overrides)
				}
				if n := effectOf(t, d, EffectNotice); !strings.Contains(n.Text, "mode (live mode is not set up on this server)") {
					t.Errorf("notice %q", n.Text)
				}
			},
		},
	}
}
