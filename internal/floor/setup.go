package floor

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// setUpRoom is Room setup (PROTOCOL.md "Room setup"): it asks the outbox
// to add the levels SetupPowerLevels finds missing. It runs wherever the
// room's power may have changed (a reload, a live power-levels change,
// the create event), so a bot invited first and raised afterwards, the
// usual order, sets the room up the moment it may, not at the next
// restart. It runs once per room: afterwards a level an admin removes
// stays removed, through reloads and re-joins (Room.PowerSetUp is never
// cleared). The outbox reads the latest power levels right before it
// writes them, so what changed since this decision is kept.
//
// It needs the operator's consent (Env.ManagePowerLevels), a room the
// controller manages (it reserves the floor at the controller's level)
// and the power to edit m.room.power_levels. A passive controller leaves
// the room to the one that owns it; one that left sends nothing. And it
// waits until the room is known to be its own: its first floor state's
// echo has come back and no one else's came first. Two controllers
// invited at once would otherwise both edit the power levels before
// either knew of the other, and two concurrent power-levels events can
// fork the room's state (Dendrite 0.13 then reset it, losing both edits).
// The echo decision runs setUpRoom again (onFloorStateSeen).
func (d *decider) setUpRoom() {
	r := d.r
	if r.PowerSetUp || !d.env.ManagePowerLevels || !r.Managed || r.Passive || r.controllerGone() ||
		!r.Power.CanEditPowerLevels(r.Controller) || !r.ownsSettled() {
		return
	}
	r.PowerSetUp = true
	add := slices.Sorted(maps.Keys(SetupPowerLevels(r.Power, r.Controller)))
	if len(add) == 0 {
		d.note(LogPowerSetup, Device{}, "nothing missing", "")
		return
	}
	d.note(LogPowerSetup, Device{}, strings.Join(add, ","), "")
	d.effects = append(d.effects, Effect{Kind: EffectSetupPowerLevels})
}

// setupPending: Walkie will set the room up as soon as the room is known
// to be its own (setUpRoom waits for that), so no notice asks an admin to.
func (d *decider) setupPending() bool {
	r := d.r
	return !r.PowerSetUp && d.env.ManagePowerLevels && r.Managed && !r.Passive && !r.controllerGone() &&
		r.Power.CanEditPowerLevels(r.Controller) && !r.ownsSettled()
}

// ownsSettled: our own first floor state has been seen and no one else's
// came before it.
func (r *Room) ownsSettled() bool {
	_, echoed := r.ownClaim()
	return echoed && r.ownership() == owned
}

// memberMay: a member at users_default may send the state event type.
func (p PowerLevels) memberMay(eventType string) bool {
	return p.UsersDefault >= p.StateLevel(eventType)
}

// membersBlocked: members at users_default can send no talk permit, or
// no broadcast info in any dialect, so they can never hold the floor.
func (p PowerLevels) membersBlocked() bool {
	return !p.memberMay(TypePermit) || !slices.ContainsFunc(BroadcastInfoTypes, p.memberMay)
}

// MemberPowerProblem says, for `!walkie status`, what members at the
// room's users_default cannot send (talk permits, voice broadcast info)
// and what to do about it; "" when they can take part. manage is
// floor.manage_power_levels: while Walkie may still set the room up
// itself, giving it the power to is the fix; otherwise an admin sets the
// levels (and Walkie never re-adds a level removed after its setup).
func MemberPowerProblem(r *Room, manage bool) string {
	pl := r.Power
	var cannot, fix []string
	if !pl.memberMay(TypePermit) {
		cannot = append(cannot, fmt.Sprintf("talk permits (level %d needed)", pl.StateLevel(TypePermit)))
		fix = append(fix, TypePermit)
	}
	if !slices.ContainsFunc(BroadcastInfoTypes, pl.memberMay) {
		lowest := pl.StateLevel(BroadcastInfoTypes[0])
		for _, t := range BroadcastInfoTypes {
			lowest = min(lowest, pl.StateLevel(t))
		}
		cannot = append(cannot, fmt.Sprintf("voice broadcast info (level %d needed)", lowest))
		fix = append(fix, BroadcastInfoTypes...)
	}
	if len(cannot) == 0 {
		return ""
	}
	levels := make([]string, len(fix))
	for i, t := range fix {
		levels[i] = fmt.Sprintf("events[%q]: %d", t, pl.UsersDefault)
	}
	text := fmt.Sprintf("Members (power level %d) cannot send %s, so they cannot take the floor.",
		pl.UsersDefault, strings.Join(cannot, " or "))
	setupWouldFix := !slices.ContainsFunc(fix, func(t string) bool { _, set := pl.Events[t]; return set })
	if manage && !r.PowerSetUp && setupWouldFix && !pl.CanEditPowerLevels(r.Controller) {
		need := max(pl.controllerNeeds(), pl.StateLevel(eventPowerLevels))
		return text + fmt.Sprintf(" Give Walkie power level %d (users[%q] in m.room.power_levels) and it sets the room up; or set these levels yourself: %s.",
			need, r.Controller, strings.Join(levels, ", "))
	}
	return text + " An admin should set these power levels (m.room.power_levels): " + strings.Join(levels, ", ") + "."
}
