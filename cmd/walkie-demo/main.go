// Command walkie-demo is `make demo`: it starts a local PostgreSQL, Dendrite
// and Walkie, plays a scripted push-to-talk conversation between three
// users and prints what their clients see, then offers Walkie's web client
// (its URL and the demo accounts) so a person can talk through it; with
// -live, in live mode, the audio over a LiveKit server it starts too.
// Ctrl-C tears everything down.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(run()) }

func run() int {
	exit := flag.Bool("exit", false, "tear down after the script instead of offering the web client until Ctrl-C")
	clientOnly := flag.Bool("client-only", false, "skip the script: straight to the web client")
	live := flag.Bool("live", false, "run LiveKit too (make livekit builds it) and switch the room to live mode before offering the web client")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, os.Stdout, options{script: !*clientOnly, wait: !*exit, live: *live}); err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		return 1
	}
	return 0
}
