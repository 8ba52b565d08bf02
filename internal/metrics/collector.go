package metrics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/walkie-ptt/walkie/internal/store"
)

// stateCollector reads gauges from the database at scrape time: rooms and
// the outbox are shared by all replicas, so process-local counters would
// be wrong with more than one.
type stateCollector struct {
	store *store.Store
	pool  *pgxpool.Pool

	joined, managed, passive, held, queued, outboxDepth, up *prometheus.Desc
	inboxPending, inboxOldest, permitsValid                 *prometheus.Desc
	poolTotal, poolIdle, poolInUse, poolMax                 *prometheus.Desc
	poolAcquires, poolAcquireWait                           *prometheus.Desc
}

// RegisterState registers the scrape-time gauges for st on reg.
func RegisterState(reg prometheus.Registerer, st *store.Store) {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, nil, nil)
	}
	reg.MustRegister(&stateCollector{
		store:           st,
		pool:            st.Pool(),
		joined:          d("rooms_joined", "Rooms the controller is in."),
		managed:         d("rooms_managed", "Joined rooms where the controller has the power to arbitrate."),
		passive:         d("rooms_passive", "Joined rooms another controller arbitrates."),
		held:            d("floors_held", "Rooms whose floor is held right now."),
		queued:          d("queue_devices", "Devices waiting in floor queues, all rooms together."),
		outboxDepth:     d("outbox_depth", "Outbox rows not yet sent to the homeserver."),
		up:              d("database_up", "1 when the last scrape could read the database."),
		permitsValid:    d("permits_valid", "Valid talk permits (a joined member's, not expired) in joined rooms, as of each room's last decision."),
		inboxPending:    d("inbox_pending_events", "Events acknowledged to the homeserver and not yet decided."),
		inboxOldest:     d("inbox_oldest_pending_age_seconds", "How long the oldest undecided event has waited (0 when none)."),
		poolTotal:       d("db_pool_connections", "Open database connections."),
		poolIdle:        d("db_pool_idle_connections", "Idle database connections."),
		poolInUse:       d("db_pool_acquired_connections", "Database connections in use."),
		poolMax:         d("db_pool_max_connections", "Configured maximum of database connections."),
		poolAcquires:    d("db_pool_acquires_total", "Connections acquired from the pool."),
		poolAcquireWait: d("db_pool_acquire_wait_seconds_total", "Time spent waiting for a pool connection."),
	})
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.joined, c.managed, c.passive, c.held, c.queued, c.outboxDepth, c.up,
		c.inboxPending, c.inboxOldest, c.permitsValid,
		c.poolTotal, c.poolIdle, c.poolInUse, c.poolMax, c.poolAcquires, c.poolAcquireWait} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	st := c.pool.Stat()
	gauge(c.poolTotal, float64(st.TotalConns()))
	gauge(c.poolIdle, float64(st.IdleConns()))
	gauge(c.poolInUse, float64(st.AcquiredConns()))
	gauge(c.poolMax, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.poolAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.poolAcquireWait, prometheus.CounterValue, st.AcquireDuration().Seconds())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.Counts(ctx)
	depth, err2 := c.store.OutboxDepth(ctx)
	pending, oldest, err3 := c.store.InboxBacklog(ctx)
	if err != nil || err2 != nil || err3 != nil {
		gauge(c.up, 0)
		return
	}
	gauge(c.up, 1)
	gauge(c.joined, float64(counts.Joined))
	gauge(c.managed, float64(counts.Managed))
	gauge(c.passive, float64(counts.Passive))
	gauge(c.held, float64(counts.Held))
	gauge(c.queued, float64(counts.Queued))
	gauge(c.permitsValid, float64(counts.ValidPermits))
	gauge(c.outboxDepth, float64(depth))
	gauge(c.inboxPending, float64(pending))
	gauge(c.inboxOldest, oldest.Seconds())
}
