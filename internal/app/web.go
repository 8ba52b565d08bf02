package app

import (
	"net/http"

	"github.com/walkie-ptt/walkie/internal/webclient"
)

// webHandler is the client-facing listener's handler: the web client, and
// the endpoints clients call directly.
func (s *Service) webHandler() (http.Handler, error) {
	homeserverURL := s.cfg.Web.HomeserverURL
	if homeserverURL == "" {
		homeserverURL = s.cfg.Homeserver.Address
	}
	client, err := webclient.New(webclient.ClientConfig{
		Controller: s.cfg.BotUserID(), HomeserverURL: homeserverURL, ServerName: s.cfg.Homeserver.Domain,
		Version: s.build.Version,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", client)
	return mux, nil
}
