package floor

// verdict is the outcome of a floor request, explicit or implicit.
type verdict struct {
	status   Status // StatusGranted, StatusQueued or StatusDenied
	reason   Reason
	position int  // queued: 1-based
	again    bool // granted: the device already held the floor
}

func denied(reason Reason) verdict { return verdict{status: StatusDenied, reason: reason} }

// onTalkRequest handles an explicit talk_request.
func (d *decider) onTalkRequest(in TalkRequest) {
	r := d.r
	if r.Passive {
		return // another controller answers
	}
	dev := Device{UserID: in.Sender, DeviceID: in.DeviceID}
	deny := func(reason Reason) {
		d.record(LogDeny, dev, reason, in.EventID)
		d.respond(dev, in.EventID, Response{Status: StatusDenied, Reason: reason})
	}
	switch {
	case in.Invalid != "" || in.DeviceID == "":
		deny(ReasonBadRequest)
		return
	case !r.Managed:
		deny(ReasonRoomNotManaged)
		return
	}
	switch in.Action {
	case ActionRequest:
		d.answer(dev, in.EventID, d.admit(dev, in.EventID, in.Preempt))
	case ActionRelease:
		if r.Holder == nil || r.Holder.Device != dev {
			deny(ReasonBadRequest)
			return
		}
		d.dropHolder(ReasonReleased, StatusReleased, false)
		d.respond(dev, in.EventID, Response{Status: StatusReleased, Term: r.Term})
		d.grantNext()
	case ActionCancel:
		if _, ok := r.removeQueued(dev); !ok {
			deny(ReasonBadRequest)
			return
		}
		d.record(LogCancel, dev, "", in.EventID)
		d.respond(dev, in.EventID, Response{Status: StatusCancelled})
	case ActionRevoke:
		d.chairRevoke(in, dev, deny)
	default:
		deny(ReasonBadRequest)
	}
}

// answer sends the talk_response for an explicit request's verdict.
func (d *decider) answer(dev Device, eventID string, v verdict) {
	switch v.status {
	case StatusGranted:
		d.respond(dev, eventID, d.grantedResponse())
	case StatusQueued:
		d.respond(dev, eventID, Response{Status: StatusQueued, Reason: v.reason, Position: v.position})
	default:
		d.respond(dev, eventID, Response{Status: StatusDenied, Reason: v.reason})
	}
}

// chairRevoke is the moderator action (BFCP chair): take the floor from
// the holder, or a device out of the queue. The chair is answered with
// status revoked; the target is told too.
func (d *decider) chairRevoke(in TalkRequest, chair Device, deny func(Reason)) {
	r := d.r
	if !r.Power.isModerator(in.Sender) {
		deny(ReasonInsufficientPower)
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
		deny(ReasonBadRequest) // nobody holds the floor
		return
	case r.Holder != nil && r.Holder.Device == target:
		d.freeFloor(ReasonChair, StatusRevoked, true)
	default:
		e, ok := r.removeQueued(target)
		if !ok {
			deny(ReasonBadRequest)
			return
		}
		d.dropQueued(e, StatusCancelled, ReasonChair, true)
	}
	d.respond(chair, in.EventID, Response{Status: StatusRevoked, Reason: ReasonChair, Term: r.Term})
}

// admit runs the checks every floor request passes, explicit or implicit,
// in PROTOCOL.md's order, and carries out the outcome: grant, pre-emption
// or queueing. The requester's own response is the caller's (the implicit
// path answers differently); everything else is done here.
func (d *decider) admit(dev Device, eventID string, preempt bool) verdict {
	v := d.decideAdmission(dev, eventID, preempt)
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

func (d *decider) decideAdmission(dev Device, eventID string, preempt bool) verdict {
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
		d.grant(dev, eventID)
		return verdict{status: StatusGranted}
	}
	if preempt && d.mayPreempt(dev) {
		d.dropHolder(ReasonPreempted, StatusRevoked, true)
		d.grant(dev, eventID)
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
	return verdict{status: StatusQueued, reason: ReasonFloorTaken, position: d.enqueue(dev, eventID)}
}

// mayPreempt (MCPTT pre-emption): at least preempt_power_level and
// strictly above the holder.
func (d *decider) mayPreempt(dev Device) bool {
	level := d.r.Power.UserLevel(dev.UserID)
	return level >= d.r.Config.PreemptPowerLevel && level > d.r.Power.UserLevel(d.r.Holder.UserID)
}

// withinRateLimit counts a request against the device's window and reports
// whether it is within rate_limit. Denied requests count too, so hammering
// does not pay off.
func (d *decider) withinRateLimit(dev Device) bool {
	r := d.r
	if r.Config.RateLimit <= 0 {
		return true
	}
	key := dev.PermitStateKey()
	w := r.Rate[key]
	if !d.now.Before(w.Start.Add(r.Config.RateWindow)) {
		w = RateWindow{Start: d.now}
	}
	w.Count++
	r.Rate[key] = w
	return w.Count <= r.Config.RateLimit
}
