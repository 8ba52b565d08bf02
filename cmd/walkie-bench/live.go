package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/walkie-ptt/walkie/cmd/walkie-bench/internal/voice"
)

// runLive is `walkie-bench live`: mouth to ear and press to first audio
// through the web client, live mode and broadcast chunks side by side.
func runLive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("walkie-bench live", flag.ContinueOnError)
	flags.SetOutput(stderr)
	presses := flags.Int("presses", 20, "measured presses per path (after one to warm up)")
	quick := flags.Bool("quick", false, "1 press per path, for smoke tests")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), `Usage: walkie-bench live [flags]

Starts PostgreSQL, Dendrite, LiveKit (in a network namespace: needs root
and ip), Walkie with the web client, and Chromium. A speaker and a
listener, each in a tab of their own, take turns in two rooms: one in live
mode, one in broadcast mode. The fake microphone plays tone bursts; each
press starts right after a burst began. Reports p50/p95 of mouth to ear
(a burst's onset at the speaker's microphone to its onset at the
listener) and press to first audio (the press to the listener's first
onset) for both paths.

`)
		flags.PrintDefaults()
	}
	if code, ok := parseFlags(flags, args, stderr); !ok {
		return code
	}
	opts := voice.Options{Presses: *presses, Progress: stderr}
	if *quick {
		opts.Presses = 1
	}
	res, err := voice.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(stderr, "walkie-bench live:", err)
		return exitError
	}
	res.Report(stdout)
	return exitOK
}
