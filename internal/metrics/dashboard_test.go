package metrics

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/walkie-ptt/walkie/internal/floor"
	"github.com/walkie-ptt/walkie/internal/store"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// The scrape-time gauges (RegisterState) read a real database, so this
// package's tests get one from pgtest.
func TestMain(m *testing.M) { pgtest.Main(m) }

// The operator artefacts that name Walkie's metrics, relative to this package.
var (
	dashboardPath  = filepath.Join("..", "..", "contrib", "grafana", "walkie.json")
	alertRulesPath = filepath.Join("..", "..", "contrib", "prometheus", "alerts.yml")
	operationsPath = filepath.Join("..", "..", "docs", "operations.md")
)

// metricName matches a Walkie metric in a PromQL expression or in prose.
var metricName = regexp.MustCompile(`walkie_[a-z0-9_]+`)

func TestExportedMetricNamesFollowConventions(t *testing.T) {
	exported := exportedMetrics(t)
	for _, name := range slices.Sorted(maps.Keys(exported)) {
		if !strings.HasPrefix(name, namespace+"_") {
			t.Errorf("%s: every Walkie metric starts with %s_", name, namespace)
		}
		isTotal := strings.HasSuffix(name, "_total")
		switch kind := exported[name]; {
		case kind == dto.MetricType_COUNTER && !isTotal:
			t.Errorf("%s is a counter: its name must end in _total", name)
		case kind != dto.MetricType_COUNTER && isTotal:
			t.Errorf("%s is a %s: only counters end in _total", name, kind)
		}
	}
}

func TestDashboardUsesOnlyExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	var dashboard map[string]any
	readJSON(t, dashboardPath, &dashboard)

	panels := dashboardPanels(dashboard)
	if len(panels) == 0 {
		t.Fatalf("%s has no panels", dashboardPath)
	}
	for _, p := range panels {
		if p["type"] == "row" {
			continue
		}
		if len(queriesIn(p)) == 0 {
			t.Errorf("%s: panel %q has no query", dashboardPath, p["title"])
		}
	}
	// Every string, not only the queries: descriptions name metrics too.
	checkMetricNames(t, dashboardPath, stringsIn(dashboard), exported)
}

func TestAlertRulesUseOnlyExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	data, err := os.ReadFile(alertRulesPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true) // a misspelt key would silently drop a rule's setting
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("%s: %v", alertRulesPath, err)
	}

	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: group %q has a rule without alert, expr or summary: %+v", alertRulesPath, g.Name, r)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: alert %s: for: %v", alertRulesPath, r.Alert, err)
				}
			}
			exprs = append(exprs, r.Expr)
		}
	}
	if len(exprs) == 0 {
		t.Fatalf("%s has no rules", alertRulesPath)
	}
	checkMetricNames(t, alertRulesPath, exprs, exported)
}

// TestOperationsGuideListsEveryMetric keeps docs/operations.md and the code
// in step both ways: every exported metric is documented, and every metric
// the guide names exists.
func TestOperationsGuideListsEveryMetric(t *testing.T) {
	exported := exportedMetrics(t)
	data, err := os.ReadFile(operationsPath)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, name := range metricName.FindAllString(string(data), -1) {
		documented[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(exported)) {
		if !documented[name] {
			t.Errorf("%s does not document %s", operationsPath, name)
		}
	}
	checkMetricNames(t, operationsPath, slices.Collect(maps.Keys(documented)), exported)
}

// checkMetricNames fails for every walkie_ identifier in exprs that Walkie
// does not export. A histogram's _bucket, _sum and _count series count as
// the histogram.
func checkMetricNames(t *testing.T, file string, exprs []string, exported map[string]dto.MetricType) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no expressions found", file)
	}
	seen := 0
	for _, expr := range exprs {
		for _, name := range metricName.FindAllString(expr, -1) {
			seen++
			if !isExported(name, exported) {
				t.Errorf("%s uses %s, which Walkie does not export (in %q)", file, name, expr)
			}
		}
	}
	if seen == 0 {
		t.Errorf("%s names no Walkie metric at all", file)
	}
}

func isExported(name string, exported map[string]dto.MetricType) bool {
	if _, ok := exported[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] == dto.MetricType_HISTOGRAM {
			return true
		}
	}
	return false
}

// exportedMetrics builds Walkie's real metrics on a fresh registry (New,
// and RegisterState against a migrated database), observes one of
// everything so labelled families show up, and returns what a scrape
// yields: metric name to type.
func exportedMetrics(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	st := pgtest.NewStore(t, store.Options{Controller: "@walkie:example.org"})

	reg := prometheus.NewRegistry()
	rec := &recordingRegisterer{Registerer: reg}
	m := New(rec, "test", "test")
	RegisterState(rec, st)
	observeOneOfEverything(m)
	ch := NewChannel(rec)
	ch.AuthFailures.WithLabelValues("timeout").Inc()
	ch.Messages.WithLabelValues("request").Inc()
	live := NewLive(rec)
	live.Webhooks.WithLabelValues("track_published", "decided").Inc()
	live.Reconciled.WithLabelValues("deny").Inc()

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]dto.MetricType{}
	for _, f := range families {
		exported[f.GetName()] = f.GetType()
	}
	if exported[namespace+"_database_up"] != dto.MetricType_GAUGE {
		t.Fatalf("the scrape has no %s_database_up gauge: got %v", namespace, exported)
	}
	// A registered metric missing from the scrape would escape the checks
	// on types, so the scrape must hold everything the collectors describe.
	for _, name := range rec.describedNames(t) {
		if _, ok := exported[name]; !ok {
			t.Fatalf("%s is registered but not in the scrape: make observeOneOfEverything produce it", name)
		}
	}
	return exported
}

// observeOneOfEverything drives every Observe method through the paths
// that give each labelled family at least one series.
func observeOneOfEverything(m *Metrics) {
	alice := floor.Device{UserID: "@alice:example.org", DeviceID: "PHONE"}
	bob := floor.Device{UserID: "@bob:example.org", DeviceID: "LAPTOP"}
	now := time.Now()

	m.ObserveTransaction(Transaction{Status: 200, Events: 3, Rejected: 1})
	m.ObserveOutcome(Decision{
		Changed:      true,
		Received:     []time.Time{now.Add(-20 * time.Millisecond)},
		Ticked:       true,
		CommittedAt:  now,
		HolderBefore: &floor.Holder{Device: alice, GrantedAt: now.Add(-12 * time.Second)},
		Log: []floor.LogEntry{
			{Action: "release", Device: alice, Reason: floor.ReasonStopped},
			{Action: "grant", Device: bob},
			{Action: "revoke", Device: bob, Reason: floor.ReasonMaxTalkTime},
			{Action: "queue", Device: alice, Reason: floor.ReasonFloorTaken},
			{Action: "deny", Device: alice, Reason: floor.ReasonNoPermit},
			{Action: "forged_permit", Device: bob},
		},
	})
	m.ObserveSend(Send{Kind: "message", Outcome: "sent", Duration: 5 * time.Millisecond, Latency: 8 * time.Millisecond})
}

// recordingRegisterer keeps the collectors registered through it, so the
// test can ask them what they describe.
type recordingRegisterer struct {
	prometheus.Registerer
	collectors []prometheus.Collector
}

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registerer.Register(c)
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// fqName reads a metric's name out of Desc.String(), the only place
// client_golang exposes it.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recordingRegisterer) describedNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, c := range r.collectors {
		descs := make(chan *prometheus.Desc)
		go func() {
			c.Describe(descs)
			close(descs)
		}()
		for d := range descs {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the metric name from %s", d)
			}
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		t.Fatal("no collector described any metric")
	}
	return names
}

// dashboardPanels lists every panel, including those nested in collapsed rows.
func dashboardPanels(dashboard map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(list any)
	walk = func(list any) {
		items, _ := list.([]any)
		for _, item := range items {
			if p, ok := item.(map[string]any); ok {
				out = append(out, p)
				walk(p["panels"])
			}
		}
	}
	walk(dashboard["panels"])
	return out
}

// queriesIn collects every PromQL string below v: panel targets (expr) and
// template variable queries (query, definition).
func queriesIn(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for key, child := range v {
			if s, ok := child.(string); ok && (key == "expr" || key == "query" || key == "definition") {
				out = append(out, s)
				continue
			}
			out = append(out, queriesIn(child)...)
		}
	case []any:
		for _, child := range v {
			out = append(out, queriesIn(child)...)
		}
	}
	return out
}

// stringsIn collects every string value below v.
func stringsIn(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case map[string]any:
		var out []string
		for _, child := range v {
			out = append(out, stringsIn(child)...)
		}
		return out
	case []any:
		var out []string
		for _, child := range v {
			out = append(out, stringsIn(child)...)
		}
		return out
	}
	return nil
}

func readJSON(t *testing.T, path string, dst any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
