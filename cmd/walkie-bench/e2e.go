package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/e2e"
)

// runE2E is `walkie-bench e2e`: grant latency on a real Dendrite, against
// an echo appservice measured in the same run.
func runE2E(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("walkie-bench e2e", flag.ContinueOnError)
	flags.SetOutput(stderr)
	rooms := flags.Int("rooms", 20, "rooms per system")
	cycles := flags.Int("cycles", 10, "grants per room (rooms x cycles >= 200 for the figures in BENCHMARKS.md)")
	parallel := flags.Int("parallel", 4, "rooms measured at once, half of them Walkie's and half the echo's (both systems run side by side)")
	recoveries := flags.Int("recoveries", 5, "rooms in which a talker falls silent (floor recovery time)")
	pause := flags.Duration("pause", 0, "think time between a release being seen and the next request (0: back to back)")
	quick := flags.Bool("quick", false, "2 rooms x 3 grants and 1 recovery, for CI smoke tests")
	sequential := flags.Bool("sequential", false, "the sequential probe instead: one requester per system, presses one at a time, "+
		"alternating between Walkie and the echo, each on a Dendrite of its own")
	channel := flags.Bool("channel", false, "press to grant over the floor channel against room events instead: one Walkie, "+
		"one requester per path, presses one at a time, alternating between the paths")
	presses := flags.Int("presses", 120, "with -sequential: presses per system; with -channel: presses per path")
	sockets := flags.Int("sockets", 4, "with -channel: sockets the channel's requester presses through in turn "+
		"(Walkie takes 5 messages a second per socket)")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), `Usage: walkie-bench e2e [flags]

Starts PostgreSQL, Dendrite and Walkie, plus an echo appservice that answers
each floor request by sending the floor state at once (no database, no
rules). Users request the floor in rooms of each; the time from sending the
request to the requester's (and a listener's) /sync showing the grant is
reported as p50/p95/p99, with the ratio walkie/echo and 3GPP MCPTT KPI 1.
Then, in rooms whose talker falls silent mid-broadcast, it measures the time
from the last chunk to the queued device's grant (inactivity_timeout 3s).

With -channel: press to grant over Walkie's floor channel (WebSocket) and
over room events, side by side on one Walkie and one Dendrite, presses
alternating between the two; the ratio channel/room at p95 and KPI 1.

`)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *channel && *sequential {
		fmt.Fprintln(stderr, "walkie-bench e2e: -channel and -sequential are two runs; choose one")
		return exitUsage
	}
	if *channel {
		res, err := e2e.RunChannel(ctx, e2e.ChannelOptions{Presses: *presses, Sockets: *sockets, Progress: stderr})
		if err != nil {
			fmt.Fprintln(stderr, "walkie-bench e2e -channel:", err)
			return exitError
		}
		res.Report(stdout)
		return exitOK
	}
	if *sequential {
		res, err := e2e.RunSequential(ctx, e2e.SequentialOptions{Presses: *presses, Progress: stderr})
		if err != nil {
			fmt.Fprintln(stderr, "walkie-bench e2e -sequential:", err)
			return exitError
		}
		res.Report(stdout)
		return exitOK
	}
	opts := e2e.Options{Rooms: *rooms, Cycles: *cycles, Parallel: *parallel, Recoveries: *recoveries, Pause: *pause, Progress: stderr}
	if *quick {
		opts.Rooms, opts.Cycles, opts.Parallel, opts.Recoveries = 2, 3, 2, 1
	}
	res, err := e2e.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "walkie-bench e2e:", err)
		return exitError
	}
	res.Report(stdout)
	return exitOK
}
