package floor

import "time"

// FloorClaim is one floor-state event as every controller in the room sees
// it alike: sender, event ID and origin_server_ts. A sender's claim to a
// room is its first floor state there.
type FloorClaim struct {
	Sender    string    `json:"sender"`
	EventID   string    `json:"event_id"`
	Timestamp time.Time `json:"ts,omitzero"`
}

// before orders claims by origin_server_ts, then event ID. A claim without
// a time (the codec could not read one) comes after every dated claim: it
// cannot prove it was first.
func (c FloorClaim) before(o FloorClaim) bool {
	switch {
	case c.Timestamp.IsZero() != o.Timestamp.IsZero():
		return o.Timestamp.IsZero()
	case !c.Timestamp.Equal(o.Timestamp):
		return c.Timestamp.Before(o.Timestamp)
	}
	return c.EventID < o.EventID
}

func claimOf(in FloorStateSeen) FloorClaim {
	return FloorClaim{Sender: in.Sender, EventID: in.EventID, Timestamp: in.Timestamp}
}

// The loop breaker: a controller puts its floor state back over someone
// else's at most maxOverwriteAnswers times per overwriteWindow. A peer that
// answers every floor state with its own (an older Walkie, a script) then
// cannot draw the two into an endless exchange.
const (
	maxOverwriteAnswers = 3
	overwriteWindow     = time.Minute
)

// ownership is what the claims say about this controller and the room.
type ownership int

const (
	owned     ownership = iota // nobody else's first floor state came before ours
	yielded                    // another sender's did: it owns the room
	undecided                  // we published, our echo has not come back, a rival is known
)

// ownClaim is this controller's first floor state, once its echo was seen.
func (r *Room) ownClaim() (FloorClaim, bool) {
	if r.FirstPublishedID == "" {
		return FloorClaim{}, false
	}
	return FloorClaim{Sender: r.Controller, EventID: r.FirstPublishedID, Timestamp: r.FirstPublished}, true
}

// ownership compares first floor state with first floor state. Until our
// own echo arrives we cannot know whether we were first, so a controller
// that has published waits for it rather than guessing (a guess made on
// both sides is what let two controllers both stay active).
func (r *Room) ownership() ownership {
	if r.Rival == nil {
		return owned
	}
	own, ok := r.ownClaim()
	switch {
	case ok && r.Rival.before(own):
		return yielded
	case ok:
		return owned
	case r.Published:
		return undecided
	}
	return yielded // the rival published while we never did
}

// noteClaim keeps each side's earliest floor state: ours, and the
// earliest of everyone else's (a rival controller's or an overwrite).
func (r *Room) noteClaim(c FloorClaim) {
	if c.Sender == r.Controller {
		if own, ok := r.ownClaim(); !ok || c.before(own) {
			r.FirstPublished, r.FirstPublishedID = c.Timestamp, c.EventID
		}
		return
	}
	if r.Rival == nil || c.before(*r.Rival) {
		r.Rival = &c
	}
}

// onFloorStateSeen: exactly one controller manages a room, the one whose
// first floor state came first. A later floor state from anyone else is an
// overwrite, answered by publishing ours again. A reload decides on the
// room's latest floor state the same way (reloadFloorState).
func (d *decider) onFloorStateSeen(in FloorStateSeen) {
	if in.Sender == d.r.Controller {
		d.r.Published = true
	}
	d.weighFloorState(in)
	d.setUpRoom() // waits for the room to be settled as ours (setup.go)
}

// weighFloorState records one floor state's claim and settles who owns the
// room: live, and for the latest floor state of a reload.
func (d *decider) weighFloorState(in FloorStateSeen) {
	r := d.r
	pending := r.ownership() == undecided
	r.noteClaim(claimOf(in))
	own := in.Sender == r.Controller
	if r.Passive {
		return // the owner stays the owner
	}
	switch r.ownership() {
	case yielded:
		d.note(LogPassive, Device{UserID: r.Rival.Sender}, "first floor state by "+r.Rival.Sender, in.EventID)
		d.becomePassive()
	case owned:
		switch {
		case !own:
			d.answerOverwrite(claimOf(in))
		case pending:
			// Our echo settled a race in our favour; the rival's floor
			// state, which came meanwhile, may be the room's latest.
			d.answerOverwrite(*r.Rival)
		}
	}
}

// answerOverwrite publishes our floor state again over c, within the loop
// breaker's bound.
func (d *decider) answerOverwrite(c FloorClaim) {
	r := d.r
	if !d.now.Before(r.Overwrites.Start.Add(overwriteWindow)) {
		r.Overwrites = RateWindow{Start: d.now}
	}
	r.Overwrites.Count++
	switch {
	case r.Overwrites.Count <= maxOverwriteAnswers:
		d.record(LogForeignFloorState, Device{UserID: c.Sender}, "", c.EventID)
		d.republish = true
	case r.Overwrites.Count == maxOverwriteAnswers+1:
		d.note(LogOverwriteLimit, Device{UserID: c.Sender}, "floor state overwritten too often; not answering for now", c.EventID)
	}
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

// reloadFloorState decides on a reload's latest floor state (nil when the
// room has none) as on a live one. Our own does not mark the room
// published: after the controller left and came back it is stale.
func (d *decider) reloadFloorState(latest *FloorStateSeen) {
	r := d.r
	if latest != nil {
		d.weighFloorState(*latest)
		return
	}
	// No floor state at all: nobody claims the room (a rival we remember
	// never made it into the room's state). Manage it and publish.
	r.Rival = nil
	r.Passive = false
	d.republish = true
}
