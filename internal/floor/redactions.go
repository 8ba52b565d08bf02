package floor

import "strings"

// onRedaction: a redaction strips the content of an event, so a tracked
// event that is redacted now says nothing, and the engine acts as if its
// sender had withdrawn it:
//   - a redacted permit is revoked, like a permit with empty content (a
//     holder or queued device loses its place as on any revocation);
//   - a redacted `started` of the holder's broadcast ends the turn, like
//     `stopped`;
//   - a redacted floor_config restores the defaults, like an empty one.
//
// A redaction of any other event changes nothing: Walkie's own (it
// redacts chunks and refused starts, and the homeserver echoes them
// back), and those of older permits, chunks, messages or ended broadcasts.
func (d *decider) onRedaction(in Redaction) {
	r := d.r
	if in.Sender == r.Controller {
		return // our own enforcement, echoed back
	}
	if in.Invalid != "" {
		d.note(LogRedactionIgnored, Device{UserID: in.Sender}, in.Invalid+" ("+in.EventID+")", "")
		return
	}
	if in.Redacts == "" {
		return
	}
	if key, p, ok := r.permitByEvent(in.Redacts); ok {
		if d.redactionCounts(in, p.UserID) {
			d.redactPermit(in, key, p)
		}
		return
	}
	if h := r.Holder; h != nil && h.BroadcastEventID == in.Redacts && !r.Passive {
		if d.redactionCounts(in, h.UserID) {
			d.note(LogRedacted, h.Device, "started redacted by "+in.Sender+" ("+in.EventID+")", in.Redacts)
			// As `stopped`, but without the optional summary: it would
			// describe, and reference, what its sender just removed.
			d.freeFloor(ReasonStopped, StatusReleased, false)
		}
		return
	}
	if r.ConfigEventID != "" && r.ConfigEventID == in.Redacts {
		if d.redactionCounts(in, r.ConfigSender) {
			d.redactConfig(in)
		}
	}
}

// redactPermit revokes the permit under key as its empty content would.
// Room state now holds that empty permit, so a Snapshot loaded before
// this redaction was applied would restore what is gone: StateVersion
// moves, as for any state event.
func (d *decider) redactPermit(in Redaction, key string, p Permit) {
	d.r.StateVersion++
	d.note(LogRedacted, p.Device, "permit redacted by "+in.Sender+" ("+in.EventID+")", in.Redacts)
	d.onPermitChange(PermitChange{EventID: in.Redacts, Sender: p.UserID, StateKey: key, Empty: true})
}

// redactConfig restores the defaults as an empty floor_config would; see
// redactPermit for StateVersion.
func (d *decider) redactConfig(in Redaction) {
	d.r.StateVersion++
	d.note(LogRedacted, Device{UserID: d.r.ConfigSender}, "floor_config redacted by "+in.Sender+" ("+in.EventID+")", in.Redacts)
	d.onConfigChange(ConfigChange{EventID: in.Redacts, Sender: d.r.ConfigSender})
}

// redactionCounts: only a redaction a homeserver applies strips the
// event. From room version 3 on, a redaction event passes the auth rules
// whoever sends it; servers apply it only when its sender has the room's
// `redact` level or is on the server of the redacted event's author
// (Matrix spec, "Redactions"). Clients then see the event intact, and so
// must the floor: a remote server cannot end a turn with a redaction
// nobody applies. author is the tracked event's sender.
func (d *decider) redactionCounts(in Redaction, author string) bool {
	p := d.r.Power
	if p.UserLevel(in.Sender) >= p.Redact || sameServer(in.Sender, author) {
		return true
	}
	d.note(LogRedactionIgnored, Device{UserID: in.Sender}, "no power to redact "+author+"'s event ("+in.EventID+")", in.Redacts)
	return false
}

// permitByEvent finds the stored permit published by eventID. Only the
// latest permit of each device is stored, so a redaction of an older,
// replaced permit event finds none and changes nothing.
func (r *Room) permitByEvent(eventID string) (string, Permit, bool) {
	for key, p := range r.Permits {
		if p.EventID == eventID {
			return key, p, true
		}
	}
	return "", Permit{}, false
}

// sameServer reports whether two user IDs (`@local:server`) share a server.
func sameServer(a, b string) bool {
	_, serverA, okA := strings.Cut(a, ":")
	_, serverB, okB := strings.Cut(b, ":")
	return okA && okB && serverA == serverB
}
