package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/e2e"
)

// runClient is `walkie-bench client`: what people feel through the web
// client in Chromium, over the floor channel and over room events.
func runClient(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("walkie-bench client", flag.ContinueOnError)
	flags.SetOutput(stderr)
	turns := flags.Int("turns", 40, "turns per path (about 6 s each)")
	chromium := flags.String("chromium", "", "Chromium binary (default $WALKIE_CHROMIUM, else /usr/bin/chromium)")
	quick := flags.Bool("quick", false, "2 turns per path, for smoke tests")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), `Usage: walkie-bench client [flags]

Starts PostgreSQL, Dendrite and Walkie with its web client, and Chromium
with a fake microphone playing a 1 kHz burst every 2 s. Two rooms, each
with a talker and a listener in browser tabs of their own: in one the
client uses the floor channel, in the other the tabs cannot open it and the
client uses room events. Turns alternate between the rooms. Reported, per
path, p50/p95/p99 of: press to grant (pointerdown on the talk button to
the button showing "You are talking"), the listener seeing the talker
(same press to the listener's button showing someone talking), and mouth
to ear (a burst's onset at the talker's microphone to its onset detected
on the listener's playback path).

`)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "walkie-bench client: unexpected argument %q\n", flags.Arg(0))
		return exitUsage
	}
	opts := e2e.ClientOptions{Turns: *turns, ChromiumPath: *chromium, Progress: stderr}
	if *quick {
		opts.Turns = 2
	}
	res, err := e2e.RunClient(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "walkie-bench client:", err)
		return exitError
	}
	res.Report(stdout)
	return exitOK
}
