package metrics

import (
	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/matrix"
	"github.com/walkie-ptt/walkie/internal/store"
)

// ObserveTransaction counts one appservice transaction.
func (m *Metrics) ObserveTransaction(res matrix.TransactionResult) {
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
func (m *Metrics) ObserveOutcome(out store.Outcome) {
	if out.After == nil {
		return // nothing happened
	}
	m.Decisions.Inc()
	if out.Ticked {
		m.TimerFirings.Inc()
	}
	for _, ev := range out.Events {
		m.DecisionLatency.Observe(out.CommittedAt.Sub(ev.ReceivedAt).Seconds())
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
func (m *Metrics) ObserveSend(res matrix.SendResult) {
	m.OutboxSends.WithLabelValues(res.Kind, res.Outcome).Inc()
	m.OutboxSendDuration.WithLabelValues(res.Kind).Observe(res.Duration.Seconds())
	if res.Outcome == "sent" {
		m.OutboxDeliveryDelay.Observe(res.Latency.Seconds())
	}
}
