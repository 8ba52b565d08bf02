package floor

import (
	"slices"
	"time"
)

// grant gives dev the floor under a new term. The term only ever grows:
// it is the fencing token clients put into their `started` events. The
// turn's timers start when the grant is made (decidedAt), not at the time
// of the request: a late decision must not spend the device's time.
// channel is the floor channel's name of the request ("" for an event).
func (d *decider) grant(dev Device, requestEventID, channel string) *Holder {
	r := d.r
	r.removeQueued(dev)
	r.Term++
	r.Holder = &Holder{
		Device:         dev,
		Phase:          PhaseGranted,
		GrantedAt:      d.decidedAt,
		LastActivity:   d.decidedAt,
		Power:          r.Power.UserLevel(dev.UserID),
		RequestEventID: requestEventID,
		Channel:        channel,
	}
	d.record(LogGrant, dev, "", requestEventID)
	if r.Config.Live() {
		d.allowMedia(dev, true)
	}
	return r.Holder
}

// grantedResponse is the answer to the current holder's request.
func (d *decider) grantedResponse() Response {
	return Response{Status: StatusGranted, Term: d.r.Term, ExpiresTS: d.r.talkExpiry(d.r.Holder).UnixMilli()}
}

// dropHolder takes the floor away without handing it on. status is
// StatusRevoked when the controller (or a chair) ends the turn and
// StatusReleased when the holder ended it; notify says whether the holder
// gets an answer to its request (answerLater).
func (d *decider) dropHolder(reason Reason, status Status, notify bool) {
	r := d.r
	h := r.Holder
	if h == nil {
		return
	}
	r.Holder = nil
	if r.Config.Live() {
		d.allowMedia(h.Device, false)
	}
	d.graceBroadcast(h.BroadcastEventID, h.UserID)
	action := LogRevoke
	if status == StatusReleased {
		action = LogRelease
	}
	d.record(action, h.Device, reason, h.RequestEventID)
	if notify {
		d.answerLater(h.Device, h.RequestEventID, h.Channel, Response{Status: status, Reason: reason, Term: r.Term})
	}
}

// freeFloor ends the holder's turn and hands the floor to the next in queue.
func (d *decider) freeFloor(reason Reason, status Status, notify bool) {
	d.dropHolder(reason, status, notify)
	d.grantNext()
}

// broadcastMemory is how long a broadcast without the floor is remembered
// after its grace. maxRememberedPerUser bounds one user's share of the
// memory, so a user flooding refused starts forgets only their own, and
// maxRemembered the room's, so the room's row stays small.
const (
	broadcastMemory      = 10 * time.Minute
	maxRememberedPerUser = 8
	maxRemembered        = 256
)

// graceBroadcast tolerates chunks of a finished broadcast of user that
// are still in flight for revoke_grace (MCPTT T3); later ones are redacted.
func (d *decider) graceBroadcast(eventID, user string) {
	d.rememberBroadcast(eventID, user, d.r.Config.RevokeGrace)
}

// rememberBroadcast records a broadcast of user that does not hold the
// floor, with grace for its chunks (zero for a refused start: all its
// chunks go). Beyond the bounds the oldest are forgotten: the user's own
// first, then the room's.
func (d *decider) rememberBroadcast(eventID, user string, grace time.Duration) {
	r := d.r
	if eventID == "" {
		return
	}
	r.Revoked = append(r.Revoked, RevokedBroadcast{EventID: eventID, UserID: user,
		GraceUntil: d.now.Add(grace), ForgetAt: d.now.Add(grace + broadcastMemory)})
	if oldest, n := r.rememberedOf(user); n > maxRememberedPerUser {
		r.Revoked = slices.Delete(r.Revoked, oldest, oldest+1)
	}
	if over := len(r.Revoked) - maxRemembered; over > 0 {
		r.Revoked = r.Revoked[over:]
	}
}

// rememberedOf returns the index of user's oldest remembered broadcast and
// how many of them the room remembers.
func (r *Room) rememberedOf(user string) (oldest, n int) {
	oldest = -1
	for i, rb := range r.Revoked {
		if rb.UserID == user {
			if n == 0 {
				oldest = i
			}
			n++
		}
	}
	return oldest, n
}

// grantNext hands an idle floor to the first queued device that may still
// have it; the ones that may not are dropped with the reason.
func (d *decider) grantNext() {
	r := d.r
	for r.Holder == nil && len(r.Queue) > 0 {
		e := r.Queue[0]
		r.Queue = r.Queue[1:]
		if reason := d.eligibility(e.Device); reason != "" {
			d.dropQueued(e, StatusDenied, reason, reason != ReasonNotJoined)
			continue
		}
		if d.busyElsewhere(e.Device) {
			d.dropQueued(e, StatusDenied, ReasonBusyElsewhere, true)
			continue
		}
		d.grant(e.Device, e.RequestEventID, e.Channel)
		d.answerLater(e.Device, e.RequestEventID, e.Channel, d.grantedResponse())
	}
}

// busyElsewhere reports whether the room's one-floor-per-device rule bars dev.
func (d *decider) busyElsewhere(dev Device) bool {
	return d.r.Config.OneRoomPerDevice && d.env.BusyElsewhere != nil && d.env.BusyElsewhere(dev)
}
