package floor

import (
	"fmt"
	"time"
)

// onMemberChange: leaving, being kicked or banned drops the user's
// permits, queue entries and floor at once. Nobody is answered: the user
// can no longer read the room.
func (d *decider) onMemberChange(in MemberChange) {
	if in.UserID == "" {
		return
	}
	d.applyMembership(in)
	d.revalidate()
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

// onFloorStateSeen: the first controller to publish floor state owns the
// room. Floor state from another sender before we published makes this
// controller passive; our own echo confirms we published.
func (d *decider) onFloorStateSeen(in FloorStateSeen) {
	r := d.r
	switch {
	case in.Sender == r.Controller:
		r.Published = true
		if r.FirstPublished.IsZero() && !in.Timestamp.IsZero() {
			r.FirstPublished, r.FirstPublishedID = in.Timestamp, in.EventID
		}
	case r.Passive:
	case !r.Published || publishedBefore(in, r.FirstPublished, r.FirstPublishedID):
		// The other controller was first (we never published, or both did
		// before seeing each other and its floor state is older): it owns
		// the room. Both sides compare the same timestamps, so exactly one
		// yields and they never overwrite each other in turn.
		d.note(LogPassive, Device{UserID: in.Sender}, "floor state published by "+in.Sender, in.EventID)
		d.becomePassive()
	default:
		// We own the room: put our floor state back at once.
		d.record(LogForeignFloorState, Device{UserID: in.Sender}, "", in.EventID)
		d.republish = true
	}
}

// publishedBefore reports whether the foreign floor state predates ours.
// Without our own timestamp (our echo not seen yet) we keep the room: the
// other controller then sees our older event and yields.
func publishedBefore(in FloorStateSeen, ours time.Time, oursID string) bool {
	if ours.IsZero() || in.Timestamp.IsZero() {
		return false
	}
	if in.Timestamp.Equal(ours) {
		return in.EventID < oursID
	}
	return in.Timestamp.Before(ours)
}

// becomePassive hands the room to the other controller. Anything this one
// held is forgotten silently: the other controller's floor is the truth.
func (d *decider) becomePassive() {
	r := d.r
	r.Passive = true
	r.Holder = nil
	r.Queue = nil
	r.Revoked = nil
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
	r.Power = noPowerLevelsEvent()
	if in.Power != nil {
		r.Power = *in.Power
	}
	r.Members = map[string]string{}
	for _, m := range in.Members {
		if m.UserID != "" {
			r.Members[m.UserID] = m.Membership
		}
	}
	r.Permits = map[string]Permit{}
	r.Audience = nil // counted afresh from what the snapshot holds
	for _, p := range in.Permits {
		d.applyPermit(p, false)
	}
	passive := in.FloorSender != "" && in.FloorSender != r.Controller
	switch in.FloorSender {
	case r.Controller:
		r.Published = true
	case "":
		d.republish = true // the room shows no floor state: put ours up
	}
	if passive {
		if !r.Passive {
			d.note(LogPassive, Device{UserID: in.FloorSender}, "floor state published by "+in.FloorSender, "")
		}
		d.becomePassive()
	}
	r.Passive = passive
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
