package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/revoke"
)

// runRevoke is `walkie-bench revoke`: revoke to silence in a live-mode
// room, each way someone else ends a turn.
func runRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("walkie-bench revoke", flag.ContinueOnError)
	flags.SetOutput(stderr)
	samples := flags.Int("samples", 20, "measured revokes per way")
	ways := flags.String("ways", "", "comma-separated ways to measure (default all: "+revoke.WayNames()+")")
	quick := flags.Bool("quick", false, "1 revoke per way, for smoke tests")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), `Usage: walkie-bench revoke [flags]

Starts PostgreSQL, Dendrite, LiveKit (in a network namespace: needs root
and ip) and Walkie, and a live-mode room whose talker and listener are Go
LiveKit participants. The talker holds the floor and sends 20 ms frames
all along; the floor is taken from it, by each way in turn. Reports p50
and p95 of revoke to silence (the revoke sent to the listener's last
packet from the talker), with a breakdown, per way.

`)
		flags.PrintDefaults()
	}
	if code, ok := parseFlags(flags, args, stderr); !ok {
		return code
	}
	opts := revoke.Options{Samples: *samples, Progress: stderr}
	if *ways != "" {
		opts.Ways = strings.Split(*ways, ",")
	}
	if *quick {
		opts.Samples = 1
	}
	res, err := revoke.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "walkie-bench revoke:", err)
		return exitError
	}
	res.Report(stdout)
	return exitOK
}
