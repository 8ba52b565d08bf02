package floor

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePermitStateKey(t *testing.T) {
	cases := []struct {
		key  string
		want Device
		ok   bool
	}{
		{"_@alice:example.org_ALICE", alice, true},
		{"_@a_b:example.org_DEV_1", Device{"@a_b:example.org", "DEV_1"}, true},
		{"_@alice:example.org:8448_DEV", Device{"@alice:example.org:8448", "DEV"}, true},
		{"@alice:example.org_ALICE", Device{}, false}, // no leading _
		{"_alice:example.org_ALICE", Device{}, false}, // no @
		{"_@alice:example.org_", Device{}, false},     // empty device
		{"_@alice:example.org", Device{}, false},      // no device at all
		{"_@:example.org_DEV", Device{}, false},       // empty localpart
		{"_@alice:_DEV", Device{}, false},             // empty server name
		{"", Device{}, false},
	}
	for _, tc := range cases {
		got, ok := ParsePermitStateKey(tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParsePermitStateKey(%q) = %v, %v; want %v, %v", tc.key, got, ok, tc.want, tc.ok)
		}
		if ok && got.PermitStateKey() != tc.key {
			t.Errorf("%q does not round-trip: %q", tc.key, got.PermitStateKey())
		}
	}
}

func TestPowerLevelLookups(t *testing.T) {
	pl := PowerLevels{
		Users: map[string]int{"@mod:x": 50}, UsersDefault: 5,
		Events: map[string]int{TypeFloor: 100}, EventsDefault: 1, StateDefault: 50,
	}
	if got := pl.UserLevel("@mod:x"); got != 50 {
		t.Errorf("listed user level %d", got)
	}
	if got := pl.UserLevel("@nobody:x"); got != 5 {
		t.Errorf("users_default %d", got)
	}
	if got := pl.StateLevel(TypeFloor); got != 100 {
		t.Errorf("listed state level %d", got)
	}
	if got := pl.StateLevel(TypePermit); got != 50 {
		t.Errorf("state_default %d", got)
	}
	if got := pl.EventLevel(TypeResponse); got != 1 {
		t.Errorf("events_default %d", got)
	}
	pl.Creators = []string{"@mod:x", "@creator:x"}
	if pl.UserLevel("@creator:x") != CreatorLevel || pl.UserLevel("@mod:x") != CreatorLevel {
		t.Error("creators do not outrank every level")
	}
	var zero PowerLevels // nil maps must not panic
	if zero.UserLevel("@a:x") != 0 || zero.StateLevel(TypeFloor) != 0 {
		t.Error("zero power levels are not all 0")
	}
}

func TestCanManage(t *testing.T) {
	pl := managedPower()
	if !CanManage(pl, controller) {
		t.Error("a controller at 100 cannot manage")
	}
	pl.Users[controller] = 50 // floor is at 100
	if CanManage(pl, controller) {
		t.Error("a controller below the floor level can manage")
	}
	pl = managedPower()
	pl.Redact = 101
	if CanManage(pl, controller) {
		t.Error("a controller that cannot redact can manage")
	}
	if CanManage(noPowerLevelsEvent(), controller) {
		t.Error("without power_levels the controller (not the creator) cannot redact others")
	}
}

func TestSetupPowerLevels(t *testing.T) {
	pl := PowerLevels{Users: map[string]int{controller: 90}, UsersDefault: 0, StateDefault: 50,
		Events: map[string]int{TypeBroadcastInfo: 20}}
	got := SetupPowerLevels(pl, controller)
	want := map[string]int{TypeFloor: 90, TypeResponse: 90, TypePermit: 0, TypeBroadcastInfoMSC3888: 0, TypeBroadcastInfoElement: 0}
	if !maps.Equal(got, want) {
		t.Errorf("SetupPowerLevels = %v, want %v", got, want)
	}
	if got := SetupPowerLevels(managedPower(), controller); got == nil || len(got) != 0 {
		t.Errorf("nothing missing should give an empty map, got %#v", got)
	}
}

func TestMissingPowerAdvice(t *testing.T) {
	pl := PowerLevels{Users: map[string]int{controller: 0}, StateDefault: 50, Redact: 50}
	text := MissingPowerAdvice(pl, controller, false)
	for _, want := range []string{
		`users["@walkie:example.org"]: 50`,
		`events["org.matrix.msc4002.floor"]: 50`,
		`events["org.matrix.msc4002.talk_response"]: 50`,
		`events["org.matrix.msc4002.talk_permit"]: 0`,
		`events["m.voice_broadcast_info"]: 0`,
		`events["io.element.voice_broadcast_info"]: 0`,
		`events["org.matrix.msc3888.voice_broadcast_info"]: 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("advice lacks %s:\n%s", want, text)
		}
	}
	if got := MissingPowerAdvice(managedPower(), controller, false); got != "" {
		t.Errorf("nothing missing, yet advice %q", got)
	}
}

func TestParseConfigOverrides(t *testing.T) {
	defaults := testConfig()
	cfg, rejected := ParseConfigOverrides(map[string]any{
		"start_timeout_ms":      1000.0,
		"inactivity_timeout_ms": json.Number("600000"),
		"revoke_grace_ms":       int64(0),
		"queue_timeout_ms":      999.0,      // below range
		"max_talk_ms":           "20000",    // a string
		"preempt_power_level":   float64(7), // fine
		"queue":                 1.0,        // not a bool
		"one_room_per_device":   true,       // not per room
	}, defaults)
	want := defaults
	want.StartTimeout, want.InactivityTimeout, want.RevokeGrace, want.PreemptPowerLevel = time.Second, 10*time.Minute, 0, 7
	if cfg != want {
		t.Errorf("config %+v, want %+v", cfg, want)
	}
	if wantRejected := []string{"max_talk_ms", "one_room_per_device", "queue", "queue_timeout_ms"}; !slices.Equal(rejected, wantRejected) {
		t.Errorf("rejected %v, want %v", rejected, wantRejected)
	}
	if cfg, rejected := ParseConfigOverrides(nil, defaults); cfg != defaults || len(rejected) != 0 {
		t.Errorf("nil values: %+v %v", cfg, rejected)
	}
}

func TestApplyDefaultsKeepsOverrides(t *testing.T) {
	r := newTestRoom(with(func(r *Room) { r.Overrides = map[string]any{"max_talk_ms": 20000.0} }))
	defaults := testConfig()
	defaults.MaxTalk, defaults.QueueTimeout = time.Minute, 2*time.Minute
	r.ApplyDefaults(defaults)
	if r.Config.MaxTalk != 20*time.Second || r.Config.QueueTimeout != 2*time.Minute || r.Defaults != defaults {
		t.Errorf("config %+v defaults %+v", r.Config, r.Defaults)
	}
}

func TestValidPermit(t *testing.T) {
	r := newTestRoom(permit(bob, true, true, t0.Add(time.Minute)))
	if p, reason := r.ValidPermit(alice, t0); reason != "" || p.Device != alice {
		t.Errorf("alice: %+v %q", p, reason)
	}
	if _, reason := r.ValidPermit(bob, t0.Add(time.Minute)); reason != ReasonPermitExpired {
		t.Errorf("a permit is invalid at its expiry instant, got %q", reason)
	}
	if _, reason := r.ValidPermit(Device{UserID: alice.UserID, DeviceID: "PHONE"}, t0); reason != ReasonNoPermit {
		t.Errorf("another device of alice: %q", reason)
	}
}

func TestFloorStateJSON(t *testing.T) {
	idle, err := json.Marshal(newTestRoom().FloorState(t0))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"term":7,"queue":[],"listeners":4}`; string(idle) != want {
		t.Errorf("idle floor %s, want %s", idle, want)
	}
	busy, _ := json.Marshal(newTestRoom(holding(alice, PhaseTalking), queued(bob)).FloorState(t0))
	want := `{"holder":{"user_id":"@alice:example.org","device_id":"ALICE"},"term":7,` +
		`"granted_ts":1777636800000,"expires_ts":1777636830000,"broadcast_event_id":"$bc-ALICE",` +
		`"queue":[{"user_id":"@bob:example.org","device_id":"BOB"}],"listeners":4}`
	if string(busy) != want {
		t.Errorf("busy floor\n got %s\nwant %s", busy, want)
	}
}

// TestDecideNeverPanics feeds every input, including zero values and nil
// targets, to rooms with nil maps and zero times.
func TestDecideNeverPanics(t *testing.T) {
	inputs := []Input{
		nil, TalkRequest{}, TalkRequest{Action: ActionRevoke}, TalkRequest{Sender: "@a:x", DeviceID: "D", Action: ActionRevoke},
		TalkRequest{Sender: "@a:x", DeviceID: "D", Action: ActionRequest}, BroadcastInfo{}, BroadcastInfo{State: BroadcastStarted, Sender: "@a:x", DeviceID: "D"},
		BroadcastInfo{State: BroadcastStopped, Sender: "@a:x"}, Chunk{}, PermitChange{}, PermitChange{StateKey: "_@a:x_D", Sender: "@a:x", DeviceID: "D", Send: true, Receive: true},
		MemberChange{}, MemberChange{UserID: "@a:x", Membership: "leave"}, PowerChange{}, ConfigChange{}, ConfigChange{Values: map[string]any{"queue": nil}},
		FloorStateSeen{}, Snapshot{}, Snapshot{Config: &ConfigChange{}}, Snapshot{Floor: &FloorStateSeen{}, Create: &RoomCreate{}},
		Tick{}, AdminRelease{}, RoomCreate{}, RoomCreate{Sender: "@a:x", RoomVersion: "12"},
	}
	rooms := func() []*Room {
		return []*Room{
			{}, {Managed: true}, {Managed: true, Holder: &Holder{}}, {Managed: true, Queue: []QueueEntry{{}}},
			newTestRoom(holding(alice, PhaseTalking), queued(bob)),
		}
	}
	for _, in := range inputs {
		for _, r := range rooms() {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("Decide(%+v, %#v) panicked: %v", r, in, p)
					}
				}()
				Decide(r, in, Env{})
				r.NextDeadline()
				r.FloorState(time.Time{})
			}()
		}
	}
	if d := Decide(nil, Tick{}, Env{Now: t0}); d.Room != nil || len(d.Effects) != 0 {
		t.Errorf("nil room: %+v", d)
	}
}
