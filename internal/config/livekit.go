package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// LiveKitConfig is the LiveKit SFU that rooms in live mode carry their
// audio over (PROTOCOL.md "Live mode"; docs/admin.md "Live mode"). Walkie
// mints the clients' join tokens, sets who may publish through the
// server's room API, and takes the server's webhooks. Off while URL is
// empty.
//
// The secrets are never in this file: each comes from a file, or from an
// environment variable, so the config can be shown and kept in version
// control. walkie -g does not make them up either: LiveKit's own
// configuration holds the key pair, and the two must agree.
type LiveKitConfig struct {
	// URL is what clients connect to (ws:// or wss://); the token service
	// hands it out with each token.
	URL string `yaml:"url"`
	// APIURL is where Walkie calls the server's room API; the default is
	// URL (with http:// for ws:// and https:// for wss://).
	APIURL string `yaml:"api_url"`
	// APIKey names the key pair (a key of the server's keys: map).
	APIKey string `yaml:"api_key"`
	// APISecretFile holds the key's secret; when empty, the environment
	// variable WALKIE_LIVEKIT_API_SECRET does.
	APISecretFile string `yaml:"api_secret_file"`
	// WebhookKey is the key the server signs webhooks with (its
	// webhook.api_key); the default is APIKey.
	WebhookKey string `yaml:"webhook_key"`
	// WebhookSecretFile holds WebhookKey's secret when that is another key
	// than APIKey; when empty, WALKIE_LIVEKIT_WEBHOOK_SECRET does.
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// TokenTTL is how long a join token is valid; a client must join
	// within it (LiveKit refreshes a connected client's token itself).
	TokenTTL time.Duration `yaml:"token_ttl"`
}

// The environment variables that hold the secrets when no file is given.
const (
	LiveKitAPISecretEnv     = "WALKIE_LIVEKIT_API_SECRET"
	LiveKitWebhookSecretEnv = "WALKIE_LIVEKIT_WEBHOOK_SECRET"
)

// minLiveKitSecretLength is what livekit-server asks of a secret (it
// complains about shorter ones); `livekit-server generate-keys` makes
// longer ones.
const minLiveKitSecretLength = 32

// Enabled says whether live mode is available.
func (l LiveKitConfig) Enabled() bool { return l.URL != "" }

// ServerAPIURL is api_url, or url with its WebSocket scheme swapped for
// HTTP's.
func (l LiveKitConfig) ServerAPIURL() string {
	u := l.APIURL
	if u == "" {
		u = l.URL
	}
	if rest, ok := strings.CutPrefix(u, "ws://"); ok {
		return "http://" + rest
	}
	if rest, ok := strings.CutPrefix(u, "wss://"); ok {
		return "https://" + rest
	}
	return u
}

// WebhookAPIKey is webhook_key, or api_key.
func (l LiveKitConfig) WebhookAPIKey() string {
	if l.WebhookKey != "" {
		return l.WebhookKey
	}
	return l.APIKey
}

// LiveKitSecrets are the secrets of the API key and the webhook key (the
// same one unless webhook_key names another key).
type LiveKitSecrets struct {
	API     string
	Webhook string
}

// Secrets reads the secrets from their files or environment variables.
// Errors name the key (or variable), never a secret.
func (l LiveKitConfig) Secrets() (LiveKitSecrets, error) {
	var s LiveKitSecrets
	var err error
	if s.API, err = readSecret("livekit.api_secret_file", l.APISecretFile, LiveKitAPISecretEnv); err != nil {
		return s, err
	}
	if l.WebhookAPIKey() == l.APIKey {
		s.Webhook = s.API
		return s, nil
	}
	s.Webhook, err = readSecret("livekit.webhook_secret_file", l.WebhookSecretFile, LiveKitWebhookSecretEnv)
	return s, err
}

// readSecret reads a secret from path, or from the environment variable
// env when path is empty. A file may end with a newline.
func readSecret(key, path, env string) (string, error) {
	var secret string
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", &KeyError{Key: key, Msg: fmt.Sprintf("cannot read the secret: %v", errors.Unwrap(err))}
		}
		secret = strings.TrimRight(string(data), "\r\n")
	} else {
		secret = os.Getenv(env)
		key = env
	}
	switch {
	case secret == "":
		return "", &KeyError{Key: key, Msg: "the secret is empty"}
	case len(secret) < minLiveKitSecretLength || strings.ContainsAny(secret, " \t\r\n"):
		return "", &KeyError{Key: key, Msg: fmt.Sprintf("the secret must be at least %d characters without blanks, as livekit-server generate-keys makes them", minLiveKitSecretLength)}
	}
	return secret, nil
}

func (v *validator) liveKit(l LiveKitConfig, webListener bool) {
	const key = "livekit."
	if !l.Enabled() {
		if l != (LiveKitConfig{TokenTTL: l.TokenTTL}) {
			v.add(key+"url", "missing: the other livekit keys mean nothing without it; set the URL clients connect to, e.g. wss://livekit.example.org")
		}
		return
	}
	v.liveKitURL(key+"url", l.URL)
	if l.APIURL != "" {
		v.liveKitURL(key+"api_url", l.APIURL)
	}
	if !webListener {
		v.add(key+"url", "live mode needs the web listener, which serves the token service and the webhooks: set web.listen")
	}
	if v.required(key+"api_key", l.APIKey) && !safeToken(l.APIKey) {
		v.add(key+"api_key", "may hold only A-Z, a-z, 0-9 and ._~+/=-")
	}
	if l.APISecretFile == "" && os.Getenv(LiveKitAPISecretEnv) == "" {
		v.add(key+"api_secret_file", "missing: name the file that holds the API key's secret, or set %s", LiveKitAPISecretEnv)
	}
	if l.WebhookKey != "" && !safeToken(l.WebhookKey) {
		v.add(key+"webhook_key", "may hold only A-Z, a-z, 0-9 and ._~+/=-")
	}
	if l.WebhookAPIKey() != l.APIKey && l.WebhookSecretFile == "" && os.Getenv(LiveKitWebhookSecretEnv) == "" {
		v.add(key+"webhook_secret_file", "missing: webhook_key names another key than api_key, so name the file that holds its secret, or set %s", LiveKitWebhookSecretEnv)
	}
	if l.WebhookAPIKey() == l.APIKey && l.WebhookSecretFile != "" {
		v.add(key+"webhook_secret_file", "set, but webhook_key is api_key, whose secret is api_secret_file's")
	}
	v.durationRange(key+"token_ttl", l.TokenTTL, time.Minute, 24*time.Hour)
}

// liveKitURL: clients accept ws(s):// and http(s):// alike.
func (v *validator) liveKitURL(key, value string) {
	u, err := url.Parse(value)
	if err != nil || u.Host == "" || !map[string]bool{"ws": true, "wss": true, "http": true, "https": true}[u.Scheme] {
		v.add(key, "%q is not a ws://, wss://, http:// or https:// URL", value)
	}
}
