package floor

import "fmt"

// onMemberChange: leaving, being kicked or banned drops the user's
// permits, queue entries and floor at once. Nobody is answered: the user
// can no longer read the room.
func (d *decider) onMemberChange(in MemberChange) {
	if in.UserID == "" {
		return
	}
	d.applyMembership(in)
	if in.UserID == d.r.Controller && (in.Membership == "leave" || in.Membership == "ban") {
		d.controllerLeft(in)
		return
	}
	d.revalidate()
}

// controllerLeft: the controller left, or was kicked or banned. It can
// enforce nothing here any more, and busy_elsewhere counts only joined
// rooms, so the floor it leaves behind must hold nobody: otherwise the
// holder could take the floor in another room meanwhile and hold two once
// the controller is back. Holder and queue are dropped without a word
// (nothing can be sent here now); the floor state goes up afresh after the
// next join (Published is cleared).
func (d *decider) controllerLeft(in MemberChange) {
	r := d.r
	d.dropHolder(ReasonControllerLeft, StatusRevoked, false)
	for _, e := range r.Queue {
		d.dropQueued(e, StatusCancelled, ReasonControllerLeft, false)
	}
	r.Queue = nil
	r.Published = false
	d.silent = true
}

func (d *decider) applyMembership(in MemberChange) {
	r := d.r
	r.setMembership(in.UserID, in.Membership)
	if in.Membership != "leave" && in.Membership != "ban" {
		return
	}
	for key, p := range r.Permits {
		if p.UserID == in.UserID {
			r.deletePermit(key)
		}
	}
	d.note(LogLeft, Device{UserID: in.UserID}, in.Membership, in.EventID)
}

// onSnapshot replaces what the engine knew with the room's whole state
// (on join and at startup) and re-validates the floor against it. It
// yields at most one floor state (finish) and at most one notice: the
// power notice in an unmanaged room, the config notice in a managed one.
func (d *decider) onSnapshot(in Snapshot) {
	r := d.r
	if in.AsOf != r.StateVersion {
		d.note(LogSnapshotStale, Device{}, fmt.Sprintf("state version %d, snapshot of %d", r.StateVersion, in.AsOf), "")
		return
	}
	creators := r.Power.Creators
	r.Power = in.PowerLevels()
	if in.Create == nil {
		r.Power.Creators = creators // the create event never changes
	}
	r.Members = map[string]string{}
	for _, m := range in.Members {
		if m.UserID != "" {
			r.Members[m.UserID] = m.Membership
		}
	}
	known := r.Permits
	r.Permits = map[string]Permit{}
	r.Audience = nil // counted afresh from what the snapshot holds
	for _, p := range in.Permits {
		d.applyPermit(p, false)
		if real, ok := known[p.StateKey]; ok && forged(p) {
			// Room state holds a forgery over this device's permit (any
			// member at the permit level can write one): the permit we
			// had from the user stays.
			r.Permits[p.StateKey] = real
		}
	}
	d.reloadFloorState(in.Floor)
	d.checkManagement()
	config := ConfigChange{}
	if in.Config != nil {
		config = *in.Config
	}
	d.applyConfig(config)
	d.enforceQueueLimit()
	d.revalidate()
	d.record(LogSnapshot, Device{}, "", "")
}

// onAdminRelease frees the floor on an operator's request, if the turn
// the operator saw is still on; otherwise it changes nothing.
func (d *decider) onAdminRelease(in AdminRelease) {
	r := d.r
	if r.Passive {
		return
	}
	h := r.Holder
	if h == nil && in.Holder == (Device{}) {
		return // the operator saw an idle floor, and it still is
	}
	if h == nil || h.Device != in.Holder || r.Term != in.Term {
		d.note(LogAdminReleaseStale, Device{UserID: in.By},
			fmt.Sprintf("%s (%s) no longer holds term %d", in.Holder.UserID, in.Holder.DeviceID, in.Term), "")
		return
	}
	d.record(LogAdminRelease, Device{UserID: in.By}, "", "")
	d.freeFloor(ReasonAdmin, StatusRevoked, true)
}
