// Package homeserver is Walkie's client of the homeserver: the client it sends
// with, the checks at start-up that turn a misconfiguration into advice
// naming the key at fault, and the appservice ping.
package homeserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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
	if err := checkIdentity(ctx, client); err != nil {
		return err
	}
	if err := ensureRegistered(ctx, client); err != nil {
		return err
	}
	who, err := client.Whoami(ctx)
	switch {
	case errors.Is(err, mautrix.MUnknownToken):
		return fmt.Errorf("the homeserver does not accept appservice.as_token: %s (%w)", registerAdvice, err)
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

// registerAdvice is what to do when the homeserver does not know the
// as_token.
const registerAdvice = "check that appservice.as_token is the as_token of the registration file the homeserver loaded " +
	"(walkie -g writes both), register that file with the homeserver and restart it"

// checkIdentity asks the homeserver who the as_token belongs to, without
// asserting the bot's user ID. The two mistakes that make every later call
// fail look alike from there, and want different fixes: a token the
// homeserver does not know (the registration), and a homeserver.domain
// that is not the homeserver's server name (then the token is fine, but
// the bot's user ID belongs to another server).
func checkIdentity(ctx context.Context, client *mautrix.Client) error {
	u, err := url.Parse(client.BuildClientURL("v3", "account", "whoami"))
	if err != nil {
		return err
	}
	q := u.Query()
	q.Del("user_id") // the client asserts the bot's ID on every request
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+client.AccessToken)
	resp, err := client.Client.Do(req)
	if err != nil {
		return nil // unreachable now: whoami below reports it
	}
	defer resp.Body.Close()
	var body struct {
		UserID  string `json:"user_id"`
		ErrCode string `json:"errcode"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || body.ErrCode == mautrix.MUnknownToken.ErrCode:
		return fmt.Errorf("the homeserver does not accept appservice.as_token (%d %s): %s", resp.StatusCode, body.ErrCode, registerAdvice)
	case resp.StatusCode != http.StatusOK || body.UserID == "":
		return nil // no answer to compare with: whoami below decides
	}
	_, server, _ := strings.Cut(body.UserID, ":")
	if want := client.UserID.Homeserver(); server != want {
		return fmt.Errorf("homeserver.domain is %q, but the homeserver at homeserver.address calls itself %q "+
			"(the as_token belongs to %s): set homeserver.domain to %q, run walkie -g again and re-register", want, server, body.UserID, server)
	}
	return nil
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
		return fmt.Errorf("the homeserver does not accept appservice.as_token: %s (%w)", registerAdvice, err)
	}
	// Some homeservers refuse registration of the sender user in other
	// ways; whoami below tells whether it matters.
	return nil
}

// Ping asks the homeserver to ping this appservice (MSC2659, Matrix 1.7),
// which proves the path from the homeserver to Walkie. supported is false
// for homeservers without it (Dendrite 0.13 answers 404).
func Ping(ctx context.Context, client *mautrix.Client, appserviceID, txnID string) (took time.Duration, supported bool, err error) {
	url := client.BuildClientURL("v1", "appservice", appserviceID, "ping")
	var resp struct {
		DurationMS int64 `json:"duration_ms"`
	}
	_, err = client.MakeRequest(ctx, http.MethodPost, url, map[string]string{"transaction_id": txnID}, &resp)
	var httpErr mautrix.HTTPError
	if errors.Is(err, mautrix.MUnrecognized) || (errors.As(err, &httpErr) && httpErr.Response != nil &&
		(httpErr.Response.StatusCode == http.StatusNotFound || httpErr.Response.StatusCode == http.StatusMethodNotAllowed)) {
		return 0, false, nil
	}
	return time.Duration(resp.DurationMS) * time.Millisecond, true, err
}

// ping is the start-up ping: its outcome is only logged.
func ping(ctx context.Context, client *mautrix.Client, appserviceID string, log zerolog.Logger) {
	took, supported, err := Ping(ctx, client, appserviceID, "walkie-startup-ping")
	switch {
	case !supported:
		log.Info().Msg("Homeserver has no appservice ping endpoint (MSC2659); skipping the reachability check")
	case err == nil:
		log.Info().Int64("duration_ms", took.Milliseconds()).Msg("Homeserver reached Walkie (appservice ping)")
	default:
		log.Warn().Err(err).Msg("Homeserver could not ping Walkie: check appservice.address is reachable from the homeserver")
	}
}
