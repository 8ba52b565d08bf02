package webclient

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/livekit"
	"github.com/walkie-ptt/walkie/internal/testkit/netns"
	"github.com/walkie-ptt/walkie/internal/testkit/stack"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// updateScreenshots copies the screenshots the tests take into
// docs/client/, for docs/client.md.
var updateScreenshots = flag.Bool("update-screenshots", false, "write the tests' screenshots into docs/client/")

// shared is the stack every test uses, each in rooms and with users of
// its own. Walkie runs with a LiveKit SFU, so a room goes live when its
// floor_config says so; the others stay in broadcast mode.
var shared *stack.Stack

// webFloor: Walkie's defaults, with room for a loaded CI machine (a
// browser per person, each encoding and decoding audio) to start a
// broadcast after a grant from the queue.
var webFloor = timers.Floor{StartTimeout: 10 * time.Second, InactivityTimeout: 10 * time.Second,
	MaxTalk: 60 * time.Second, QueueTimeout: 60 * time.Second, NoRateLimit: true}

func TestMain(m *testing.M) {
	sfu := &sfu{}
	code := stack.Main(m, "webclient", stack.Options{Floor: webFloor, Web: true, LiveKit: sfu.start}, func(s *stack.Stack) { shared = s })
	sfu.stop()
	os.Exit(code)
}

// sfu is the LiveKit server of live-mode rooms. It listens on the host
// side of a network namespace's veth pair: an address of the host that is
// not loopback, which Chromium (running on the host) gathers ICE
// candidates for and reaches directly.
type sfu struct {
	ns     *netns.Namespace
	server *livekit.Server
}

func (s *sfu) start(ctx context.Context, webhookURL string) (walkieproc.LiveKit, error) {
	var err error
	if s.ns, err = netns.Create(ctx); err != nil {
		return walkieproc.LiveKit{}, err
	}
	if s.server, err = livekit.Start(ctx, livekit.Options{NodeIP: s.ns.HostIP(), WebhookURLs: []string{webhookURL}}); err != nil {
		return walkieproc.LiveKit{}, err
	}
	return walkieproc.LiveKit{URL: s.server.URL(), APIURL: s.server.APIURL(), APIKey: s.server.APIKey(), APISecret: s.server.APISecret()}, nil
}

func (s *sfu) stop() {
	if s.server != nil {
		s.server.Stop()
	}
	if s.ns != nil {
		if err := s.ns.Remove(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
		}
	}
}
