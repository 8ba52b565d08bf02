package live

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/livekit"
	"github.com/walkie-ptt/walkie/internal/testkit/lkpeer"
	"github.com/walkie-ptt/walkie/internal/testkit/netns"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// The one deployment every test uses, each in rooms and with users of its
// own: PostgreSQL, Dendrite, the walkie binary in live mode, and a
// LiveKit server on the host side of a network namespace, where the Go
// participants run.
var (
	shared *stack.Stack
	sfu    *livekit.Server
	ns     *netns.Namespace
)

// liveFloor leaves turns long: the tests end them themselves, and a slow
// machine must not end one first. (In live mode the inactivity timeout
// does not apply; start_timeout is the time to the first published
// microphone.)
var liveFloor = timers.Floor{
	StartTimeout: 30 * time.Second,
	MaxTalk:      10 * time.Minute,
	QueueTimeout: 10 * time.Minute,
	NoRateLimit:  true,
}

func TestMain(m *testing.M) {
	lkpeer.RunIfPeer() // participants are this binary, run again in the namespace
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	logFile, err := os.CreateTemp("", "walkie-e2e-live-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer logFile.Close()
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "e2e/live: %s: %v\n(log: %s)\n", what, err, logFile.Name())
		return 1
	}
	if ns, err = netns.Create(ctx); err != nil {
		return fail("a network namespace for the participants", err)
	}
	defer func() {
		if err := ns.Remove(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	defer func() {
		if sfu != nil {
			sfu.Stop()
		}
	}()
	shared, err = stack.Start(ctx, stack.Options{Log: logFile, Floor: liveFloor, Web: true,
		LiveKit: func(ctx context.Context, webhookURL string) (walkieproc.LiveKit, error) {
			var err error
			sfu, err = livekit.Start(ctx, livekit.Options{NodeIP: ns.HostIP(), WebhookURLs: []string{webhookURL}, LogWriter: logFile})
			if err != nil {
				return walkieproc.LiveKit{}, err
			}
			return walkieproc.LiveKit{URL: sfu.URL(), APIURL: sfu.APIURL(), APIKey: sfu.APIKey(), APISecret: sfu.APISecret()}, nil
		}})
	if err != nil {
		return fail("could not start PostgreSQL + Dendrite + LiveKit + Walkie", err)
	}
	code := m.Run()
	shared.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e/live: Walkie's, Dendrite's and LiveKit's logs are in %s\n", logFile.Name())
	} else {
		_ = os.Remove(logFile.Name())
	}
	return code
}
