package floor

import (
	"iter"
	"slices"
	"time"
)

// deadline is one timer, derived from the room rather than stored: the
// store indexes NextDeadline and calls Decide with a Tick when it is due.
type deadline struct {
	at     time.Time
	reason Reason
	// device is the queued device the timer belongs to when inQueue;
	// otherwise the timer is the holder's.
	device  Device
	inQueue bool
}

// deadlines yields every running timer. NextDeadline and fireDue both
// read this one list, so what the store schedules is exactly what a Tick
// fires.
func (r *Room) deadlines() iter.Seq[deadline] {
	return func(yield func(deadline) bool) {
		if h := r.Holder; h != nil {
			for _, dl := range r.holderDeadlines(h) {
				if !dl.at.IsZero() && !yield(dl) {
					return
				}
			}
		}
		for i := range r.Queue {
			e := &r.Queue[i]
			if !yield(deadline{at: r.queueDeadline(*e), reason: ReasonQueueTimeout, device: e.Device, inQueue: true}) {
				return
			}
			if p, ok := r.Permits[e.PermitStateKey()]; ok && !p.ExpiresAt.IsZero() {
				if !yield(deadline{at: p.ExpiresAt, reason: ReasonPermitExpired, device: e.Device, inQueue: true}) {
					return
				}
			}
		}
	}
}

// maxCountedChunkLength is the longest declared chunk_length that
// stretches the inactivity timeout.
const maxCountedChunkLength = time.Minute

// holderDeadlines are the holder's timers; a zero time means not running.
func (r *Room) holderDeadlines(h *Holder) [3]deadline {
	var phase deadline
	switch h.Phase {
	case PhaseGranted:
		phase = deadline{at: h.GrantedAt.Add(r.Config.StartTimeout), reason: ReasonNoMedia}
	case PhaseTalking:
		if r.Config.Live() {
			break // the track is the activity: its end ends the turn (live.go)
		}
		// A broadcast that declares long chunks may be quiet for 1.5 of
		// them, but a declaration counts only up to maxCountedChunkLength:
		// an hour-long chunk_length must not hold a silent floor.
		quiet := max(r.Config.InactivityTimeout, min(h.ChunkLength, maxCountedChunkLength)*3/2)
		phase = deadline{at: h.LastActivity.Add(quiet), reason: ReasonInactive}
	case PhasePaused:
		phase = deadline{at: h.PausedAt.Add(r.Config.PauseGrace), reason: ReasonPaused}
	}
	permit := deadline{at: r.Permits[h.PermitStateKey()].ExpiresAt, reason: ReasonPermitExpired}
	return [3]deadline{phase, {at: r.talkExpiry(h), reason: ReasonMaxTalkTime}, permit}
}

// NextDeadline is the earliest running timer, zero when none runs.
func (r *Room) NextDeadline() time.Time {
	var next time.Time
	for dl := range r.deadlines() {
		if next.IsZero() || dl.at.Before(next) {
			next = dl.at
		}
	}
	return next
}

// due returns the earliest timer at or before now (ties: holder first,
// then queue order).
func (r *Room) due(now time.Time) (deadline, bool) {
	var first deadline
	found := false
	for dl := range r.deadlines() {
		if !dl.at.After(now) && (!found || dl.at.Before(first.at)) {
			first, found = dl, true
		}
	}
	return first, found
}

// fireDue fires every due timer, earliest first. Each firing removes the
// holder or a queue entry, so the loop ends; afterwards NextDeadline is
// after now.
func (d *decider) fireDue() {
	for {
		dl, ok := d.r.due(d.now)
		if !ok {
			return
		}
		d.fire(dl)
	}
}

func (d *decider) fire(dl deadline) {
	if dl.inQueue {
		e, _ := d.r.removeQueued(dl.device)
		status := StatusDenied
		if dl.reason == ReasonQueueTimeout {
			status = StatusCancelled
		}
		d.dropQueued(e, status, dl.reason, true)
		return
	}
	status := StatusRevoked
	if dl.reason == ReasonPaused {
		status = StatusReleased // pause_grace ends a pause like a release
	}
	d.freeFloor(dl.reason, status, true)
}

// prune forgets what no longer matters: broadcasts past their grace and
// rate windows that have ended. Neither needs a deadline of its own.
func (r *Room) prune(now time.Time) {
	r.Revoked = slices.DeleteFunc(r.Revoked, func(rb RevokedBroadcast) bool {
		forget := rb.ForgetAt
		if forget.IsZero() { // remembered before ForgetAt existed
			forget = rb.GraceUntil
		}
		return !now.Before(forget)
	})
	for key, w := range r.Rate {
		if !now.Before(w.Start.Add(r.Config.RateWindow)) {
			delete(r.Rate, key)
		}
	}
}
