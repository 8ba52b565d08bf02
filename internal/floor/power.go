package floor

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// PowerLevels is the part of m.room.power_levels the engine needs, and the
// room's creators where they outrank every level.
type PowerLevels struct {
	Users         map[string]int `json:"users,omitempty"`
	UsersDefault  int            `json:"users_default"`
	Events        map[string]int `json:"events,omitempty"`
	EventsDefault int            `json:"events_default"`
	StateDefault  int            `json:"state_default"`
	Redact        int            `json:"redact"`
	// Creators have CreatorLevel (room version 12: the create event's
	// sender and additional_creators). They come from m.room.create, not
	// from power_levels, so a power-levels change keeps them.
	Creators []string `json:"creators,omitempty"`
}

// CreatorLevel is a creator's level where creators outrank every level: more
// than any power_levels event can give (its levels stay below 2^53).
const CreatorLevel = math.MaxInt

// creators is who outranks every level under this create event: its
// sender and additional_creators from room version 12 on (MSC4289).
// Older rooms' creators hold only what power_levels gives them.
func (c RoomCreate) creators() []string {
	if !creatorsOutrankLevels(c.RoomVersion) || c.Sender == "" {
		return nil
	}
	return append([]string{c.Sender}, c.AdditionalCreators...)
}

// creatorsOutrankLevels: room version 12 and later, and the unstable
// version that previewed it. Unknown versions keep the old rule, which
// never credits anyone with power the homeserver would not grant.
func creatorsOutrankLevels(version string) bool {
	if version == "org.matrix.hydra.11" {
		return true
	}
	n, err := strconv.Atoi(version)
	return err == nil && n >= 12
}

// PowerLevels is the room's power as the snapshot shows it: its
// power_levels (Matrix's defaults without one) and its creators.
func (s Snapshot) PowerLevels() PowerLevels {
	pl := noPowerLevelsEvent()
	if s.Power != nil {
		pl = *s.Power
	}
	if s.Create != nil {
		pl.Creators = s.Create.creators()
	}
	return pl
}

// eventRedaction is the event type whose level (besides `redact`) a
// redaction needs; eventPowerLevels the one room setup edits.
const (
	eventRedaction   = "m.room.redaction"
	eventPowerLevels = "m.room.power_levels"
)

// noPowerLevelsEvent is what Matrix assumes in a room without
// m.room.power_levels: everything at 0 except redacting others' events
// (50). The room creator's implicit 100 is unknown here, so the controller
// counts as an ordinary user.
func noPowerLevelsEvent() PowerLevels { return PowerLevels{Redact: 50} }

// UserLevel is a user's power level.
func (p PowerLevels) UserLevel(user string) int {
	if slices.Contains(p.Creators, user) {
		return CreatorLevel
	}
	if level, ok := p.Users[user]; ok {
		return level
	}
	return p.UsersDefault
}

// StateLevel is the level needed to send a state event of eventType.
func (p PowerLevels) StateLevel(eventType string) int {
	if level, ok := p.Events[eventType]; ok {
		return level
	}
	return p.StateDefault
}

// EventLevel is the level needed to send a timeline event of eventType.
func (p PowerLevels) EventLevel(eventType string) int {
	if level, ok := p.Events[eventType]; ok {
		return level
	}
	return p.EventsDefault
}

// canSendBroadcastInfo: a user who may send voice broadcast info in any
// accepted dialect may hold the floor (clients pick their dialect).
func (p PowerLevels) canSendBroadcastInfo(user string) bool {
	level := p.UserLevel(user)
	return slices.ContainsFunc(BroadcastInfoTypes, func(t string) bool { return level >= p.StateLevel(t) })
}

// isModerator: whoever may change floor_config may also act as the chair.
func (p PowerLevels) isModerator(user string) bool {
	return p.UserLevel(user) >= p.StateLevel(TypeFloorConfig)
}

// controllerNeeds is the level that lets the controller publish floor
// state and redact others' events.
func (p PowerLevels) controllerNeeds() int {
	return max(p.StateLevel(TypeFloor), p.Redact, p.EventLevel(eventRedaction))
}

// CanEditPowerLevels reports whether user may send m.room.power_levels,
// which Room setup needs.
func (p PowerLevels) CanEditPowerLevels(user string) bool {
	return p.UserLevel(user) >= p.StateLevel(eventPowerLevels)
}

// CanManage reports whether controller may send the floor state and redact
// here, the two things enforcement needs.
func CanManage(pl PowerLevels, controller string) bool {
	return pl.UserLevel(controller) >= pl.controllerNeeds()
}

// SetupPowerLevels returns the event levels the controller should add to
// m.room.power_levels, only where missing (PROTOCOL.md "Room setup"):
// permits and every broadcast-info dialect at users_default, so members can
// take part; the floor state and talk responses at the controller's own
// level, so nobody below it can forge the floor or an answer. Empty when
// nothing is missing.
func SetupPowerLevels(pl PowerLevels, controller string) map[string]int {
	return missingEventLevels(pl, pl.UserLevel(controller))
}

func missingEventLevels(pl PowerLevels, controllerLevel int) map[string]int {
	if controllerLevel == CreatorLevel {
		// A creator's level cannot be written into power_levels; the
		// highest level anyone holds there (at least 100) is the most any
		// non-creator can reach.
		controllerLevel = max(100, pl.UsersDefault)
		for _, level := range pl.Users {
			controllerLevel = max(controllerLevel, level)
		}
	}
	want := map[string]int{TypeFloor: controllerLevel, TypeResponse: controllerLevel, TypePermit: pl.UsersDefault}
	for _, t := range BroadcastInfoTypes {
		want[t] = pl.UsersDefault
	}
	for t := range want {
		if _, ok := pl.Events[t]; ok {
			delete(want, t)
		}
	}
	return want
}

// MissingPowerAdvice is the text of the one notice telling an admin which
// power levels to set so the controller can manage the floor and members
// can take part; "" when nothing is missing. With manage
// (floor.manage_power_levels) the controller asks for the level that also
// lets it set the members' levels itself, the level README tells admins to
// give it ("power level 100 so it can set the room up"); without, for the
// level that lets it manage, and the admin sets the rest.
func MissingPowerAdvice(pl PowerLevels, controller string, manage bool) string {
	var lines []string
	level := pl.UserLevel(controller)
	need, why := pl.controllerNeeds(), "to publish the floor state and redact"
	if manage && len(missingEventLevels(pl, max(level, need))) > 0 && pl.StateLevel(eventPowerLevels) > need {
		need, why = pl.StateLevel(eventPowerLevels), "to publish the floor state, redact and set the levels below itself"
	}
	if level < need {
		lines = append(lines, fmt.Sprintf("- users[%q]: %d (%s)", controller, need, why))
		level = need
	}
	events := missingEventLevels(pl, level)
	for _, t := range slices.Sorted(maps.Keys(events)) {
		why := "so members can send it"
		switch t {
		case TypeFloor:
			why = "so only Walkie publishes the floor"
		case TypeResponse:
			why = "so only Walkie answers floor requests"
		}
		lines = append(lines, fmt.Sprintf("- events[%q]: %d (%s)", t, events[t], why))
	}
	if len(lines) == 0 {
		return ""
	}
	head := "Walkie cannot control the floor in this room yet."
	if CanManage(pl, controller) {
		head = "Members cannot take part in push-to-talk in this room yet."
	}
	return head + " An admin should set these power levels (m.room.power_levels):\n" + strings.Join(lines, "\n")
}

// onPowerChange stores new levels, re-decides whether the room is managed
// and re-validates holder and queue (a demoted user loses the floor).
func (d *decider) onPowerChange(in PowerChange) {
	levels := in.Levels
	levels.Creators = d.r.Power.Creators
	d.r.Power = levels
	d.record(LogPower, Device{}, "", in.EventID)
	d.checkManagement()
	d.revalidate()
}

// onRoomCreate learns the room's creators from a live m.room.create (a
// reload brings it in the Snapshot) and re-checks what depends on power.
func (d *decider) onRoomCreate(in RoomCreate) {
	d.r.Power.Creators = in.creators()
	d.record(LogPower, Device{UserID: in.Sender}, "", in.EventID)
	d.checkManagement()
	d.revalidate()
}

// checkManagement recomputes Managed, sets the room up where it may
// (setup.go), and posts the one "I lack power" notice. It is the only
// notice an unmanaged room gets: it needs nothing beyond events_default. A
// managed room gets it too when members cannot send permits or broadcast
// info and Walkie has not set the room up (it may not edit
// m.room.power_levels, or the operator turned manage_power_levels off):
// otherwise every member would only ever hear no_permit or
// insufficient_power. Once set up, a level an admin changed since is the
// admin's choice, and `!walkie status` reports it.
func (d *decider) checkManagement() {
	r := d.r
	r.Managed = CanManage(r.Power, r.Controller)
	if r.Passive {
		return
	}
	d.setUpRoom()
	if r.PowerNoticeSent || r.Managed && (r.PowerSetUp || d.setupPending() || !r.Power.membersBlocked()) {
		return
	}
	if text := MissingPowerAdvice(r.Power, r.Controller, d.env.ManagePowerLevels); text != "" {
		d.effects = append(d.effects, Effect{Kind: EffectNotice, Text: text})
		r.PowerNoticeSent = true
	}
}
