package stack

import (
	"context"
	"io"

	"github.com/walkie-ptt/walkie/internal/testkit/livekit"
	"github.com/walkie-ptt/walkie/internal/testkit/netns"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// SFU is a LiveKit server for a stack's live mode, listening on the host
// side of a network namespace's veth pair: an address of the host that is
// not loopback, so Go participants (lkpeer) in the namespace and browsers
// on the host both reach it. Use its Start as Options.LiveKit, and Stop
// it after the stack:
//
//	sfu := &stack.SFU{}
//	s, err := stack.Start(ctx, stack.Options{Web: true, LiveKit: sfu.Start})
//	defer sfu.Stop()
type SFU struct {
	// Log receives the server's output (discarded when nil).
	Log io.Writer
	// Loopback puts the server on 127.0.0.1 instead, with no namespace
	// (no root needed): browsers on this machine reach it (it offers
	// loopback candidates), Go participants do not.
	Loopback bool
	// NS and Server exist once Start succeeded.
	NS     *netns.Namespace
	Server *livekit.Server
}

// Start creates the namespace and starts the server, which sends its
// webhooks to webhookURL.
func (s *SFU) Start(ctx context.Context, webhookURL string) (walkieproc.LiveKit, error) {
	opts := livekit.Options{WebhookURLs: []string{webhookURL}, LogWriter: s.Log}
	if !s.Loopback {
		var err error
		if s.NS, err = netns.Create(ctx); err != nil {
			return walkieproc.LiveKit{}, err
		}
		opts.NodeIP = s.NS.HostIP()
	}
	var err error
	s.Server, err = livekit.Start(ctx, opts)
	if err != nil {
		return walkieproc.LiveKit{}, err
	}
	return walkieproc.LiveKit{URL: s.Server.URL(), APIURL: s.Server.APIURL(), APIKey: s.Server.APIKey(), APISecret: s.Server.APISecret()}, nil
}

// Stop stops the server and removes the namespace; safe to call when
// Start failed or never ran.
func (s *SFU) Stop() error {
	if s.Server != nil {
		s.Server.Stop()
	}
	if s.NS != nil {
		return s.NS.Remove()
	}
	return nil
}
