package app

import (
	"fmt"
	"net/http"

	"github.com/walkie-ptt/walkie/internal/floorchannel"
	"github.com/walkie-ptt/walkie/internal/openid"
	"github.com/walkie-ptt/walkie/internal/webclient"
)

// webHandler is the client-facing listener's handler: the web client, and
// the endpoints clients call directly (the floor channel, whose server it
// leaves in s.channel for Run to run).
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
		verifier, err := openid.New(openid.Options{Servers: s.cfg.OpenIDServers(), Discover: fc.OpenIDDiscovery})
		if err != nil {
			return nil, fmt.Errorf("web.floor_channel.openid_servers: %w", err)
		}
		s.channel = floorchannel.New(floorchannel.Options{
			Decider: s.decider, Store: s.store, Verifier: verifier,
			PublicURL: s.cfg.Web.ClientPublicURL(), AllowedOrigins: fc.AllowedOrigins,
			MaxSocketsPerUser: fc.MaxSocketsPerUser, MaxSockets: fc.MaxSockets, Metrics: s.channelMetrics,
			Log: s.log.With().Str("component", "floorchannel").Logger(),
		})
		mux.Handle(floorchannel.Path, s.channel)
		clientCfg.FloorChannel = floorchannel.Path
	}
	client, err := webclient.New(clientCfg)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", client)
	return mux, nil
}
