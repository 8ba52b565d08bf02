package livekit

import (
	"context"
	"testing"

	"github.com/walkie-ptt/walkie/internal/testkit/netns"
)

// StartInNamespace creates a network namespace for Go participants
// (lkpeer) and starts a server on the host side of its veth pair
// (opts.NodeIP is set to it); the test's cleanup stops the server and
// removes the namespace. Failures fail the test.
func StartInNamespace(t testing.TB, ctx context.Context, opts Options) (*Server, *netns.Namespace) {
	t.Helper()
	ns, err := netns.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Remove(); err != nil {
			t.Error(err)
		}
	})
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	opts.NodeIP = ns.HostIP()
	lk, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lk.Stop)
	return lk, ns
}
