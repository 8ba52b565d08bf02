package e2e

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Breakdown is Walkie's own share of the end-to-end latency, from its
// metrics: means over everything Walkie did in the run, room setup (joins,
// state loads, permits) included.
type Breakdown struct {
	Decision  time.Duration // event stored in the inbox → decision written (walkie_decision_latency_seconds)
	Delivery  time.Duration // decision written → the homeserver answered the send (walkie_outbox_delivery_delay_seconds)
	StatePUT  time.Duration // one floor-state PUT to the homeserver (walkie_outbox_send_duration_seconds{operation="state"})
	Decisions uint64
}

// scrapeBreakdown reads Walkie's /metrics.
func scrapeBreakdown(ctx context.Context, url string) (Breakdown, error) {
	families, err := fetchMetrics(ctx, url)
	if err != nil {
		return Breakdown{}, err
	}
	mean := func(name string, labels map[string]string) (time.Duration, uint64) {
		f := families[name]
		if f == nil {
			return 0, 0
		}
		var sum float64
		var n uint64
		for _, m := range f.Metric {
			if matches(m, labels) && m.Histogram != nil {
				sum += m.Histogram.GetSampleSum()
				n += m.Histogram.GetSampleCount()
			}
		}
		if n == 0 {
			return 0, 0
		}
		return time.Duration(sum / float64(n) * float64(time.Second)), n
	}
	var b Breakdown
	b.Decision, b.Decisions = mean("walkie_decision_latency_seconds", nil)
	b.Delivery, _ = mean("walkie_outbox_delivery_delay_seconds", nil)
	b.StatePUT, _ = mean("walkie_outbox_send_duration_seconds", map[string]string{"operation": "state"})
	return b, nil
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// fetchMetrics reads and parses Walkie's /metrics.
func fetchMetrics(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the metrics endpoint of Walkie answered %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse Walkie's metrics: %w", err)
	}
	return families, nil
}
