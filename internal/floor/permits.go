package floor

import (
	"fmt"
	"strings"
	"time"
)

// ParsePermitStateKey splits a talk_permit state key `_@user:server_DEVICEID`.
// Server names contain no `_` and localparts no `:`, so the device ID starts
// at the first `_` after the first `:`.
func ParsePermitStateKey(key string) (Device, bool) {
	user, ok := strings.CutPrefix(key, "_")
	if !ok || !strings.HasPrefix(user, "@") {
		return Device{}, false
	}
	colon := strings.IndexByte(user, ':')
	if colon < 2 { // "@" plus at least one localpart character
		return Device{}, false
	}
	sep := strings.IndexByte(user[colon:], '_')
	if sep < 2 { // at least one server-name character
		return Device{}, false
	}
	sep += colon
	dev := Device{UserID: user[:sep], DeviceID: user[sep+1:]}
	if dev.DeviceID == "" {
		return Device{}, false
	}
	return dev, true
}

// ValidPermit returns d's permit and "" when d may send a broadcast under
// it, or the denial reason: not_joined, no_permit, permit_expired or
// listen_only. Forged and mismatched permits never reach r.Permits (see
// onPermitChange), so the sender and device checks happened on the way in.
func (r *Room) ValidPermit(d Device, now time.Time) (Permit, Reason) {
	if r.Members[d.UserID] != "join" {
		return Permit{}, ReasonNotJoined
	}
	p, ok := r.Permits[d.PermitStateKey()]
	switch {
	case !ok || p.Device != d:
		return Permit{}, ReasonNoPermit
	case !p.Receive:
		// MSC4002: only those willing to receive may broadcast.
		return p, ReasonNoPermit
	case expired(p, now):
		return p, ReasonPermitExpired
	case !p.Send:
		return p, ReasonListenOnly
	}
	return p, ""
}

func expired(p Permit, now time.Time) bool {
	return !p.ExpiresAt.IsZero() && !p.ExpiresAt.After(now)
}

// onPermitChange stores the latest permit of a state key. The latest state
// is what counts: a malformed permit replaces (removes) a good one, because
// the device no longer publishes a valid permit.
func (d *decider) onPermitChange(in PermitChange) {
	d.applyPermit(in, true)
	d.revalidate()
}

// applyPermit updates r.Permits from one talk_permit event without
// re-validating the floor (Snapshot applies many, then re-validates once).
// Rejected permits are always logged; accepted ones only when logAccepted,
// so a snapshot does not copy every permit into the floor log again.
func (d *decider) applyPermit(in PermitChange, logAccepted bool) {
	dev, ok := ParsePermitStateKey(in.StateKey)
	if !ok {
		d.note(LogInvalidPermit, Device{UserID: in.Sender}, "bad state key", in.EventID)
		return
	}
	if forged(in) {
		// Someone else's permit cannot speak for this device: ignore it.
		d.note(LogForgedPermit, dev, "sent by "+in.Sender, in.EventID)
		return
	}
	switch {
	case in.Empty:
		d.r.deletePermit(in.StateKey)
		if logAccepted {
			d.record(LogPermitRevoked, dev, "", in.EventID)
		}
	case in.Invalid != "" || in.DeviceID != dev.DeviceID:
		d.r.deletePermit(in.StateKey)
		reason := in.Invalid
		if reason == "" {
			reason = "device_id " + in.DeviceID + " does not match the state key"
		}
		d.note(LogInvalidPermit, dev, reason, in.EventID)
	default:
		if over := d.r.permitLimit(in.StateKey, dev.UserID); over != "" {
			d.note(LogPermitLimit, dev, over, in.EventID)
			return
		}
		d.r.putPermit(in.StateKey, Permit{
			Device: dev, Send: in.Send, Receive: in.Receive,
			ExpiresAt: in.ExpiresAt, EventID: in.EventID,
		})
		if logAccepted {
			d.record(LogPermit, dev, "", in.EventID)
		}
	}
}

// forged: a permit whose sender is not the user its state key names. No
// homeserver protects `_@user`-prefixed state keys, so any member at the
// permit level can write one.
func forged(in PermitChange) bool {
	dev, ok := ParsePermitStateKey(in.StateKey)
	return ok && in.Sender != dev.UserID
}

// permitLimit says why a new permit under key would exceed a cap ("" when
// it fits): one member inventing device IDs must not grow the room's row,
// and every decision's work, without bound. Replacing a permit always fits.
func (r *Room) permitLimit(key, user string) string {
	if _, replaces := r.Permits[key]; replaces {
		return ""
	}
	perUser, perRoom := r.Config.permitCaps()
	if len(r.Permits) >= perRoom {
		return fmt.Sprintf("the room holds %d permits, the most allowed (max_permits_per_room)", perRoom)
	}
	mine := 0
	for _, p := range r.Permits {
		if p.UserID == user {
			mine++
		}
	}
	if mine >= perUser {
		return fmt.Sprintf("the user holds %d permits, the most allowed (max_permits_per_user)", perUser)
	}
	return ""
}

// eligibility is what a device needs to hold the floor at all: a join, a
// valid send permit and the power to send broadcast info. "" when eligible.
func (d *decider) eligibility(dev Device) Reason {
	if _, reason := d.r.ValidPermit(dev, d.now); reason != "" {
		return reason
	}
	if !d.r.Power.canSendBroadcastInfo(dev.UserID) {
		return ReasonInsufficientPower
	}
	return ""
}

// revalidate re-checks the holder and the queue after the facts they were
// admitted on changed (permits, membership, power). Users who are no longer
// joined get no response: they cannot read the room any more.
func (d *decider) revalidate() {
	r := d.r
	if h := r.Holder; h != nil {
		h.Power = r.Power.UserLevel(h.UserID)
		if reason := d.eligibility(h.Device); reason != "" {
			d.dropHolder(holderLossReason(reason), StatusRevoked, reason != ReasonNotJoined)
		}
	}
	kept := r.Queue[:0]
	for _, e := range r.Queue {
		e.Power = r.Power.UserLevel(e.UserID)
		if reason := d.eligibility(e.Device); reason != "" {
			d.dropQueued(e, StatusDenied, reason, reason != ReasonNotJoined)
			continue
		}
		kept = append(kept, e)
	}
	r.Queue = kept
	r.sortQueue()
	d.grantNext()
}

// holderLossReason names why a holder lost the floor when its eligibility lapsed.
func holderLossReason(eligibility Reason) Reason {
	switch eligibility {
	case ReasonNotJoined:
		return ReasonLeft
	case ReasonNoPermit:
		return ReasonPermitGone
	}
	return eligibility // listen_only, permit_expired, insufficient_power
}
