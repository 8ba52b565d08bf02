package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs a tiny measurement end to end and checks it reports
// sane figures. It asserts no speed: only that both systems were measured.
func TestQuickRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Rooms: 2, Cycles: 3, Parallel: 2, Recoveries: 1})
	if err != nil {
		t.Fatal(err)
	}
	wantSamples(t, 6, map[string][]time.Duration{"walkie": res.Walkie.Requester, "echo": res.Echo.Requester,
		"walkie listener": res.Walkie.Listener, "echo listener": res.Echo.Listener})
	if len(res.Recovery) != 1 || res.Recovery[0] < res.RecoveryTimeout/2 {
		t.Fatalf("recovery %v: the floor cannot come back before the inactivity timeout ran", res.Recovery)
	}
	// Walkie's share comes from its own metrics: it decided the events
	// (setup included) and sent floor states.
	if b := res.WalkieShare; b.Decisions < 6 || b.Decision <= 0 || b.Delivery <= 0 || b.StatePUT <= 0 {
		t.Fatalf("Walkie's share from its metrics: %+v", b)
	}
	var out bytes.Buffer
	res.Report(&out)
	if !strings.Contains(out.String(), "e2e ratio walkie/echo p50 = ") || !strings.Contains(out.String(), "MCPTT KPI 1") ||
		!strings.Contains(out.String(), "floor recovery") || !strings.Contains(out.String(), "walkie's own share") {
		t.Fatalf("report: %s", out.String())
	}
	if Percentile(res.Walkie.Requester, 50) > Percentile(res.Walkie.Requester, 99) {
		t.Fatal("p50 above p99")
	}
}

// wantSamples fails the test unless every series has n positive samples.
func wantSamples(t *testing.T, n int, series map[string][]time.Duration) {
	t.Helper()
	for name, ds := range series {
		if len(ds) != n {
			t.Fatalf("%s: %d samples, want %d", name, len(ds), n)
		}
		for _, d := range ds {
			if d <= 0 {
				t.Fatalf("%s: non-positive latency %s", name, d)
			}
		}
	}
}
