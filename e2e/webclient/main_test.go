package webclient

import (
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
// its own. Walkie runs with a LiveKit SFU (on a host address Chromium
// reaches directly), so a room goes live when its floor_config says so;
// the others stay in broadcast mode.
var shared *stack.Stack

// webFloor: Walkie's defaults, with room for a loaded CI machine (a
// browser per person, each encoding and decoding audio) to start a
// broadcast after a grant from the queue.
var webFloor = timers.Floor{StartTimeout: 10 * time.Second, InactivityTimeout: 10 * time.Second,
	MaxTalk: 60 * time.Second, QueueTimeout: 60 * time.Second, NoRateLimit: true}

func TestMain(m *testing.M) {
	sfu := &stack.SFU{}
	code := stack.Main(m, "webclient", stack.Options{Floor: webFloor, Web: true, LiveKit: sfu.Start}, func(s *stack.Stack) { shared = s })
	if err := sfu.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
