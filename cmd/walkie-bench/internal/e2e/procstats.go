package e2e

import (
	"context"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// procStats is the walkie process as its own metrics show it at one
// moment (the Go and process collectors read /proc/self and the runtime).
type procStats struct {
	at         time.Time
	cpu        float64 // process_cpu_seconds_total: user + system, 10 ms resolution
	rss        float64 // process_resident_memory_bytes
	heapInuse  float64 // go_memstats_heap_inuse_bytes
	stackInuse float64 // go_memstats_stack_inuse_bytes: goroutine stacks
	goroutines float64
	openFDs    float64
	gcs        uint64  // completed garbage collections
	sockets    float64 // walkie_floor_channel_sockets
}

func readProcStats(ctx context.Context, metricsURL string) (procStats, error) {
	families, err := fetchMetrics(ctx, metricsURL)
	if err != nil {
		return procStats{}, err
	}
	st := procStats{at: time.Now(),
		cpu: sample(families, "process_cpu_seconds_total"), rss: sample(families, "process_resident_memory_bytes"),
		heapInuse: sample(families, "go_memstats_heap_inuse_bytes"), stackInuse: sample(families, "go_memstats_stack_inuse_bytes"),
		goroutines: sample(families, "go_goroutines"), openFDs: sample(families, "process_open_fds"),
		sockets: sample(families, "walkie_floor_channel_sockets")}
	if f := families["go_gc_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			st.gcs += m.GetSummary().GetSampleCount()
		}
	}
	return st, nil
}

// sample is a gauge's or counter's value, summed over its series.
func sample(families map[string]*dto.MetricFamily, name string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
	var v float64
	for _, m := range f.Metric {
		v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	return v
}
