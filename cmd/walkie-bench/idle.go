package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/e2e"
)

// runChannelIdle is `walkie-bench channel-idle`: the walkie binary's
// memory per floor-channel socket and its CPU at rest.
func runChannelIdle(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("walkie-bench channel-idle", flag.ContinueOnError)
	flags.SetOutput(stderr)
	sockets := flags.Int("sockets", 10_000, "authenticated sockets held open")
	users := flags.Int("users", 10, "users the sockets belong to, in turn (each user's share one OpenID token)")
	follow := flags.Bool("follow", true, "every socket follows one room, as a client does (false: authenticated only)")
	idle := flags.Duration("idle", 30*time.Second, "window over which CPU at rest is measured, before and after the sockets")
	gcWait := flags.Duration("gc-wait", 135*time.Second, "longest wait for a garbage collection in Walkie before reading its memory (Go collects at least every 2 minutes; 0: read at once)")
	dialers := flags.Int("dialers", 16, "sockets opened at once")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), `Usage: walkie-bench channel-idle [flags]

Starts PostgreSQL, Dendrite (for the users' OpenID tokens) and the walkie
binary with its floor channel, opens one socket per user, reads Walkie's
memory and its CPU time over -idle; then opens the rest of -sockets, all
authenticated (and following a room), and reads both again. Memory per
socket is the difference divided by the sockets opened; the figures come
from Walkie's own metrics (process and Go runtime collectors).

`)
		flags.PrintDefaults()
	}
	if code, ok := parseFlags(flags, args, stderr); !ok {
		return code
	}
	if *sockets <= *users || *users < 1 {
		fmt.Fprintln(stderr, "walkie-bench channel-idle: want at least one user and more sockets than users")
		return exitUsage
	}
	res, err := e2e.RunIdle(ctx, e2e.IdleOptions{Sockets: *sockets, Users: *users, Follow: *follow, Idle: *idle,
		GCWait: *gcWait, Dialers: *dialers, Progress: stderr})
	if err != nil {
		fmt.Fprintln(stderr, "walkie-bench channel-idle:", err)
		return exitError
	}
	res.Report(stdout)
	return exitOK
}
