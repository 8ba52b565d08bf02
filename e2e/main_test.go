package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// shared is the one stack all scenarios use: each scenario works in rooms
// and with users of its own.
var shared *stack.Stack

// e2eFloor keeps timers short so the timeout scenarios finish quickly,
// with room for a real homeserver's round trips: a granted device gets 4 s
// to start its broadcast, and a queued one may wait 40 s, across a kill and
// restart of Walkie.
var e2eFloor = func() timers.Floor {
	f := timers.Short
	f.StartTimeout, f.QueueTimeout = 4*time.Second, 40*time.Second
	return f
}()

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logFile, err := os.CreateTemp("", "walkie-e2e-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	s, err := stack.Start(ctx, stack.Options{Log: logFile, Floor: e2eFloor, Web: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: could not start PostgreSQL + Dendrite + Walkie: %v\n(log: %s)\n", err, logFile.Name())
		return 1
	}
	shared = s
	code := m.Run()
	s.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: Walkie and Dendrite logs are in %s\n", logFile.Name())
	} else {
		_ = os.Remove(logFile.Name())
	}
	return code
}
