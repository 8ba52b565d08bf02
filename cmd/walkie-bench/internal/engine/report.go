package engine

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Report is the outcome of an engine benchmark.
type Report struct {
	Options           Options
	PostgresVersion   string
	FsyncOn           bool
	SynchronousCommit string
	SharedBuffers     string
	Setup             time.Duration

	// Window runs from the first measured transaction until Walkie had
	// decided and sent everything; SendWindow ends with the last
	// transaction sent.
	Window, SendWindow time.Duration
	Transactions       int64 // appservice transactions pushed (one event each), or channel requests made
	Events             int64 // events Walkie stored
	Decisions          int64 // committed room decisions
	Commits            int64 // database commits they took (group commit: several rooms share one)
	FloorLogRows       int64
	Grants, Denials    int64
	TimerFirings       int64
	DecisionErrors     int64
	// Sends are outbox requests made to the stand-in; HomeserverCalls
	// also counts the state loads.
	Sends, SendsRetried, SendsFailed int64
	HomeserverCalls                  int64
	StandInRefused                   int64

	// GrantLatency runs from the start of the transaction PUT that causes
	// a grant to the arrival of the floor-state PUT with the new term; for
	// LoadChannel, from the request to its committed answer.
	GrantLatency  LatencySummary
	GrantTimeouts int64
	// UnexpectedTerms are grants that came with another term than awaited;
	// for LoadChannel, requests that did not cause what the script expects.
	UnexpectedTerms int64
	// InboxToCommitMean is Walkie's own walkie_decision_latency_seconds
	// mean: from inbox commit to decision commit.
	InboxToCommitMean time.Duration

	// CPU time used in the window by this process and by PostgreSQL
	// (zero where it cannot be measured).
	WalkieCPU, PostgresCPU time.Duration

	// Process-wide allocations per decision: Walkie, the load generator
	// and the stand-in share the process.
	MallocsPerDecision, BytesPerDecision float64

	Pgbench PgbenchResult
	// WriteCeilings are pgbench replaying a decision's writes, today's
	// first, then any variants (none: not run).
	WriteCeilings []WriteCeilingResult

	// Memory after setup (all rooms managed) and after the measured phase.
	MemoryAfterSetup, MemoryAfterLoad Memory
}

// Memory is the process's memory after a garbage collection, and the size
// of Walkie's database.
type Memory struct {
	HeapInuse, RSS, DatabaseBytes uint64
}

// DecisionsPerSecond is the decision throughput over the window.
func (r *Report) DecisionsPerSecond() float64 { return perSecond(r.Decisions, r.Window) }

// Ratio is Walkie's decision transactions per second over pgbench's
// single-row-update transactions per second on the same server.
func (r *Report) Ratio() float64 {
	if r.Pgbench.TPS <= 0 {
		return 0
	}
	return r.DecisionsPerSecond() / r.Pgbench.TPS
}

// Clean reports whether the run went as the script intended: no lost or
// surprising grants, no denials, errors, retries or refused calls.
// Timer firings are allowed but reported: they mean rooms waited longer
// than a floor timer, which is overload, not a fault.
func (r *Report) Clean() bool {
	return r.GrantTimeouts == 0 && r.UnexpectedTerms == 0 && r.Denials == 0 && r.DecisionErrors == 0 &&
		r.SendsRetried == 0 && r.SendsFailed == 0 && r.StandInRefused == 0
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Write prints the report for people and for BENCHMARKS.md.
func (r *Report) Write(w io.Writer) {
	o := r.Options
	fsync := "on"
	if !r.FsyncOn {
		fsync = "OFF (commits are not durable; figures are not comparable)"
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("walkie-bench engine: %d rooms x %d devices, %d senders, load %s, %s, GOMAXPROCS %d",
		o.Rooms, o.Devices, o.Senders, o.Load, r.runLength(), runtime.GOMAXPROCS(0))
	p("PostgreSQL %s: fsync %s, synchronous_commit %s, shared_buffers %s", r.PostgresVersion, fsync, r.SynchronousCommit, r.SharedBuffers)
	p("setup: %d rooms in %s", o.Rooms, r.Setup.Round(time.Millisecond))
	p("measured window: %s (load %s, then drained)", r.Window.Round(time.Millisecond), r.SendWindow.Round(time.Millisecond))
	if o.Load == LoadChannel {
		p("  channel requests    %8d  %9.1f/s  (%d clients, each waiting for its committed answer)",
			r.Transactions, perSecond(r.Transactions, r.Window), o.Senders)
	} else {
		p("  transactions        %8d  %9.1f/s  (one event each, real HTTP PUT)", r.Transactions, perSecond(r.Transactions, r.Window))
	}
	p("  events              %8d  %9.1f/s", r.Events, perSecond(r.Events, r.Window))
	p("  decisions           %8d  %9.1f/s  (committed room decisions)", r.Decisions, r.DecisionsPerSecond())
	if r.Commits > 0 {
		p("  commits             %8d  %9.1f/s  (%.2f room decisions per commit)", r.Commits, perSecond(r.Commits, r.Window),
			float64(r.Decisions)/float64(r.Commits))
	}
	p("  floor log rows      %8d  %9.1f/s", r.FloorLogRows, perSecond(r.FloorLogRows, r.Window))
	p("  grants              %8d  %9.1f/s", r.Grants, perSecond(r.Grants, r.Window))
	p("  homeserver calls    %8d  %9.1f/s  (outbox sends %d, retried %d, failed %d)",
		r.HomeserverCalls, perSecond(r.HomeserverCalls, r.Window), r.Sends, r.SendsRetried, r.SendsFailed)
	l := r.GrantLatency
	what, unexpected := "txn PUT -> floor-state PUT", "unexpected terms"
	if o.Load == LoadChannel {
		what, unexpected = "request -> committed answer", "unexpected outcomes"
	}
	p("  grant latency (%s, n=%d): p50 %s  p95 %s  p99 %s  max %s", what, l.N, ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	p("  inbox -> decision commit, mean: %s", ms(r.InboxToCommitMean))
	p("  allocations per decision: %.0f (%.1f KiB), whole process incl. load generator and stand-in",
		r.MallocsPerDecision, r.BytesPerDecision/1024)
	if r.WalkieCPU > 0 && r.Decisions > 0 {
		perDecision := func(d time.Duration) string { return ms(d / time.Duration(r.Decisions)) }
		p("  CPU: walkie process %.1fs (%s/decision), PostgreSQL %.1fs (%s/decision), of %.1fs on %d CPUs",
			r.WalkieCPU.Seconds(), perDecision(r.WalkieCPU), r.PostgresCPU.Seconds(), perDecision(r.PostgresCPU),
			r.Window.Seconds()*float64(runtime.NumCPU()), runtime.NumCPU())
	}
	p("  anomalies: denials %d, timer firings %d, decision errors %d, grant timeouts %d, %s %d, refused calls %d",
		r.Denials, r.TimerFirings, r.DecisionErrors, r.GrantTimeouts, unexpected, r.UnexpectedTerms, r.StandInRefused)
	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	for _, m := range []struct {
		when string
		m    Memory
	}{{"after setup", r.MemoryAfterSetup}, {"after load", r.MemoryAfterLoad}} {
		if m.m.RSS > 0 {
			p("  memory %s: heap in use %s, RSS %s (whole process), database %s", m.when, mib(m.m.HeapInuse), mib(m.m.RSS), mib(m.m.DatabaseBytes))
		}
	}
	if o.SkipPgbench {
		return
	}
	pg := r.Pgbench
	p("pgbench (same server, Walkie stopped): single-row UPDATE, -c %d -j %d -T %d -M prepared: tps = %.1f%s",
		pg.Clients, pg.Threads, int(pg.Duration/time.Second), pg.TPS, runs(pg.Runs))
	p("  %s", pg.Command)
	p("throughput ratio walkie/pgbench = %.2f", r.Ratio())
	walkieCPU := time.Duration(0)
	if r.Decisions > 0 {
		walkieCPU = (r.WalkieCPU + r.PostgresCPU) / time.Duration(r.Decisions)
	}
	if pg.CPU > 0 && walkieCPU > 0 {
		p("CPU per unit: pgbench %s per transaction (PostgreSQL and pgbench), Walkie %s per decision (Walkie's process and PostgreSQL): ratio %.2f",
			ms(pg.CPU), ms(walkieCPU), float64(pg.CPU)/float64(walkieCPU))
	}
	for i, w := range r.WriteCeilings {
		if pg.TPS <= 0 || w.TPS <= 0 {
			continue
		}
		if i == 0 {
			p("write ceiling: pgbench replaying a grant's writes on Walkie's tables, %d rooms per transaction, %d clients, no Walkie process", w.RoomsPerCommit, r.Options.CeilingClients)
			p("  %s", w.Command)
		}
		cpu := ""
		if w.CPU > 0 && pg.CPU > 0 {
			cpu = fmt.Sprintf("  CPU %s/decision, pgbench's/this %.2f", ms(w.CPU), float64(pg.CPU)/float64(w.CPU))
		}
		p("  %-52s tps %8.1f  %8.1f decisions/s  ceiling/pgbench %.2f  walkie/ceiling %.2f%s%s",
			w.Name, w.TPS, w.DecisionsPerSecond(), w.DecisionsPerSecond()/pg.TPS, r.DecisionsPerSecond()/w.DecisionsPerSecond(), cpu, runs(w.Runs))
	}
}

func (r *Report) runLength() string {
	if r.Options.Transactions > 0 {
		return fmt.Sprintf("%d transactions", r.Options.Transactions)
	}
	return r.Options.Duration.String()
}

// runs lists the TPS of each round when there were several (the figure
// printed is their median).
func runs(tps []float64) string {
	if len(tps) < 2 {
		return ""
	}
	parts := make([]string, len(tps))
	for i, t := range tps {
		parts[i] = fmt.Sprintf("%.0f", t)
	}
	return " (median of " + strings.Join(parts, ", ") + ")"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }
