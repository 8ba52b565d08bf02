package floor

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// t0 is the clock at which every test room is built; rows run at t0+at.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const (
	controller = "@walkie:example.org"
	testRoomID = "!room:example.org"
)

// The cast: alice and bob are ordinary members, carol is a moderator (50),
// boss is an admin (100) and mallory is joined without a permit.
var (
	alice   = Device{UserID: "@alice:example.org", DeviceID: "ALICE"}
	bob     = Device{UserID: "@bob:example.org", DeviceID: "BOB"}
	carol   = Device{UserID: "@carol:example.org", DeviceID: "CAROL"}
	boss    = Device{UserID: "@boss:example.org", DeviceID: "BOSS"}
	mallory = Device{UserID: "@mallory:example.org", DeviceID: "MALLORY"}
)

func testConfig() Config {
	return Config{
		StartTimeout:      timers.StartTimeout,
		InactivityTimeout: timers.InactivityTimeout,
		MaxTalk:           timers.MaxTalk,
		PauseGrace:        timers.PauseGrace,
		RevokeGrace:       timers.RevokeGrace,
		QueueTimeout:      timers.QueueTimeout,
		Queue:             true,
		MaxQueue:          3,
		PreemptPowerLevel: 50,
		OneRoomPerDevice:  true,
		RateLimit:         5,
		RateWindow:        time.Minute,
	}
}

// managedPower is a room after Room setup: members may send permits and
// broadcast info, only the controller may publish the floor.
func managedPower() PowerLevels {
	levels := map[string]int{TypeFloor: 100, TypeResponse: 100, TypePermit: 0, TypeFloorConfig: 50}
	for _, t := range BroadcastInfoTypes {
		levels[t] = 0
	}
	return PowerLevels{
		Users:        map[string]int{controller: 100, carol.UserID: 50, boss.UserID: 100},
		Events:       levels,
		StateDefault: 50,
		Redact:       50,
	}
}

// spec adjusts a test room.
type spec func(*Room)

// floorBy is a floor-state event of sender at t0+at.
func floorBy(sender string, at time.Duration) FloorStateSeen {
	return FloorStateSeen{EventID: fmt.Sprintf("$floor-%s-%d", sender, at/time.Second), Sender: sender, Timestamp: t0.Add(at)}
}

// ourFirstFloor is the test room's first floor state: its claim to the room.
var ourFirstFloor = floorBy(controller, -time.Hour)

// newTestRoom is a managed, published room at term 7 in which everybody
// is joined and all but mallory hold a send+receive permit.
func newTestRoom(specs ...spec) *Room {
	r := NewRoom(testRoomID, controller, testConfig())
	r.Power = managedPower()
	r.Managed, r.Published, r.Term = true, true, 7
	r.FirstPublished, r.FirstPublishedID = ourFirstFloor.Timestamp, ourFirstFloor.EventID
	for _, d := range []Device{alice, bob, carol, boss, mallory} {
		r.Members[d.UserID] = "join"
	}
	for _, d := range []Device{alice, bob, carol, boss} {
		r.Permits[d.PermitStateKey()] = Permit{Device: d, Send: true, Receive: true, EventID: "$permit-" + d.DeviceID}
	}
	for _, s := range specs {
		s(r)
	}
	return r
}

// holding makes dev the holder since t0; past the granted phase it talks
// on broadcast $bc-<DEVICE>.
func holding(dev Device, phase Phase) spec {
	return func(r *Room) {
		h := &Holder{
			Device: dev, Phase: phase, GrantedAt: t0, LastActivity: t0,
			Power: r.Power.UserLevel(dev.UserID), RequestEventID: "$req-" + dev.DeviceID,
		}
		if phase != PhaseGranted {
			h.BroadcastEventID, h.StartedAt = "$bc-"+dev.DeviceID, t0
		}
		if phase == PhasePaused {
			h.PausedAt = t0
		}
		r.Holder = h
	}
}

// queued queues devs in this order of arrival, shortly before t0.
func queued(devs ...Device) spec {
	return func(r *Room) {
		for i, d := range devs {
			r.Queue = append(r.Queue, QueueEntry{
				Device: d, Power: r.Power.UserLevel(d.UserID),
				EnqueuedAt:     t0.Add(-time.Duration(len(devs)-i) * time.Second),
				RequestEventID: "$q-" + d.DeviceID,
			})
		}
		r.sortQueue()
	}
}

// permit replaces dev's permit.
func permit(dev Device, send, receive bool, expires time.Time) spec {
	return func(r *Room) {
		r.Permits[dev.PermitStateKey()] = Permit{Device: dev, Send: send, Receive: receive, ExpiresAt: expires}
	}
}

// with is any other adjustment.
func with(f func(*Room)) spec { return f }

// live puts the room in live mode.
func live(r *Room) {
	r.Config.Mode = ModeLive
	r.Defaults.Mode = ModeLive
}

// publishing marks the live holder's track as published.
func publishing(r *Room) {
	r.Holder.Publishing, r.Holder.Phase = true, PhaseTalking
}

func unmanaged(r *Room) {
	r.Managed = false
	r.Power.Users[controller] = 0
}

// render writes an effect compactly so rows can list them exactly:
// "resp ALICE denied no_permit re $ev", "resp BOB queued floor_taken #1 re $ev",
// "resp ALICE granted via c1" (an answer for the floor channel),
// "resp BOB granted via c-BOB later" (a later answer for it, Response.Later),
// "redact $ev", "notice", "floor", "setup".
func render(e Effect) string {
	switch e.Kind {
	case EffectResponse:
		r := e.Response
		s := "resp "
		if r.Device != nil && r.Device.DeviceID != "" {
			s += r.Device.DeviceID + " "
		}
		s += string(r.Status)
		if r.Reason != "" {
			s += " " + string(r.Reason)
		}
		if r.Position > 0 {
			s += fmt.Sprintf(" #%d", r.Position)
		}
		switch {
		case r.Later:
			return s + " via " + r.Channel + " later"
		case r.Channel != "":
			return s + " via " + r.Channel
		}
		return s + " re " + r.InReplyTo
	case EffectRedact:
		return "redact " + e.EventID
	case EffectNotice:
		return "notice"
	case EffectFloorState:
		return "floor"
	case EffectSetupPowerLevels:
		return "setup"
	case EffectMediaPermission:
		if e.Allow {
			return "allow " + e.Device.DeviceID
		}
		return "deny " + e.Device.DeviceID
	}
	return "unknown " + string(e.Kind)
}

func renderAll(effects []Effect) []string {
	out := []string{}
	for _, e := range effects {
		out = append(out, render(e))
	}
	return out
}

func actions(log []LogEntry) []string {
	out := []string{}
	for _, l := range log {
		out = append(out, string(l.Action))
	}
	return out
}

func queueDevices(r *Room) []Device {
	out := []Device{}
	for _, e := range r.Queue {
		out = append(out, e.Device)
	}
	return out
}

// effectOf returns the first effect of kind, failing the test when none.
func effectOf(t *testing.T, d Decision, kind EffectKind) Effect {
	t.Helper()
	i := slices.IndexFunc(d.Effects, func(e Effect) bool { return e.Kind == kind })
	if i < 0 {
		t.Fatalf("no %s effect in %v", kind, renderAll(d.Effects))
	}
	return d.Effects[i]
}
