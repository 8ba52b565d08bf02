package floor

import "time"

// activityTime is when an input happened as far as the floor's timers go.
// A client's event counts from its origin_server_ts, clamped between the
// room's clock (time never goes back, and the deadlines fired up to it
// stay fired) and the moment the event reached the controller (a
// homeserver clock that runs ahead buys no time). An event without a
// timestamp counts from its arrival, and an input that is no event (a
// Tick, an operator's release) from now. So chunks that arrived in time
// keep the floor even when a backlog or a restart decides them late.
func (r *Room) activityTime(env Env) time.Time {
	at := env.Now
	if !env.Received.IsZero() {
		at = earlier(at, env.Received)
		if !env.Sent.IsZero() {
			at = earlier(at, env.Sent)
		}
	}
	return later(at, r.Clock)
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
