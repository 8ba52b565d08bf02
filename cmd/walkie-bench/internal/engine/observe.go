package engine

import (
	"context"
	"fmt"
	"runtime"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// counters are Walkie's Prometheus counters and histogram sums at one
// moment: "name" sums a metric over its labels, "name{label=value}" is the
// sum over the series with that label value.
type counters map[string]float64

func readCounters(g prometheus.Gatherer) (counters, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, fmt.Errorf("read Walkie's metrics: %w", err)
	}
	c := counters{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var v float64
			switch {
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				c[f.GetName()+"_count"] += float64(h.GetSampleCount())
				c[f.GetName()+"_sum"] += h.GetSampleSum()
				continue
			default:
				continue
			}
			c[f.GetName()] += v
			for _, l := range m.GetLabel() {
				c[f.GetName()+"{"+l.GetName()+"="+l.GetValue()+"}"] += v
			}
		}
	}
	return c, nil
}

// since is the growth of every counter from before to c.
func (c counters) since(before counters) counters {
	d := counters{}
	for k, v := range c {
		d[k] = v - before[k]
	}
	return d
}

func (c counters) int(name string) int64 { return int64(c[name]) }

// Names of the Walkie metrics the report uses.
const (
	metricDecisions       = "walkie_decision_transactions_total"
	metricCommits         = "walkie_decision_commits_total"
	metricDecisionErrors  = "walkie_decision_errors_total"
	metricEvents          = "walkie_events_received_total"
	metricGrants          = "walkie_floor_grants_total"
	metricDenials         = "walkie_floor_denials_total"
	metricTimerFirings    = "walkie_timer_firings_total"
	metricSends           = "walkie_outbox_sends_total"
	metricSendsFailed     = "walkie_outbox_sends_total{outcome=failed}"
	metricSendsRetried    = "walkie_outbox_sends_total{outcome=retry}"
	metricDecisionLatency = "walkie_decision_latency_seconds"
)

// backlog is the work Walkie has accepted but not finished, read from its
// database.
type backlog struct {
	Unprocessed  int64 // inbox events without a decision
	Unsent       int64 // outbox rows still to send
	Failed       int64 // outbox rows given up on
	Managed      int64 // rooms Walkie manages
	FloorLogRows int64 // highest floor-log id
}

func (b backlog) idle() bool { return b.Unprocessed == 0 && b.Unsent == 0 }

func readBacklog(ctx context.Context, pool *pgxpool.Pool) (backlog, error) {
	var b backlog
	err := pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM inbox WHERE processed_at IS NULL),
		(SELECT count(*) FROM outbox WHERE sent_at IS NULL AND NOT failed),
		(SELECT count(*) FROM outbox WHERE failed),
		(SELECT count(*) FROM room WHERE managed),
		(SELECT coalesce(max(id), 0) FROM floor_log)`).
		Scan(&b.Unprocessed, &b.Unsent, &b.Failed, &b.Managed, &b.FloorLogRows)
	if err != nil {
		return b, fmt.Errorf("read Walkie's backlog: %w", err)
	}
	return b, nil
}

// busy reports whether Walkie has undecided events or unsent rows. Unlike
// readBacklog it reads only the partial indexes of pending work, so
// polling it while Walkie drains costs PostgreSQL next to nothing (the
// counts scan whole tables, and took a core away from Walkie when polled
// every 20 ms).
func busy(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var b bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inbox WHERE processed_at IS NULL)
		OR EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NULL AND NOT failed)`).Scan(&b)
	if err != nil {
		return false, fmt.Errorf("read Walkie's backlog: %w", err)
	}
	return b, nil
}

// allocations reads the process's allocation counters.
func allocations() (mallocs, bytes uint64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs, m.TotalAlloc
}
