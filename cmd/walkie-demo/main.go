// Command walkie-demo is `make demo`: it starts a local PostgreSQL, Dendrite
// and Walkie, then plays a scripted push-to-talk conversation between three
// users and prints what their clients see. Ctrl-C tears everything down.
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
	exit := flag.Bool("exit", false, "tear down after the script instead of waiting for Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, os.Stdout, !*exit); err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		return 1
	}
	return 0
}
