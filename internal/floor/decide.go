package floor

import (
	"slices"
	"time"
)

// Decision is what Decide returns: the room afterwards, what to send, what to log.
type Decision struct {
	Room *Room
	// Effects go out in this order: the responses, redactions and notices
	// in the order the rules made them, and the floor state (if it
	// changed) first when the decision granted the floor, last otherwise
	// (see finish).
	Effects []Effect
	Log     []LogEntry
}

// Decide applies one input to a room and returns the room afterwards, the
// events to send and the floor-log lines. It takes ownership of r: the room
// is mutated in place and returned as Decision.Room.
//
// An input is decided at its activity time (see activityTime), and every
// decision first catches up with the clock up to that time (due deadlines
// fire, the queue is trimmed to the current limits), so an input sees the
// floor a Tick at its time would have left behind: a chunk that was sent
// in time keeps the turn even when it is decided late. Deadlines the input
// itself made due fire before returning, so afterwards NextDeadline is zero
// or after the input's time; a Tick at env.Now fires the rest.
func Decide(r *Room, in Input, env Env) Decision {
	if r == nil {
		return Decision{}
	}
	r.ensureMaps()
	d := &decider{r: r, env: env, now: r.activityTime(env)}
	r.Clock = d.now
	d.decidedAt = later(env.Now, d.now)
	before := r.FloorState(d.now)
	wasManaged := r.Managed

	r.prune(d.now)
	if !r.Passive {
		d.fireDue()
		d.enforceQueueLimit()
	}
	if r.countsAsState(in) {
		r.StateVersion++
	}
	d.handle(in)
	if !r.Passive {
		// The input may have moved a deadline into the past (a shorter
		// max_talk, say): fire it now, so NextDeadline is always ahead.
		d.fireDue()
	}
	d.finish(before, wasManaged)
	return Decision{Room: r, Effects: d.effects, Log: d.log}
}

// countsAsState: inputs that are Matrix state events from the stream, which
// a Snapshot loaded concurrently may not include. Our own floor-state echo
// is left out (see Room.StateVersion): each of our publications would
// otherwise make a snapshot being loaded stale.
func (r *Room) countsAsState(in Input) bool {
	switch in := in.(type) {
	case FloorStateSeen:
		return in.Sender != r.Controller
	case PermitChange, MemberChange, PowerChange, ConfigChange, RoomCreate:
		return true
	}
	return false
}

// decider carries one decision's context and collects its output.
type decider struct {
	r   *Room
	env Env
	// now is the input's activity time: what clients did (a chunk, a
	// pause, a request) and the deadlines it catches up with count from it.
	now time.Time
	// decidedAt is when the decision is made (env.Now, never before now).
	// What the controller starts itself, a grant or a place in the queue,
	// starts then: no client can act on an answer before it is given.
	decidedAt time.Time
	effects   []Effect
	log       []LogEntry
	// republish forces a floor state even when nothing changed (someone
	// else overwrote ours).
	republish bool
	// silent drops every effect: the controller has just left the room.
	silent bool
}

func (d *decider) handle(in Input) {
	switch in := in.(type) {
	case TalkRequest:
		d.onTalkRequest(in)
	case BroadcastInfo:
		d.onBroadcastInfo(in)
	case Chunk:
		d.onChunk(in)
	case PermitChange:
		d.onPermitChange(in)
	case MemberChange:
		d.onMemberChange(in)
	case PowerChange:
		d.onPowerChange(in)
	case ConfigChange:
		d.onConfigChange(in)
	case FloorStateSeen:
		d.onFloorStateSeen(in)
	case RoomCreate:
		d.onRoomCreate(in)
	case Snapshot:
		d.onSnapshot(in)
	case AdminRelease:
		d.onAdminRelease(in)
	case Redaction:
		d.onRedaction(in)
	case MediaEvent:
		d.onMedia(in)
	case Tick:
		// Nothing beyond the catch-up every decision does.
	}
}

// finish publishes the floor state when it changed (or was never
// published, or management just began) and silences passive rooms, where
// another controller does all the talking, and rooms it has just left.
func (d *decider) finish(before FloorState, wasManaged bool) {
	r := d.r
	if r.Passive || d.silent || r.controllerGone() {
		// Nothing goes to the room; a channel request still gets its
		// answer, which is the socket's.
		d.effects = slices.DeleteFunc(d.effects, func(e Effect) bool { return !e.ToChannel() })
		return
	}
	defer func() { d.effects = mediaFirst(d.effects) }()
	if !r.Managed {
		return
	}
	after := r.FloorState(d.now)
	if !r.Published || !wasManaged || d.republish || !sameFloor(before, after) {
		// A grant goes first: the new holder waits for it to talk; so does
		// the first floor state, the controller's claim on the room (see
		// controllers.go). Every other change goes last, so by the time
		// clients see it, the rest of the decision is in the room too.
		// Homeservers take a room's events one at a time, and a person who
		// presses as soon as the floor looks free would otherwise have
		// their request queue behind the previous turn's talk_response.
		state := Effect{Kind: EffectFloorState, Floor: &after}
		granted := after.Holder != nil && after.Term != before.Term
		if granted || !r.Published || !wasManaged {
			d.effects = slices.Insert(d.effects, 0, state)
		} else {
			d.effects = append(d.effects, state)
		}
		r.Published = true
		r.FloorVersion++
	}
}

// controllerGone: the controller's last known membership here is leave or
// ban. Nothing it sends could arrive, so later decisions (a deadline, the
// tick that ends each decision) stay silent too, until a reload after the
// next join records it joined again.
func (r *Room) controllerGone() bool {
	m := r.Members[r.Controller]
	return m == "leave" || m == "ban"
}

// respond queues a talk_response to dev, referencing the asking event.
func (d *decider) respond(dev Device, inReplyTo string, resp Response) {
	d.respondVia(dev, inReplyTo, "", resp)
}

// respondVia queues a talk_response to dev: for the floor-channel request
// named channel when that is set, otherwise for the room.
func (d *decider) respondVia(dev Device, inReplyTo, channel string, resp Response) {
	resp.InReplyTo, resp.Channel = inReplyTo, channel
	resp.Device = &Addressee{UserID: dev.UserID, DeviceID: dev.DeviceID}
	d.effects = append(d.effects, Effect{Kind: EffectResponse, Response: &resp})
}

// answerLater answers a request decided earlier (queued, or granted):
// in the room, referencing its event, or, for a floor-channel request,
// on the device's sockets (Response.Later), never in the room's timeline.
func (d *decider) answerLater(dev Device, eventID, channel string, resp Response) {
	resp.Later = channel != ""
	d.respondVia(dev, eventID, channel, resp)
}

// deny logs and answers a refused request. detail says what was wrong
// (the error field); "" explains the reason in general terms.
func (d *decider) deny(dev Device, eventID string, reason Reason, detail string) {
	d.denyVia(dev, eventID, "", reason, detail)
}

// denyVia is deny answering on the floor-channel request named channel
// when that is set (see respondVia).
func (d *decider) denyVia(dev Device, eventID, channel string, reason Reason, detail string) {
	d.record(LogDeny, dev, reason, eventID)
	d.respondVia(dev, eventID, channel, denial(reason, detail))
}

// denial is the response refusing a request for reason.
func denial(reason Reason, detail string) Response {
	if detail == "" {
		detail = Explain(reason)
	}
	return Response{Status: StatusDenied, Reason: reason, Error: detail}
}

// redact asks for a redaction; without power it would only fail, so
// unmanaged rooms get none.
func (d *decider) redact(eventID, reason string) {
	if !d.r.Managed || eventID == "" {
		return
	}
	d.effects = append(d.effects, Effect{Kind: EffectRedact, EventID: eventID, Reason: reason})
}

// notice posts an m.notice. Only managed rooms get notices, so an
// unconfigured room is not spammed; the one power notice, which unmanaged
// rooms get too, is checkManagement's.
func (d *decider) notice(text, relatesTo string) {
	if !d.r.Managed {
		return
	}
	d.effects = append(d.effects, Effect{Kind: EffectNotice, Text: text, RelatesTo: relatesTo})
}
