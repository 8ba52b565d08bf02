package metrics

import (
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Transaction describes one appservice transaction the endpoint handled.
type Transaction struct {
	Status   int
	Replay   bool
	Events   int
	Rejected int // events skipped as malformed
}

// Decision describes one committed decision.
type Decision struct {
	Changed bool // false when there was nothing to decide
	Ticked  bool // a deadline fired
	// Received is when each decided event arrived, on the database clock
	// like CommittedAt: the difference is the decision latency.
	Received    []time.Time
	CommittedAt time.Time
	// HolderBefore is the holder before the decision (nil when idle); with
	// CommittedAt it tells how long a released floor was held.
	HolderBefore *floor.Holder
	Log          []floor.LogEntry
}

// Send describes one outbox row's send attempt.
type Send struct {
	Kind     string
	Outcome  string // "sent", "retry", "unauthorized" (a 401 or 403: retried), "failed", "superseded"
	Duration time.Duration
	Latency  time.Duration // from the row's creation (decision) to this attempt's end
}

// ObserveTransaction counts one appservice transaction.
func (m *Metrics) ObserveTransaction(res Transaction) {
	result := "stored"
	switch {
	case res.Status >= 500:
		result = "error"
	case res.Status >= 400:
		result = "rejected"
	case res.Replay:
		result = "replay"
	}
	m.Transactions.WithLabelValues(result).Inc()
	if result == "stored" {
		m.EventsReceived.Add(float64(res.Events))
	}
	m.EventsRejected.Add(float64(res.Rejected))
}

// ObserveOutcome counts what one committed decision transaction decided,
// from its floor-log lines.
func (m *Metrics) ObserveOutcome(out Decision) {
	if !out.Changed {
		return // nothing happened
	}
	m.Decisions.Inc()
	if out.Ticked {
		m.TimerFirings.Inc()
	}
	for _, at := range out.Received {
		m.DecisionLatency.Observe(out.CommittedAt.Sub(at).Seconds())
	}
	holder := out.HolderBefore
	for _, e := range out.Log {
		switch e.Action {
		case floor.LogGrant:
			m.Grants.Inc()
			m.FloorRequests.WithLabelValues("granted").Inc()
		case floor.LogRegrant:
			m.FloorRequests.WithLabelValues("granted").Inc()
		case floor.LogQueue:
			m.FloorRequests.WithLabelValues("queued").Inc()
		case floor.LogDeny:
			m.FloorRequests.WithLabelValues("denied").Inc()
			m.Denials.WithLabelValues(string(e.Reason)).Inc()
		case floor.LogRelease, floor.LogRevoke:
			if e.Action == floor.LogRelease {
				m.Releases.WithLabelValues(string(e.Reason)).Inc()
			} else {
				m.Revocations.WithLabelValues(string(e.Reason)).Inc()
			}
			// Only the holder from before this transaction has a known
			// grant time; a grant and release inside one batch is not timed.
			if holder != nil && holder.Device == e.Device {
				m.HoldDuration.Observe(out.CommittedAt.Sub(holder.GrantedAt).Seconds())
				holder = nil
			}
		case floor.LogForgedPermit:
			m.ForgedPermits.Inc()
		}
	}
}

// ObserveSend counts one outbox send attempt.
func (m *Metrics) ObserveSend(res Send) {
	m.OutboxSends.WithLabelValues(res.Kind, res.Outcome).Inc()
	m.OutboxSendDuration.WithLabelValues(res.Kind).Observe(res.Duration.Seconds())
	if res.Outcome == "sent" {
		m.OutboxDeliveryDelay.Observe(res.Latency.Seconds())
	}
}
