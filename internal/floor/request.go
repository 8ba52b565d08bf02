package floor

import "fmt"

// verdict is the outcome of a floor request, explicit or implicit.
type verdict struct {
	status   Status // StatusGranted, StatusQueued or StatusDenied
	reason   Reason
	detail   string // denied: what was wrong, when Explain(reason) is not enough
	position int    // queued: 1-based
	again    bool   // granted: the device already held the floor
}

func denied(reason Reason) verdict { return verdict{status: StatusDenied, reason: reason} }

// onTalkRequest handles an explicit talk_request.
func (d *decider) onTalkRequest(in TalkRequest) {
	r := d.r
	dev := Device{UserID: in.Sender, DeviceID: in.DeviceID}
	// reply answers the requester: in the room, or on the floor channel
	// the request came from.
	reply := func(resp Response) { d.respondVia(dev, in.EventID, in.Channel, resp) }
	deny := func(reason Reason, detail string) { d.denyVia(dev, in.EventID, in.Channel, reason, detail) }
	switch {
	case r.Passive && in.Channel != "":
		// The controller that manages the room cannot answer a socket
		// of ours.
		deny(ReasonRoomNotManaged, "another controller manages this room")
		return
	case r.Passive:
		return // another controller answers
	}
	switch {
	case in.Invalid != "":
		deny(ReasonBadRequest, in.Invalid)
		return
	case in.DeviceID == "":
		deny(ReasonBadRequest, "missing device_id")
		return
	case !r.Managed:
		deny(ReasonRoomNotManaged, "")
		return
	}
	switch in.Action {
	case ActionRequest:
		reply(d.verdictResponse(d.admit(dev, in.EventID, in.Channel, in.Preempt)))
	case ActionRelease:
		if reason, detail := d.checkTerm(in.Term); reason != "" {
			deny(reason, detail)
			return
		}
		if r.Holder == nil || r.Holder.Device != dev {
			deny(ReasonBadRequest, "release: this device does not hold the floor")
			return
		}
		d.dropHolder(ReasonReleased, StatusReleased, false)
		reply(Response{Status: StatusReleased, Term: r.Term})
		d.grantNext()
	case ActionCancel:
		if _, ok := r.removeQueued(dev); !ok {
			deny(ReasonBadRequest, "cancel: this device is not queued")
			return
		}
		d.record(LogCancel, dev, "", in.EventID)
		reply(Response{Status: StatusCancelled})
	case ActionRevoke:
		d.chairRevoke(in, deny, reply)
	default:
		deny(ReasonBadRequest, fmt.Sprintf("unknown action %q (request, release, cancel or revoke)", in.Action))
	}
}

// checkTerm fences a release or revoke that names the turn it means:
// one for an earlier turn changes nothing (stale_term), and a term the
// floor has not reached is a client bug. A request without a term (0)
// means the current turn.
func (d *decider) checkTerm(term int64) (Reason, string) {
	switch {
	case term == 0 || term == d.r.Term:
		return "", ""
	case term < d.r.Term:
		return ReasonStaleTerm, fmt.Sprintf("term %d has ended; the floor is at term %d", term, d.r.Term)
	}
	return ReasonBadRequest, fmt.Sprintf("term %d is ahead of the floor's term %d", term, d.r.Term)
}

// answer sends the talk_response for an explicit request's verdict.
func (d *decider) answer(dev Device, eventID string, v verdict) {
	d.respond(dev, eventID, d.verdictResponse(v))
}

// verdictResponse is the talk_response announcing a request's verdict.
func (d *decider) verdictResponse(v verdict) Response {
	switch v.status {
	case StatusGranted:
		return d.grantedResponse()
	case StatusQueued:
		return Response{Status: StatusQueued, Reason: v.reason, Position: v.position}
	}
	return denial(v.reason, v.detail)
}

// chairRevoke is the moderator action (BFCP chair): take the floor from
// the holder, or a device out of the queue. The chair is answered with
// status revoked; the target is told too.
func (d *decider) chairRevoke(in TalkRequest, deny func(Reason, string), reply func(Response)) {
	r := d.r
	if !r.Power.isModerator(in.Sender) {
		deny(ReasonInsufficientPower, "revoke is for room moderators (who may send "+TypeFloorConfig+")")
		return
	}
	if reason, detail := d.checkTerm(in.Term); reason != "" {
		deny(reason, detail)
		return
	}
	var target Device
	if in.Target != nil {
		target = *in.Target
	}
	if target == (Device{}) && r.Holder != nil {
		target = r.Holder.Device
	}
	switch {
	case target == Device{}:
		deny(ReasonBadRequest, "revoke: nobody holds the floor and no target was named")
		return
	case r.Holder != nil && r.Holder.Device == target:
		d.freeFloor(ReasonChair, StatusRevoked, true)
	default:
		e, ok := r.removeQueued(target)
		if !ok {
			deny(ReasonBadRequest, "revoke: the target neither holds the floor nor is queued")
			return
		}
		d.dropQueued(e, StatusCancelled, ReasonChair, true)
	}
	reply(Response{Status: StatusRevoked, Reason: ReasonChair, Term: r.Term})
}

// admit runs the checks every floor request passes, explicit or implicit,
// in PROTOCOL.md's order, and carries out the outcome: grant, pre-emption
// or queueing. The requester's own response is the caller's (the implicit
// path answers differently); everything else is done here. channel is
// the floor channel's name of the request ("" for an event).
func (d *decider) admit(dev Device, eventID, channel string, preempt bool) verdict {
	v := d.decideAdmission(dev, eventID, channel, preempt)
	switch {
	case v.status == StatusQueued:
		d.record(LogQueue, dev, v.reason, eventID)
	case v.status == StatusDenied:
		d.record(LogDeny, dev, v.reason, eventID)
	case v.again:
		d.record(LogRegrant, dev, "", eventID)
	}
	return v
}

func (d *decider) decideAdmission(dev Device, eventID, channel string, preempt bool) verdict {
	r := d.r
	if !d.withinRateLimit(dev) {
		return denied(ReasonRateLimited)
	}
	if reason := d.eligibility(dev); reason != "" {
		return denied(reason)
	}
	if d.busyElsewhere(dev) {
		return denied(ReasonBusyElsewhere)
	}
	if r.Holder != nil && r.Holder.Device == dev {
		return verdict{status: StatusGranted, again: true}
	}
	if r.Holder == nil {
		d.grant(dev, eventID, channel)
		return verdict{status: StatusGranted}
	}
	if preempt && d.mayPreempt(dev) {
		d.dropHolder(ReasonPreempted, StatusRevoked, true)
		d.grant(dev, eventID, channel)
		return verdict{status: StatusGranted}
	}
	if pos := r.queuePosition(dev); pos > 0 {
		return verdict{status: StatusQueued, reason: ReasonFloorTaken, position: pos}
	}
	switch {
	case !r.Config.Queue:
		return denied(ReasonFloorTaken)
	case len(r.Queue) >= r.Config.MaxQueue:
		return denied(ReasonQueueFull)
	}
	if other, ok := r.queuedDeviceOf(dev.UserID); ok {
		// One place per user: invented devices must not fill the queue.
		return verdict{status: StatusDenied, reason: ReasonQueueFull,
			detail: fmt.Sprintf("%s already waits on device %s (one place per user)", dev.UserID, other.DeviceID)}
	}
	return verdict{status: StatusQueued, reason: ReasonFloorTaken, position: d.enqueue(dev, eventID, channel)}
}

// mayPreempt (MCPTT pre-emption): at least preempt_power_level and
// strictly above the holder.
func (d *decider) mayPreempt(dev Device) bool {
	level := d.r.Power.UserLevel(dev.UserID)
	return level >= d.r.Config.PreemptPowerLevel && level > d.r.Power.UserLevel(d.r.Holder.UserID)
}

// withinRateLimit counts a request against the device's window and the
// user's, and reports whether both are within rate_limit. Denied requests
// count too, so hammering does not pay off, and so do a user's invented
// devices: the user's window is keyed by the user ID (permit state keys,
// the devices' keys, start with "_", user IDs with "@").
func (d *decider) withinRateLimit(dev Device) bool {
	r := d.r
	if r.Config.RateLimit <= 0 {
		return true
	}
	within := true
	for _, key := range []string{dev.PermitStateKey(), dev.UserID} {
		w := r.Rate[key]
		if !d.now.Before(w.Start.Add(r.Config.RateWindow)) {
			w = RateWindow{Start: d.now}
		}
		w.Count++
		r.Rate[key] = w
		within = within && w.Count <= r.Config.RateLimit
	}
	return within
}
