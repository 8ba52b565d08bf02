package e2e

import (
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
	os.Exit(stack.Main(m, "e2e", stack.Options{Floor: e2eFloor, Web: true}, func(s *stack.Stack) { shared = s }))
}
