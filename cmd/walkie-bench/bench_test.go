package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestEngineQuick runs the quick engine benchmark end to end: PostgreSQL,
// the stand-in, the real Walkie service and pgbench. It checks that the
// run is protocol-clean and its figures are sane, never how fast it is.
func TestEngineQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and runs pgbench (about 15 s); skipped with -short")
	}
	var stdout, stderr bytes.Buffer
	rep, err := engineReport(context.Background(), []string{"-quick"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("engine -quick: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("report:\n%s", stdout.String())
	if !rep.Clean() {
		t.Errorf("run not clean: denials %d, decision errors %d, grant timeouts %d, unexpected terms %d, retried %d, failed %d, refused %d",
			rep.Denials, rep.DecisionErrors, rep.GrantTimeouts, rep.UnexpectedTerms, rep.SendsRetried, rep.SendsFailed, rep.StandInRefused)
	}
	if !rep.FsyncOn {
		t.Error("the benchmark ran with fsync off")
	}
	if rep.Decisions <= 0 || rep.Grants <= 0 || rep.Transactions <= 0 {
		t.Errorf("decisions %d, grants %d, transactions %d: want all positive", rep.Decisions, rep.Grants, rep.Transactions)
	}
	if rep.Events != rep.Transactions {
		t.Errorf("Walkie stored %d events of %d one-event transactions", rep.Events, rep.Transactions)
	}
	if l := rep.GrantLatency; l.N == 0 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("grant latency %+v: want samples with 0 < p50 <= p99 <= max", l)
	}
	if rep.Pgbench.TPS <= 0 || rep.Ratio() <= 0 {
		t.Errorf("pgbench tps %v, ratio %v: want both positive", rep.Pgbench.TPS, rep.Ratio())
	}
	if rep.MallocsPerDecision <= 0 {
		t.Errorf("allocations per decision = %v", rep.MallocsPerDecision)
	}
	if !strings.Contains(stdout.String(), "throughput ratio walkie/pgbench = ") {
		t.Errorf("report lacks the ratio line:\n%s", stdout.String())
	}
}

// The channel load: requests from many clients at once, each answered
// after its commit; decisions share commits.
func TestEngineQuickChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and runs pgbench (about 20 s); skipped with -short")
	}
	var stdout, stderr bytes.Buffer
	rep, err := engineReport(context.Background(), []string{"-quick", "-load", "channel", "-write-ceiling"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("engine -quick -load channel: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("report:\n%s", stdout.String())
	if !rep.Clean() {
		t.Errorf("run not clean: denials %d, decision errors %d, unexpected outcomes %d, retried %d, failed %d, refused %d",
			rep.Denials, rep.DecisionErrors, rep.UnexpectedTerms, rep.SendsRetried, rep.SendsFailed, rep.StandInRefused)
	}
	if rep.Transactions <= 0 || rep.Decisions < rep.Transactions || rep.Grants <= 0 || rep.Commits <= 0 || rep.Commits > rep.Decisions {
		t.Errorf("requests %d, decisions %d, grants %d, commits %d: want a decision per request, and at most one commit per decision",
			rep.Transactions, rep.Decisions, rep.Grants, rep.Commits)
	}
	if l := rep.GrantLatency; l.N == 0 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("grant latency %+v: want samples with 0 < p50 <= p99 <= max", l)
	}
	if rep.Ratio() <= 0 || !strings.Contains(stdout.String(), "channel requests") {
		t.Errorf("ratio %v; report:\n%s", rep.Ratio(), stdout.String())
	}
	// The write ceiling replays the decision's statements on Walkie's
	// tables: pgbench fails the run if one of them does not fit the schema.
	if w := rep.WriteCeilings; len(w) != 1 || w[0].TPS <= 0 || w[0].RoomsPerCommit < 1 || !strings.Contains(stdout.String(), "ceiling/pgbench") {
		t.Errorf("write ceiling %+v; report:\n%s", w, stdout.String())
	}
}

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // expected in stdout+stderr
	}{
		{nil, exitUsage, "Usage: walkie-bench <command>"},
		{[]string{"-h"}, exitOK, "Commands:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"engine", "-h"}, exitOK, "-rooms"},
		{[]string{"engine", "-rooms"}, exitUsage, "flag needs an argument"},
		{[]string{"engine", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"engine", "-log-level", "loud"}, exitUsage, "-log-level"},
		{[]string{"engine", "-devices", "1", "-rooms", "1"}, exitError, "devices must be at least 2"},
		{[]string{"engine", "-load", "smoke"}, exitError, `load "smoke"`},
		{[]string{"client", "-h"}, exitOK, "-turns"},
		{[]string{"client", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"e2e", "-h"}, exitOK, "-channel"},
		{[]string{"e2e", "-channel", "-sequential"}, exitUsage, "choose one"},
		{[]string{"channel-idle", "-h"}, exitOK, "-sockets"},
		{[]string{"channel-idle", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"channel-idle", "-sockets", "5", "-users", "5"}, exitUsage, "more sockets than users"},
		{[]string{"live", "-h"}, exitOK, "-presses"},
		{[]string{"live", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"revoke", "-h"}, exitOK, "-samples"},
		{[]string{"revoke", "extra"}, exitUsage, `unexpected argument "extra"`},
	} {
		var out bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &out); code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("walkie-bench %v: exit %d, want %d; output lacks %q:\n%s", tc.args, code, tc.code, tc.out, out.String())
		}
	}
}
