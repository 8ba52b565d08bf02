package metrics

import "github.com/prometheus/client_golang/prometheus"

// Channel holds the floor channel's metrics (registered only where the
// channel is served).
type Channel struct {
	Sockets      prometheus.Gauge
	AuthFailures *prometheus.CounterVec
	Messages     *prometheus.CounterVec
	Pushes       prometheus.Counter
	Resyncs      prometheus.Counter
}

// NewChannel creates and registers the floor channel's metrics on reg.
func NewChannel(reg prometheus.Registerer) *Channel {
	m := &Channel{
		Sockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "floor_channel_sockets",
			Help: "Open floor-channel sockets, authenticated or not.",
		}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_channel_auth_failures_total",
			Help: "Floor-channel sockets closed at authentication, by reason (timeout, bad_message, rejected, unavailable, wrong_user, too_many_sockets).",
		}, []string{"reason"}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_channel_messages_total",
			Help: "Messages received on floor-channel sockets after authentication, by type (subscribe, unsubscribe, request, release, cancel, invalid).",
		}, []string{"type"}),
		Pushes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_channel_pushes_total",
			Help: "Floor states pushed to floor-channel sockets (one per socket).",
		}),
		Resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "floor_channel_resyncs_total",
			Help: "Times every followed room was read again: the database listener reconnected, or changes were dropped.",
		}),
	}
	reg.MustRegister(m.Sockets, m.AuthFailures, m.Messages, m.Pushes, m.Resyncs)
	return m
}
