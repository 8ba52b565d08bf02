package floor

import (
	"encoding/json"
	"testing"
	"time"
)

// A moderator and a member of another homeserver: a redaction counts when
// its sender has the `redact` level or shares a server with the author.
const (
	remoteModerator = "@mod:remote.example"
	remoteMember    = "@eve:remote.example"
)

// redacting is a redaction of eventID by sender.
func redacting(sender, eventID string) Redaction {
	return Redaction{EventID: "$redaction", Sender: sender, Redacts: eventID}
}

// tracksConfig: the room's overrides came from floor_config $cfg, sent by boss.
func tracksConfig(values map[string]any) spec {
	return func(r *Room) {
		r.Overrides = values
		r.Config, _ = ParseConfigOverrides(values, r.Defaults)
		r.ConfigEventID, r.ConfigSender = "$cfg", boss.UserID
	}
}

func withRemoteModerator(r *Room) { r.Power.Users[remoteModerator] = 50 }

func permitKept(dev Device) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if _, reason := d.Room.ValidPermit(dev, t0); reason != "" {
			t.Errorf("%s's permit: %s", dev.DeviceID, reason)
		}
	}
}

func permitRedacted(dev Device) func(*testing.T, Decision) {
	return func(t *testing.T, d Decision) {
		t.Helper()
		if p, ok := d.Room.Permits[dev.PermitStateKey()]; ok {
			t.Errorf("redacted permit still stored: %+v", p)
		}
		if d.Room.StateVersion != 1 {
			t.Errorf("state version %d: a snapshot loaded before the redaction would restore the permit", d.Room.StateVersion)
		}
	}
}

func redactionRules() []rule {
	return []rule{
		{
			name:    "redaction/a redacted permit is revoked",
			room:    newTestRoom(),
			in:      redacting(alice.UserID, "$permit-ALICE"),
			effects: []string{"floor"}, // listeners 4 -> 3
			log:     []string{"redacted", "permit_revoked"},
			check:   permitRedacted(alice),
		},
		{
			name:    "redaction/a holder whose permit is redacted loses the floor",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      redacting(carol.UserID, "$permit-ALICE"),
			effects: []string{"floor", "resp ALICE revoked permit_revoked re $req-ALICE", "resp BOB granted re $q-BOB"},
			log:     []string{"redacted", "permit_revoked", "revoke", "grant"},
			holder:  &bob,
			term:    8,
			check:   wantGrace("$bc-ALICE", t0.Add(3*time.Second)),
		},
		{
			name:    "redaction/a queued device whose permit is redacted loses its place",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob)),
			in:      redacting(bob.UserID, "$permit-BOB"),
			effects: []string{"resp BOB denied no_permit re $q-BOB", "floor"},
			log:     []string{"redacted", "permit_revoked", "drop"},
			holder:  &alice,
		},
		{
			// Only the latest permit of a device is in force: redacting
			// one it replaced takes nothing away.
			name:   "redaction/of a replaced permit event changes nothing",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     redacting(alice.UserID, "$older-permit-ALICE"),
			holder: &alice,
			check:  permitKept(alice),
		},
		{
			name:    "redaction/the holder's redacted started ends the turn as stopped",
			room:    newTestRoom(holding(alice, PhaseTalking), queued(bob), configured(func(c *Config) { c.Summary = true })),
			in:      redacting(alice.UserID, "$bc-ALICE"),
			at:      2 * time.Second,
			effects: []string{"floor", "resp BOB granted re $q-BOB"}, // no summary of a removed broadcast
			log:     []string{"redacted", "release", "grant"},
			holder:  &bob,
			term:    8,
			check: func(t *testing.T, d Decision) {
				wantGrace("$bc-ALICE", t0.Add(5*time.Second))(t, d)
				if got := d.Log[1].Reason; got != ReasonStopped {
					t.Errorf("turn ended with %q, want %q", got, ReasonStopped)
				}
			},
		},
		{
			name: "redaction/of a broadcast that no longer holds the floor changes nothing",
			room: newTestRoom(holding(bob, PhaseTalking), with(func(r *Room) {
				r.Revoked = []RevokedBroadcast{{EventID: "$bc-ALICE", UserID: alice.UserID, GraceUntil: t0, ForgetAt: t0.Add(time.Hour)}}
			})),
			in:     redacting(alice.UserID, "$bc-ALICE"),
			holder: &bob,
		},
		{
			name:    "redaction/a redacted floor_config restores the defaults",
			room:    newTestRoom(holding(alice, PhaseTalking), tracksConfig(map[string]any{"max_talk_ms": 60000.0})),
			in:      redacting(boss.UserID, "$cfg"),
			effects: []string{"floor"}, // expires_ts back to granted + 30 s
			log:     []string{"redacted", "config"},
			holder:  &alice,
			check: func(t *testing.T, d Decision) {
				if d.Room.Config != testConfig() || d.Room.Overrides != nil {
					t.Errorf("config %+v overrides %v, want the defaults", d.Room.Config, d.Room.Overrides)
				}
				if d.Room.StateVersion != 1 {
					t.Errorf("state version %d, want 1", d.Room.StateVersion)
				}
			},
		},
		{
			name: "redaction/a redacted floor_config's longer queue shrinks back",
			room: newTestRoom(holding(alice, PhaseTalking), queued(carol, bob, boss, mallory),
				tracksConfig(map[string]any{"max_queue": 5.0})),
			in:      redacting(boss.UserID, "$cfg"),
			effects: []string{"resp MALLORY cancelled queue_full re $q-MALLORY", "floor"},
			log:     []string{"redacted", "config", "drop"},
			holder:  &alice,
			queue:   []Device{boss, carol, bob},
		},
		{
			name:   "redaction/of another state event changes nothing",
			room:   newTestRoom(holding(alice, PhaseTalking), tracksConfig(map[string]any{"max_talk_ms": 60000.0})),
			in:     redacting(boss.UserID, "$older-cfg"),
			holder: &alice,
			check: func(t *testing.T, d Decision) {
				if d.Room.Config.MaxTalk != time.Minute {
					t.Errorf("max_talk %v, want the room's 1m", d.Room.Config.MaxTalk)
				}
			},
		},
		{
			// Walkie redacts chunks and refused starts; the homeserver
			// echoes each redaction back. Even one naming a tracked event
			// is enforcement, not a withdrawal.
			name:   "redaction/Walkie's own echoed redaction changes nothing",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     redacting(controller, "$bc-ALICE"),
			holder: &alice,
		},
		{
			name:  "redaction/Walkie's own echoed redaction of a permit changes nothing",
			room:  newTestRoom(),
			in:    redacting(controller, "$permit-ALICE"),
			check: permitKept(alice),
		},
		{
			// Room versions 3+: the event passes the auth rules, but no
			// server applies it; the started event stays visible intact.
			name:   "redaction/by a remote member without power changes nothing",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     redacting(remoteMember, "$bc-ALICE"),
			log:    []string{"redaction_ignored"},
			holder: &alice,
		},
		{
			name:  "redaction/of a permit by a remote member without power changes nothing",
			room:  newTestRoom(),
			in:    redacting(remoteMember, "$permit-ALICE"),
			log:   []string{"redaction_ignored"},
			check: permitKept(alice),
		},
		{
			name:    "redaction/by a remote moderator counts",
			room:    newTestRoom(holding(alice, PhaseTalking), with(withRemoteModerator)),
			in:      redacting(remoteModerator, "$bc-ALICE"),
			effects: []string{"floor"},
			log:     []string{"redacted", "release"},
		},
		{
			// The homeserver applies a redaction by someone on the
			// author's server (its users cannot send one without power).
			name:    "redaction/by another member of the author's server counts",
			room:    newTestRoom(),
			in:      redacting(mallory.UserID, "$permit-ALICE"),
			effects: []string{"floor"},
			log:     []string{"redacted", "permit_revoked"},
			check:   permitRedacted(alice),
		},
		{
			name:   "redaction/naming two different events is ignored",
			room:   newTestRoom(holding(alice, PhaseTalking)),
			in:     Redaction{EventID: "$redaction", Sender: alice.UserID, Redacts: "$bc-ALICE", Invalid: "redacts and content.redacts differ"},
			log:    []string{"redaction_ignored"},
			holder: &alice,
		},
		{
			name:   "redaction/of the holder's started in a passive room changes nothing",
			room:   newTestRoom(holding(alice, PhaseTalking), with(func(r *Room) { r.Passive = true })),
			in:     redacting(alice.UserID, "$bc-ALICE"),
			holder: &alice,
		},
	}
}

// Rooms stored before the engine tracked its floor_config event read back
// with none: a redaction there changes nothing rather than guessing.
func TestARoomStoredBeforeConfigTrackingTracksNoConfig(t *testing.T) {
	var r Room
	stored := `{"room_id":"!r:example.org","controller":"@walkie:example.org","managed":true,"term":3,` +
		`"overrides":{"max_talk_ms":60000},"power":{"users_default":0,"events_default":0,"state_default":50,"redact":50}}`
	if err := json.Unmarshal([]byte(stored), &r); err != nil {
		t.Fatal(err)
	}
	r.ApplyDefaults(testConfig())
	if r.ConfigEventID != "" || r.ConfigSender != "" {
		t.Fatalf("tracked config %q by %q", r.ConfigEventID, r.ConfigSender)
	}
	d := Decide(&r, redacting(boss.UserID, "$cfg"), Env{Now: t0})
	if d.Room.Config.MaxTalk != time.Minute {
		t.Errorf("max_talk %v, want the stored override 1m", d.Room.Config.MaxTalk)
	}
}

// The config event a redaction must name is the one last applied, live
// or by a reload.
func TestTheRedactedConfigIsTheOneLastApplied(t *testing.T) {
	cfg := ConfigChange{EventID: "$cfg2", Sender: boss.UserID, Values: map[string]any{"max_talk_ms": 60000.0}}
	for name, apply := range map[string]func(*Room) *Room{
		"live": func(r *Room) *Room { return Decide(r, cfg, Env{Now: t0}).Room },
		"reload": func(r *Room) *Room {
			snap := sameRoomSnapshot(nil)
			snap.Config = &cfg
			return Decide(r, snap, Env{Now: t0}).Room
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := apply(newTestRoom())
			if r.Config.MaxTalk != time.Minute {
				t.Fatalf("max_talk %v after the config", r.Config.MaxTalk)
			}
			r = Decide(r, redacting(boss.UserID, "$cfg2"), Env{Now: t0.Add(time.Second)}).Room
			if r.Config != testConfig() {
				t.Errorf("config %+v after the redaction, want the defaults", r.Config)
			}
		})
	}
}
