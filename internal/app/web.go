package app

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/metrics"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/webclient"
)

// setUpClientAuth makes what the client-facing endpoints authenticate
// with: one OpenID verifier for the floor channel and the LiveKit token
// service, and live mode's LiveKit clients (which read their secrets now,
// so a missing one stops the start-up).
func (s *Service) setUpClientAuth(reg prometheus.Registerer) error {
	if !s.cfg.Web.Enabled() {
		return nil
	}
	var err error
	if servesLive(s.cfg) {
		live := metrics.NewLive(reg)
		if s.live, err = newLiveMode(s.cfg.LiveKit, s.store, s.decider, live, s.log.With().Str("component", "livekit").Logger()); err != nil {
			return err
		}
	}
	if s.cfg.Web.FloorChannel.Enabled || s.live != nil {
		s.verifier, err = openid.New(openid.Options{Servers: s.cfg.OpenIDServers(), Discover: s.cfg.Web.FloorChannel.OpenIDDiscovery})
		if err != nil {
			return fmt.Errorf("web.floor_channel.openid_servers: %w", err)
		}
	}
	return nil
}

// webHandler is the client-facing listener's handler: the web client, and
// the endpoints clients call directly (the floor channel, whose server it
// leaves in s.channel for Run to run; live mode's token service and
// LiveKit's webhooks).
func (s *Service) webHandler() (http.Handler, error) {
	homeserverURL := s.cfg.Web.HomeserverURL
	if homeserverURL == "" {
		homeserverURL = s.cfg.Homeserver.Address
	}
	clientCfg := webclient.ClientConfig{
		Controller: s.cfg.BotUserID(), HomeserverURL: homeserverURL, ServerName: s.cfg.Homeserver.Domain,
		Version: s.build.Version,
	}
	mux := http.NewServeMux()
	if fc := s.cfg.Web.FloorChannel; fc.Enabled {
		s.channel = floorchannel.New(floorchannel.Options{
			Decider: s.decider, Store: s.store, Verifier: s.verifier,
			PublicURL: s.cfg.Web.ClientPublicURL(), AllowedOrigins: fc.AllowedOrigins,
			MaxSocketsPerUser: fc.MaxSocketsPerUser, MaxSockets: fc.MaxSockets, Metrics: s.channelMetrics,
			Log: s.log.With().Str("component", "floorchannel").Logger(),
		})
		mux.Handle(floorchannel.Path, s.channel)
		clientCfg.FloorChannel = floorchannel.Path
	}
	if s.live != nil {
		s.live.mount(mux, s.verifier)
	}
	client, err := webclient.New(clientCfg)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", client)
	return mux, nil
}
