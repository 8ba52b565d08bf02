package webclient

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// updateScreenshots copies the screenshots the tests take into
// docs/client/, for docs/client.md.
var updateScreenshots = flag.Bool("update-screenshots", false, "write the tests' screenshots into docs/client/")

// shared is the stack every test uses, each in rooms and with users of
// its own.
var shared *stack.Stack

// webFloor: Walkie's defaults, with room for a loaded CI machine (a
// browser per person, each encoding and decoding audio) to start a
// broadcast after a grant from the queue.
var webFloor = timers.Floor{StartTimeout: 10 * time.Second, InactivityTimeout: 10 * time.Second,
	MaxTalk: 60 * time.Second, QueueTimeout: 60 * time.Second, NoRateLimit: true}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logFile, err := os.CreateTemp("", "walkie-webclient-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	s, err := stack.Start(ctx, stack.Options{Log: logFile, Floor: webFloor, Web: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "webclient: could not start PostgreSQL + Dendrite + Walkie: %v\n(log: %s)\n", err, logFile.Name())
		return 1
	}
	shared = s
	code := m.Run()
	s.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "webclient: Walkie and Dendrite logs are in %s\n", logFile.Name())
	} else {
		_ = os.Remove(logFile.Name())
	}
	return code
}
