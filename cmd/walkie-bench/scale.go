package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/engine"
)

// runScale is `walkie-bench scale`: memory and decision latency against
// the number of managed rooms, under the same small load each time.
func runScale(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("walkie-bench scale", flag.ContinueOnError)
	flags.SetOutput(stderr)
	roomList := flags.String("rooms", "10,1000,100000", "comma-separated numbers of managed rooms")
	active := flags.Int("active", 10, "rooms the measured load drives, in every run")
	duration := flags.Duration("duration", 10*time.Second, "measured phase per run")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), `Usage: walkie-bench scale [flags]

For each room count, runs the engine benchmark with that many managed rooms
but the same load on -active of them, and reports the process's memory
(after setup and after the load), the database size, the decision latency
and the grant latency. State lives in PostgreSQL: memory should stay flat.

`)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	var counts []int
	for _, f := range strings.Split(*roomList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < *active {
			fmt.Fprintf(stderr, "walkie-bench scale: -rooms: %q is not a number of rooms >= -active\n", f)
			return exitUsage
		}
		counts = append(counts, n)
	}
	var rows []*engine.Report
	for _, n := range counts {
		fmt.Fprintf(stderr, "scale: %d rooms\n", n)
		rep, err := engine.Run(ctx, engine.Options{
			Rooms: n, ActiveRooms: *active, Devices: 4, Senders: 4, Duration: *duration, SkipPgbench: true,
			Progress: stderr, Log: zerolog.Nop(),
		})
		if err != nil {
			fmt.Fprintln(stderr, "walkie-bench scale:", err)
			return exitError
		}
		rows = append(rows, rep)
	}
	mib := func(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
	fmt.Fprintf(stdout, "walkie-bench scale: %d active rooms, 4 senders, %s per run\n", *active, *duration)
	fmt.Fprintf(stdout, "%9s %10s %14s %14s %12s %14s %16s %10s\n", "rooms", "setup", "heap MiB setup", "heap MiB load",
		"RSS MiB load", "database MiB", "decision mean ms", "grant p95")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%9d %10s %14s %14s %12s %14s %16.2f %10s\n", r.Options.Rooms, r.Setup.Round(time.Second),
			mib(r.MemoryAfterSetup.HeapInuse), mib(r.MemoryAfterLoad.HeapInuse), mib(r.MemoryAfterLoad.RSS),
			mib(r.MemoryAfterLoad.DatabaseBytes), float64(r.InboxToCommitMean)/float64(time.Millisecond),
			r.GrantLatency.P95.Round(100*time.Microsecond))
	}
	return exitOK
}
