// Command walkie-bench measures Walkie; BENCHMARKS.md records its figures
// and how to reproduce them.
//
//	walkie-bench engine [flags]   controller throughput and decision latency,
//	                              no homeserver in the loop (part A)
//	walkie-bench e2e [flags]      grant latency on a real Dendrite against an
//	                              echo-appservice baseline, floor recovery (part B)
//	walkie-bench scale [flags]    memory and latency against managed rooms (part C)
//	walkie-bench channel-idle     memory per floor-channel socket and CPU at rest
//	                              with 10,000 idle sockets (part D)
//	walkie-bench client [flags]   press to grant and mouth to ear through the web
//	                              client in Chromium, channel and room events (part E)
//	walkie-bench live [flags]     mouth to ear through the web client: live
//	                              mode and broadcast chunks side by side (part F)
//	walkie-bench revoke [flags]   revoke to silence in live mode, Go participants
//	                              (part F)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
)

// Exit codes, as package flag uses them.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	lkpeer.RunIfPeer() // `revoke`'s LiveKit participants are this binary, run again
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "engine":
		return runEngine(ctx, args[1:], stdout, stderr)
	case "e2e":
		return runE2E(ctx, args[1:], stdout, stderr)
	case "scale":
		return runScale(ctx, args[1:], stdout, stderr)
	case "channel-idle":
		return runChannelIdle(ctx, args[1:], stdout, stderr)
	case "client":
		return runClient(ctx, args[1:], stdout, stderr)
	case "live":
		return runLive(ctx, args[1:], stdout, stderr)
	case "revoke":
		return runRevoke(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "walkie-bench: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: walkie-bench <command> [flags]

Commands:
  engine   controller throughput and decision latency against a throwaway
           PostgreSQL and a homeserver stand-in, compared with pgbench
  e2e      grant latency seen by clients on a real Dendrite, compared with
           an echo appservice in the same run; floor recovery time; with
           -channel, over the floor channel against room events
  scale    memory and decision latency with 10, 1,000 and 100,000 rooms
  channel-idle
           memory per floor-channel socket and CPU at rest, with 10,000
           idle authenticated sockets on the walkie binary
  client   press to grant and mouth to ear through the web client in
           Chromium, over the floor channel and over room events
  live     mouth to ear and press to first audio through the web client in
           Chromium: live mode (LiveKit) and broadcast chunks side by side
  revoke   revoke to silence in live mode: how soon a talker whose turn is
           taken away goes quiet at a listener, each way a turn is ended

Run walkie-bench <command> -h for the command's flags.
`)
}

// parseFlags parses a command's flags. It returns false, with the exit
// code, when the command must not run: -h, a bad flag, an argument left
// over.
func parseFlags(flags *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", flags.Name(), flags.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}
