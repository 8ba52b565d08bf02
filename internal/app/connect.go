package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// NewClient builds the bot's client-server API client: appservice identity
// assertion (?user_id=), no hidden retries or rate-limit sleeps (the outbox
// owns retries).
func NewClient(homeserverURL, botUserID, asToken string, log zerolog.Logger) (*mautrix.Client, error) {
	client, err := mautrix.NewClient(homeserverURL, id.UserID(botUserID), asToken)
	if err != nil {
		return nil, fmt.Errorf("homeserver.address: %w", err)
	}
	client.SetAppServiceUserID = true
	client.IgnoreRateLimit = true
	client.DefaultHTTPRetries = 0
	// Keep a connection per concurrent room send alive: the default keeps
	// two per host, and every other request would dial anew.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 256
	client.Client = &http.Client{Timeout: 30 * time.Second, Transport: transport}
	// mautrix logs every failed request at error level; Walkie logs each
	// failure itself, with what it means and what happens next, so the
	// library's own lines are kept for debug logging only.
	client.Log = zerolog.Nop()
	if log.GetLevel() <= zerolog.DebugLevel {
		client.Log = log.With().Str("component", "mautrix").Logger()
	}
	client.UserAgent = "Walkie"
	return client, nil
}

// Connect checks the homeserver before Walkie reports ready: it waits for
// /versions, makes sure the bot user exists, verifies the as_token with
// whoami, pings the appservice where the homeserver supports it, and sets
// the display name. Errors that waiting cannot fix are returned with advice.
func Connect(ctx context.Context, client *mautrix.Client, appserviceID, displayName string, log zerolog.Logger) error {
	if err := waitForVersions(ctx, client, log); err != nil {
		return err
	}
	if err := ensureRegistered(ctx, client); err != nil {
		return err
	}
	who, err := client.Whoami(ctx)
	switch {
	case errors.Is(err, mautrix.MUnknownToken):
		return fmt.Errorf("the homeserver does not accept appservice.as_token: register registration.yaml with the homeserver and restart it (%w)", err)
	case errors.Is(err, mautrix.MExclusive):
		return fmt.Errorf("the bot user is claimed exclusively by another appservice: change appservice.bot.username (%w)", err)
	case err != nil:
		return fmt.Errorf("whoami as the bot: %w", err)
	case who.UserID != client.UserID:
		return fmt.Errorf("whoami answered %s, expected %s: check homeserver.domain and appservice.bot.username", who.UserID, client.UserID)
	}
	ping(ctx, client, appserviceID, log)
	if displayName != "" {
		if err := client.SetDisplayName(ctx, displayName); err != nil {
			log.Warn().Err(err).Msg("Could not set the bot's display name")
		}
	}
	return nil
}

func waitForVersions(ctx context.Context, client *mautrix.Client, log zerolog.Logger) error {
	delay := 500 * time.Millisecond
	for {
		_, err := client.Versions(ctx)
		if err == nil {
			return nil
		}
		log.Warn().Err(err).Str("homeserver", client.HomeserverURL.String()).Str("retry_in", delay.String()).
			Msg("Homeserver not reachable yet (homeserver.address); retrying")
		select {
		case <-ctx.Done():
			return fmt.Errorf("homeserver %s unreachable: %w", client.HomeserverURL, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// ensureRegistered registers the bot user through the appservice login
// type. Homeservers that create the sender_localpart user themselves
// answer M_USER_IN_USE, which is fine.
func ensureRegistered(ctx context.Context, client *mautrix.Client) error {
	req := map[string]any{"type": "m.login.application_service", "username": client.UserID.Localpart(), "inhibit_login": true}
	url := client.BuildClientURL("v3", "register")
	_, err := client.MakeRequest(ctx, http.MethodPost, url, req, nil)
	switch {
	case err == nil, errors.Is(err, mautrix.MUserInUse):
		return nil
	case errors.Is(err, mautrix.MExclusive):
		return fmt.Errorf("the bot user is outside this appservice's namespace or claimed by another: %w", err)
	case errors.Is(err, mautrix.MUnknownToken):
		return fmt.Errorf("the homeserver does not accept appservice.as_token: register registration.yaml with the homeserver and restart it (%w)", err)
	}
	// Some homeservers refuse registration of the sender user in other
	// ways; whoami below tells whether it matters.
	return nil
}

// ping asks the homeserver to ping this appservice (MSC2659, Matrix 1.7).
// Homeservers without it (Dendrite 0.13) answer 404: that is only logged.
func ping(ctx context.Context, client *mautrix.Client, appserviceID string, log zerolog.Logger) {
	url := client.BuildClientURL("v1", "appservice", appserviceID, "ping")
	var resp struct {
		DurationMS int64 `json:"duration_ms"`
	}
	_, err := client.MakeRequest(ctx, http.MethodPost, url, map[string]string{"transaction_id": "walkie-startup-ping"}, &resp)
	var httpErr mautrix.HTTPError
	switch {
	case err == nil:
		log.Info().Int64("duration_ms", resp.DurationMS).Msg("Homeserver reached Walkie (appservice ping)")
	case errors.Is(err, mautrix.MUnrecognized) || (errors.As(err, &httpErr) && httpErr.Response != nil &&
		(httpErr.Response.StatusCode == http.StatusNotFound || httpErr.Response.StatusCode == http.StatusMethodNotAllowed)):
		log.Info().Msg("Homeserver has no appservice ping endpoint (MSC2659); skipping the reachability check")
	default:
		log.Warn().Err(err).Msg("Homeserver could not ping Walkie: check appservice.address is reachable from the homeserver")
	}
}
