// Package livekit runs a real, throwaway LiveKit SFU (livekit-server) for
// the live-mode tests.
//
// It runs the binary that `make livekit` builds from the separate
// tools/livekit module (pinned at Version) and never imports the server's
// packages, so the main module stays free of its dependencies. A missing
// or other-version binary fails Start with the command that builds it: a
// cold build takes minutes, too long to hide inside a test.
//
// Each Start gets its own directory, API key and secret, HTTP port and UDP
// media port, so tests may run several servers in parallel. The server is
// configured explicitly rather than with --dev: no Redis, no TURN, no
// ICE/TCP port (LiveKit's default 7881 would collide between servers), no
// STUN (the node IP is given, and there is no network to ask), webhooks
// signed with the test's own key.
//
//	lk, err := livekit.Start(ctx, livekit.Options{
//		WorkDir:     t.TempDir(),
//		NodeIP:      ns.HostIP(), // see internal/testkit/netns
//		WebhookURLs: []string{walkieURL + "/livekit/webhook"},
//	})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(lk.Stop)
//
// # Where it listens
//
// The HTTP/WebSocket port listens on 127.0.0.1 and, when Options.NodeIP is
// another address, on that address too; media (ICE over UDP) only on the
// node IP, which is also the one address its candidates name. With the
// default node IP 127.0.0.1 loopback candidates are switched on, which
// suits browsers (Chromium connects over loopback) but not the Go SDK:
// pion skips loopback interfaces, so Go participants need a node IP on a
// veth pair that reaches into their network namespace (netns.Create).
package livekit
