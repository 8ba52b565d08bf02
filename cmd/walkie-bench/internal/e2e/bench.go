// Package e2e is `walkie-bench e2e` (part B of BENCHMARKS.md). It
// measures what a user feels: the time from a floor
// request leaving a client to that client's /sync showing the grant, on a
// real Dendrite, for Walkie and — in the same run, on the same homeserver —
// for an echo appservice that answers without any database or rules.
//
// It also measures Walkie's floor channel (part D): press to grant over the
// channel against room events in one run (`walkie-bench e2e -channel`),
// and the walkie binary's memory per socket and CPU at rest with thousands
// of idle sockets (`walkie-bench channel-idle`).
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// Options size a run.
type Options struct {
	Rooms      int // rooms per system (default 20)
	Recoveries int // rooms in which a talker falls silent (default 5)
	Cycles     int // grants per room (default 10)
	Parallel   int // rooms measured at once (default 4)
	// Pause is the think time between seeing a release and the next
	// request. Back to back (0), the next request can queue in the
	// homeserver behind the events the previous release caused: Walkie's
	// talk_response, which the echo does not send.
	Pause       time.Duration
	Progress    io.Writer
	StackLogDir string // where Walkie's and Dendrite's logs go (default a temp dir)
}

// Result holds the latencies of both systems.
type Result struct {
	Walkie, Echo Latencies
	// Recovery: a talker's last chunk → the queued device's /sync shows its
	// grant, with inactivity_timeout RecoveryTimeout.
	Recovery        []time.Duration
	RecoveryTimeout time.Duration
	// Walkie is Walkie's own share, from its metrics after its phase.
	WalkieShare Breakdown
}

// Latencies of one system.
type Latencies struct {
	Requester []time.Duration // request sent → the requester's /sync shows the grant
	Listener  []time.Duration // request sent → another member's /sync shows it
}

// Run starts the stack with the echo baseline registered beside Walkie and
// measures both.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Rooms <= 0 {
		opts.Rooms = 20
	}
	if opts.Cycles <= 0 {
		opts.Cycles = 10
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Recoveries <= 0 {
		opts.Recoveries = 5
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	rig, err := newEchoRig("e2ebench", opts.StackLogDir)
	if err != nil {
		return Result{}, err
	}
	defer rig.close()
	echo, echoReg, logFile := rig.echo, rig.registration, rig.log
	fmt.Fprintf(opts.Progress, "starting PostgreSQL, Dendrite and Walkie (logs: %s)\n", logFile.Name())
	// A granted requester never starts a broadcast: its grant must outlive
	// the wait for the release, hence the long start_timeout.
	s, err := stack.Start(ctx, stack.Options{Log: logFile, LogLevel: "info", ExtraRegistrations: []string{echoReg},
		Floor: timers.Floor{NoRateLimit: true, StartTimeout: 30 * time.Second, InactivityTimeout: recoveryInactivity}})
	if err != nil {
		return Result{}, err
	}
	defer s.Stop()
	if err := echo.start(ctx, s.HS.URL()); err != nil {
		return Result{}, err
	}
	// Both systems are measured at the same time, each with half of the
	// parallel rooms: this machine is shared and noisy, and phases one
	// after the other would give each system different weather.
	var res Result
	var wg sync.WaitGroup
	errs := make([]error, 2)
	half := opts
	half.Parallel = max(opts.Parallel/2, 1)
	half.Progress = &lockedWriter{w: opts.Progress} // both systems report progress
	for i, sys := range []struct {
		name string
		bot  string
		out  *Latencies
	}{{"walkie", s.Walkie.BotUserID(), &res.Walkie}, {"echo", echo.botUser.String(), &res.Echo}} {
		fmt.Fprintf(opts.Progress, "%s: %d rooms x %d grants, %d rooms at a time\n", sys.name, opts.Rooms, opts.Cycles, half.Parallel)
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, err := measure(ctx, s, sys.name, sys.bot, half)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", sys.name, err)
			}
			*sys.out = lat
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if res.WalkieShare, err = scrapeBreakdown(ctx, s.Walkie.MetricsURL()); err != nil {
		return res, err
	}
	fmt.Fprintf(opts.Progress, "recovery: %d rooms whose talker falls silent\n", opts.Recoveries)
	res.RecoveryTimeout = recoveryInactivity
	if res.Recovery, err = measureRecovery(ctx, s, opts.Recoveries); err != nil {
		return res, fmt.Errorf("recovery: %w", err)
	}
	return res, nil
}

// measure runs opts.Rooms rooms, opts.Parallel at a time.
func measure(ctx context.Context, s *stack.Stack, name, bot string, opts Options) (Latencies, error) {
	var (
		mu   sync.Mutex
		all  Latencies
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, opts.Parallel)
	for i := range opts.Rooms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			lat, err := runRoom(ctx, s, fmt.Sprintf("%s%d", name, i), bot, opts.Cycles, opts.Pause)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			all.Requester = append(all.Requester, lat.Requester...)
			all.Listener = append(all.Listener, lat.Listener...)
			fmt.Fprintf(opts.Progress, "  %s: %d/%d rooms done\n", name, len(all.Requester)/opts.Cycles, opts.Rooms)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return all, errs[0]
	}
	return all, nil
}

// Percentile returns the p-th percentile (0 < p <= 100) by nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// Report prints the figures, the ratio and the MCPTT KPI 1 comparison.
func (r Result) Report(w io.Writer) {
	printLatencies(w, "walkie requester", r.Walkie.Requester)
	printLatencies(w, "walkie listener", r.Walkie.Listener)
	printLatencies(w, "echo requester", r.Echo.Requester)
	printLatencies(w, "echo listener", r.Echo.Listener)
	ratio := func(p float64) float64 {
		return float64(Percentile(r.Walkie.Requester, p)) / float64(max(Percentile(r.Echo.Requester, p), 1))
	}
	fmt.Fprintf(w, "e2e ratio walkie/echo p50 = %.2f, p95 = %.2f\n", ratio(50), ratio(95))
	if b := r.WalkieShare; b.Decisions > 0 {
		fmt.Fprintf(w, "walkie's own share (means from its metrics, %d events): inbox -> decision written %s, decision -> homeserver answered the send %s (one floor-state PUT %s)\n",
			b.Decisions, b.Decision.Round(10*time.Microsecond), b.Delivery.Round(10*time.Microsecond), b.StatePUT.Round(10*time.Microsecond))
	}
	printKPI1(w, "walkie", r.Walkie.Requester)
	if len(r.Recovery) > 0 {
		worst := Percentile(r.Recovery, 100)
		verdict := "met"
		if worst > r.RecoveryTimeout+time.Second {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "floor recovery after a silent talker (last chunk -> next holder's grant), inactivity_timeout %s: n=%d p50=%s max=%s; target <= timeout + 1 s: %s\n",
			r.RecoveryTimeout, len(r.Recovery), Percentile(r.Recovery, 50).Round(time.Millisecond), worst.Round(time.Millisecond), verdict)
	}
}

// printLatencies prints one line of percentiles.
func printLatencies(w io.Writer, name string, ds []time.Duration) {
	fmt.Fprintf(w, "%-24s n=%-4d p50=%-8s p95=%-8s p99=%s\n", name, len(ds),
		Percentile(ds, 50).Round(100*time.Microsecond), Percentile(ds, 95).Round(100*time.Microsecond),
		Percentile(ds, 99).Round(100*time.Microsecond))
}

// printKPI1 compares requesters' press-to-grant times with 3GPP MCPTT
// KPI 1: floor access under 300 ms for 95 % of requests.
func printKPI1(w io.Writer, name string, ds []time.Duration) {
	p95 := Percentile(ds, 95)
	verdict := "met"
	if p95 >= 300*time.Millisecond {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "3GPP MCPTT KPI 1 (access time < 300 ms for 95 %% of requests): %s p95 = %s: %s\n",
		name, p95.Round(100*time.Microsecond), verdict)
}

// lockedWriter serialises writes from the two systems' measurements.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
