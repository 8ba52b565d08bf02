package floor

import (
	"fmt"
	"time"
)

// onBroadcastInfo handles voice_broadcast_info in any dialect: `started`
// is also a floor request (the walkie-talkie fast path); paused, resumed
// and stopped move the holder's phase.
func (d *decider) onBroadcastInfo(in BroadcastInfo) {
	r := d.r
	if r.Passive {
		return
	}
	if in.State == BroadcastStarted {
		if why := startProblem(in); why != "" {
			d.refuseStart(in, why)
			return
		}
		d.onStarted(in)
		return
	}
	if in.Invalid != "" || in.Sender == "" {
		d.note(LogInvalidBroadcastInfo, Device{UserID: in.Sender, DeviceID: in.DeviceID}, in.Invalid, in.EventID)
		return
	}
	h := r.Holder
	if !d.fromHolder(in) {
		d.note(LogIgnoreBroadcastInfo, Device{UserID: in.Sender, DeviceID: in.DeviceID}, "not the holder's broadcast", in.EventID)
		return
	}
	switch in.State {
	case BroadcastPaused:
		if h.Phase == PhasePaused {
			// pause_grace runs from the first `paused`: sending it again
			// must not keep a silent floor.
			d.note(LogIgnoreBroadcastInfo, h.Device, "already paused", in.EventID)
			return
		}
		h.Phase, h.PausedAt, h.LastActivity = PhasePaused, d.now, d.now
		d.record(LogPaused, h.Device, "", in.EventID)
	case BroadcastResumed:
		h.Phase, h.PausedAt, h.LastActivity = PhaseTalking, time.Time{}, d.now
		d.record(LogResumed, h.Device, "", in.EventID)
	case BroadcastStopped:
		d.summarise(h)
		d.freeFloor(ReasonStopped, StatusReleased, false)
	default:
		d.note(LogInvalidBroadcastInfo, h.Device, "unknown state "+in.State, in.EventID)
	}
}

// fromHolder reports whether a paused/resumed/stopped update is about the
// holder's current broadcast. MSC3888 makes device_id optional after
// `started`, so the reference to the started event is what identifies it.
func (d *decider) fromHolder(in BroadcastInfo) bool {
	h := d.r.Holder
	return h != nil && h.BroadcastEventID != "" && in.Sender == h.UserID &&
		(in.DeviceID == "" || in.DeviceID == h.DeviceID) &&
		(in.StartedEventID == "" || in.StartedEventID == h.BroadcastEventID)
}

// onStarted: a `started` from the holder starts its turn's broadcast; from
// anyone else it is a floor request.
func (d *decider) onStarted(in BroadcastInfo) {
	r := d.r
	dev := Device{UserID: in.Sender, DeviceID: in.DeviceID}
	isHolder := r.Holder != nil && r.Holder.Device == dev
	if !isHolder && !r.Managed {
		// Without power there is nothing to enforce: no redaction.
		d.deny(dev, in.EventID, ReasonRoomNotManaged, "")
		return
	}
	if in.Term > 0 && in.Term < r.Term {
		// Fencing: the client started on a grant the floor has moved past.
		why := fmt.Sprintf("started for term %d, the floor is at term %d", in.Term, r.Term)
		d.record(LogDeny, dev, ReasonStaleTerm, in.EventID)
		d.redact(in.EventID, fmt.Sprintf("Walkie: %s — %s", ReasonStaleTerm, why))
		resp := denial(ReasonStaleTerm, why)
		resp.Term = r.Term
		d.respond(dev, in.EventID, resp)
		return
	}
	if isHolder {
		d.startBroadcast(in)
		d.record(LogStarted, dev, "", in.EventID)
		return
	}
	v := d.admit(dev, in.EventID, "", false)
	if v.status == StatusGranted {
		// One round trip: the started event is the floor's broadcast at
		// once, and the floor state is the only answer.
		d.startBroadcast(in)
		return
	}
	d.redact(in.EventID, d.refusal(v.reason))
	d.rememberBroadcast(in.EventID, dev.UserID, 0)
	d.answer(dev, in.EventID, v)
}

// startProblem says why a `started` cannot be a valid grant ("" when it
// can): the parser found a field mistyped or missing, or it names no
// device.
func startProblem(in BroadcastInfo) string {
	switch {
	case in.Invalid != "":
		return in.Invalid
	case in.Sender == "":
		return "no sender"
	case in.DeviceID == "":
		return "started without device_id"
	}
	return ""
}

// refuseStart answers a `started` that cannot be a valid grant like any
// refused start (bad_request): redacted, answered, and remembered, so its
// chunks are redacted too, encrypted ones included. Logging it only would
// leave its broadcast audible beside the holder's.
func (d *decider) refuseStart(in BroadcastInfo, why string) {
	dev := Device{UserID: in.Sender, DeviceID: in.DeviceID}
	d.note(LogInvalidBroadcastInfo, dev, why, in.EventID)
	if !d.r.Managed {
		d.deny(dev, in.EventID, ReasonRoomNotManaged, "")
		return
	}
	d.redact(in.EventID, fmt.Sprintf("Walkie: %s — %s", ReasonBadRequest, why))
	d.rememberBroadcast(in.EventID, dev.UserID, 0)
	d.deny(dev, in.EventID, ReasonBadRequest, why)
}

// startBroadcast makes in the holder's broadcast. A holder that restarts
// its broadcast gets the old one's late chunks tolerated for the grace.
func (d *decider) startBroadcast(in BroadcastInfo) {
	h := d.r.Holder
	if h.BroadcastEventID != "" && h.BroadcastEventID != in.EventID {
		d.graceBroadcast(h.BroadcastEventID, h.UserID)
	}
	// In live mode the audio is on the SFU: a `started` is the request
	// (or the record), and the turn is talking once the track is there.
	if !d.r.Config.Live() || h.Publishing {
		h.Phase = PhaseTalking
	}
	h.BroadcastEventID = in.EventID
	h.StartedAt, h.LastActivity, h.PausedAt = d.now, d.now, time.Time{}
	h.ChunkLength = in.ChunkLength
}

// refusal is the human reason on a redacted `started`.
func (d *decider) refusal(reason Reason) string {
	if h := d.r.Holder; h != nil && (reason == ReasonFloorTaken || reason == ReasonQueueFull) {
		return fmt.Sprintf("Walkie: %s — %s holds the floor", reason, h.UserID)
	}
	if why := Explain(reason); why != "" {
		return "Walkie: " + string(reason) + " — " + why
	}
	return "Walkie: " + string(reason)
}

// summarise posts the optional "Alice spoke for 12 s" notice for clients
// that do not speak the floor protocol.
func (d *decider) summarise(h *Holder) {
	if !d.r.Config.Summary || h.StartedAt.IsZero() {
		return
	}
	secs := max(1, int(d.now.Sub(h.StartedAt).Round(time.Second)/time.Second))
	d.notice(fmt.Sprintf("%s spoke for %d s", h.UserID, secs), h.BroadcastEventID)
}

// onChunk enforces one speaker: chunks of the holder's broadcast keep the
// turn alive; chunks of a just-ended broadcast are tolerated for
// revoke_grace; everything else is redacted.
func (d *decider) onChunk(in Chunk) {
	r := d.r
	if r.Passive || !r.Managed {
		return
	}
	if h := r.Holder; h != nil && in.BroadcastEventID != "" && in.BroadcastEventID == h.BroadcastEventID && in.Sender == h.UserID {
		h.LastActivity = d.now
		return
	}
	for _, rb := range r.Revoked {
		if rb.EventID == in.BroadcastEventID && d.now.Before(rb.GraceUntil) {
			return
		}
	}
	d.note(LogRedactChunk, Device{UserID: in.Sender}, "not the floor's broadcast", in.EventID)
	d.redact(in.EventID, "Walkie: this voice broadcast does not hold the floor")
}
