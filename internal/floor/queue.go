package floor

import (
	"cmp"
	"slices"
	"time"
)

// enqueue adds dev to the queue and returns its 1-based position.
// channel is the floor channel's name of the request ("" for an event).
func (d *decider) enqueue(dev Device, requestEventID, channel string) int {
	r := d.r
	r.Queue = append(r.Queue, QueueEntry{
		Device:         dev,
		Power:          r.Power.UserLevel(dev.UserID),
		EnqueuedAt:     d.decidedAt, // the wait starts with the answer, like a grant's timers
		RequestEventID: requestEventID,
		Channel:        channel,
	})
	r.sortQueue()
	return r.queuePosition(dev)
}

// sortQueue orders the queue by power level, highest first, then by
// arrival (PROTOCOL.md "Queue order"). The sort is stable, so entries that
// tie on both keep their order.
func (r *Room) sortQueue() {
	slices.SortStableFunc(r.Queue, func(a, b QueueEntry) int {
		if a.Power != b.Power {
			return cmp.Compare(b.Power, a.Power) // no subtraction: CreatorLevel would overflow
		}
		return a.EnqueuedAt.Compare(b.EnqueuedAt)
	})
}

// queuePosition is dev's 1-based place in the queue, 0 when not queued.
func (r *Room) queuePosition(dev Device) int {
	return slices.IndexFunc(r.Queue, func(e QueueEntry) bool { return e.Device == dev }) + 1
}

// queuedDeviceOf returns the device of user that waits in the queue.
func (r *Room) queuedDeviceOf(user string) (Device, bool) {
	i := slices.IndexFunc(r.Queue, func(e QueueEntry) bool { return e.UserID == user })
	if i < 0 {
		return Device{}, false
	}
	return r.Queue[i].Device, true
}

// removeQueued takes dev out of the queue and returns its entry.
func (r *Room) removeQueued(dev Device) (QueueEntry, bool) {
	i := r.queuePosition(dev) - 1
	if i < 0 {
		return QueueEntry{}, false
	}
	e := r.Queue[i]
	r.Queue = slices.Delete(r.Queue, i, i+1)
	return e, true
}

// dropQueued reports an entry already taken out of the queue: one log line
// and, when notify, an answer to the request that queued it (answerLater).
func (d *decider) dropQueued(e QueueEntry, status Status, reason Reason, notify bool) {
	d.record(LogDrop, e.Device, reason, e.RequestEventID)
	if !notify {
		return
	}
	resp := Response{Status: status, Reason: reason}
	if status == StatusDenied {
		resp = denial(reason, "")
	}
	d.answerLater(e.Device, e.RequestEventID, e.Channel, resp)
}

// enforceQueueLimit trims the queue to the current config (queue switched
// off, max_queue lowered by floor_config or config.yaml); the tail of the
// queue (lowest power, latest arrival) is cancelled.
func (d *decider) enforceQueueLimit() {
	r := d.r
	limit := r.Config.MaxQueue
	if !r.Config.Queue {
		limit = 0
	}
	limit = max(limit, 0)
	if len(r.Queue) <= limit {
		return
	}
	dropped := slices.Clone(r.Queue[limit:])
	r.Queue = r.Queue[:limit]
	for _, e := range dropped {
		d.dropQueued(e, StatusCancelled, ReasonQueueFull, true)
	}
}

// queueDeadline is when a queued request gives up (queue_timeout).
func (r *Room) queueDeadline(e QueueEntry) time.Time { return e.EnqueuedAt.Add(r.Config.QueueTimeout) }
