// Package metrics defines every Prometheus metric Walkie exports. They are
// registered on an injected Registerer (never the global one), named in base
// units with the walkie_ prefix, and carry no user or room labels: room
// counts are unbounded, and user IDs are personal data.
package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "walkie"

// Metrics holds Walkie's collectors.
type Metrics struct {
	Transactions        *prometheus.CounterVec
	EventsReceived      prometheus.Counter
	EventsRejected      prometheus.Counter
	FloorRequests       *prometheus.CounterVec
	Grants              prometheus.Counter
	Releases            *prometheus.CounterVec
	Revocations         *prometheus.CounterVec
	Denials             *prometheus.CounterVec
	ForgedPermits       prometheus.Counter
	Decisions           prometheus.Counter
	DecisionCommits     prometheus.Counter
	DecisionErrors      prometheus.Counter
	EventsSetAside      prometheus.Counter
	TimerFirings        prometheus.Counter
	DecisionLatency     prometheus.Histogram
	HoldDuration        prometheus.Histogram
	OutboxSends         *prometheus.CounterVec
	OutboxSendDuration  *prometheus.HistogramVec
	OutboxDeliveryDelay prometheus.Histogram
	BuildInfo           *prometheus.GaugeVec
}

// New creates and registers Walkie's metrics on reg.
func New(reg prometheus.Registerer, version, commit string) *Metrics {
	m := &Metrics{
		Transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "transactions_total",
			Help: "Appservice transactions received, by result (stored, replay, rejected, error).",
		}, []string{"result"}),
		EventsReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_received_total",
			Help: "Events received in appservice transactions and stored in the inbox.",
		}),
		EventsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_rejected_total",
			Help: "Malformed events skipped in otherwise valid transactions.",
		}),
		FloorRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_requests_total",
			Help: "Floor requests (explicit and implicit) by result (granted, queued, denied).",
		}, []string{"result"}),
		Grants: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_grants_total",
			Help: "Floor grants, including grants to the next device in the queue.",
		}),
		Releases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_releases_total",
			Help: "Floors released by their holder, by reason (released, stopped, pause_timeout).",
		}, []string{"reason"}),
		Revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_revocations_total",
			Help: "Floors taken away from their holder, by reason.",
		}, []string{"reason"}),
		Denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_denials_total",
			Help: "Denied floor requests, by denial reason.",
		}, []string{"reason"}),
		ForgedPermits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "forged_permits_total",
			Help: "Talk permits ignored because their sender is not the user they name.",
		}),
		Decisions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "decision_transactions_total",
			Help: "Committed room decisions (a room's inputs and up to 256 pending events; several rooms may share one commit).",
		}),
		DecisionCommits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "decision_commits_total",
			Help: "Database commits of decisions; rooms decided together in one batch share one.",
		}),
		DecisionErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "decision_errors_total",
			Help: "Decision transactions that failed and will be retried.",
		}),
		EventsSetAside: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_set_aside_total",
			Help: "Events skipped because their decision could not be stored or panicked (see the floor log, action set_aside).",
		}),
		TimerFirings: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "timer_firings_total",
			Help: "Decisions in which a room deadline fired.",
		}),
		DecisionLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "decision_latency_seconds",
			Help:    "Time from receiving an event in a transaction to committing the decision about it.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		HoldDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "floor_hold_duration_seconds",
			Help:    "How long a device held the floor, from grant to release or revocation.",
			Buckets: []float64{.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300},
		}),
		OutboxSends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "outbox_sends_total",
			Help: "Attempts to send outbox rows to the homeserver, by operation and outcome (sent; retry; unauthorized: a 401 or 403, retried; failed; superseded: a floor state replaced by a newer one in the same batch).",
		}, []string{"operation", "outcome"}),
		OutboxSendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "outbox_send_duration_seconds",
			Help:    "Duration of one homeserver request made from the outbox, by operation.",
			Buckets: []float64{.0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		OutboxDeliveryDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "outbox_delivery_delay_seconds",
			Help:    "Time from a decision committing an outbox row to the row being sent.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60},
		}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1; labels tell the version, commit and Go version.",
		}, []string{"version", "commit", "goversion"}),
	}
	reg.MustRegister(m.Transactions, m.EventsReceived, m.EventsRejected, m.FloorRequests, m.Grants,
		m.Releases, m.Revocations, m.Denials, m.ForgedPermits, m.Decisions, m.DecisionCommits, m.DecisionErrors, m.EventsSetAside,
		m.TimerFirings, m.DecisionLatency, m.HoldDuration, m.OutboxSends, m.OutboxSendDuration,
		m.OutboxDeliveryDelay, m.BuildInfo)
	m.BuildInfo.WithLabelValues(version, commit, runtime.Version()).Set(1)
	return m
}
