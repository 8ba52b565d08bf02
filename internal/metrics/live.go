package metrics

import "github.com/prometheus/client_golang/prometheus"

// Live holds live mode's metrics: what LiveKit reported, and what the
// reconciler found wrong on the SFU (registered only where live mode is
// set up).
type Live struct {
	Webhooks        *prometheus.CounterVec
	Reconciled      *prometheus.CounterVec
	ReconcileErrors prometheus.Counter
}

// NewLive creates and registers live mode's metrics on reg.
func NewLive(reg prometheus.Registerer) *Live {
	m := &Live{
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sfu_webhooks_total",
			Help: "Verified LiveKit webhooks the floor acts on, by event (participant_joined, participant_left, track_published, track_unpublished) and result (decided, ignored, error).",
		}, []string{"event", "result"}),
		Reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sfu_reconciled_total",
			Help: "Differences between the SFU and the floor that the reconciler corrected, by fix (allow, deny, left, removed).",
		}, []string{"fix"}),
		ReconcileErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "sfu_reconcile_errors_total",
			Help: "Rooms the reconciler could not check or correct (the SFU or the database did not answer).",
		}),
	}
	reg.MustRegister(m.Webhooks, m.Reconciled, m.ReconcileErrors)
	return m
}
