// Package config is Walkie's configuration: config.yaml is the single source
// of truth, and the homeserver's appservice registration is generated from it
// (walkie -g), never written by hand, so the two cannot drift apart.
//
// Parsing is strict: an unknown key is an error, because a misspelt key that
// silently falls back to its default is the worst kind of configuration bug.
// Every error names the key it is about, as a dotted path such as
// appservice.as_token.
package config

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// TokenPlaceholder is what the example config holds in place of the secrets
// that walkie -g generates. Validate refuses it, so nobody runs with it.
const TokenPlaceholder = "This value is generated when generating the registration"

// Config is the whole of config.yaml.
type Config struct {
	Homeserver  HomeserverConfig `yaml:"homeserver"`
	AppService  AppServiceConfig `yaml:"appservice"`
	Database    DatabaseConfig   `yaml:"database"`
	Metrics     MetricsConfig    `yaml:"metrics"`
	Web         WebConfig        `yaml:"web"`
	LiveKit     LiveKitConfig    `yaml:"livekit"`
	Permissions map[string]Level `yaml:"permissions"`
	Floor       FloorConfig      `yaml:"floor"`
	Logging     LoggingConfig    `yaml:"logging"`
}

// HomeserverConfig says how Walkie reaches its homeserver.
type HomeserverConfig struct {
	// Address is the URL Walkie uses to reach the homeserver's client-server API.
	Address string `yaml:"address"`
	// Domain is the server name: the part after the colon in user IDs.
	Domain string `yaml:"domain"`
}

// AppServiceConfig says how the homeserver reaches Walkie and who Walkie is.
type AppServiceConfig struct {
	// Address is the URL the homeserver uses to push transactions to Walkie.
	Address string `yaml:"address"`
	// Hostname and Port are where Walkie listens; an empty hostname listens
	// on every interface.
	Hostname string    `yaml:"hostname"`
	Port     int       `yaml:"port"`
	ID       string    `yaml:"id"`
	Bot      BotConfig `yaml:"bot"`
	// ASToken authenticates Walkie to the homeserver, HSToken the homeserver
	// to Walkie.
	ASToken string `yaml:"as_token"`
	HSToken string `yaml:"hs_token"`
	// MaxBodyBytes caps a transaction body from the homeserver; at least
	// MinMaxBodyBytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// AdminToken is the bearer token of the admin HTTP API; empty disables
	// that API.
	AdminToken string `yaml:"admin_token"`
}

// BotConfig is the controller bot: the user that arbitrates the floor.
type BotConfig struct {
	Username    string `yaml:"username"`
	Displayname string `yaml:"displayname"`
}

// DatabaseConfig is Walkie's PostgreSQL database.
type DatabaseConfig struct {
	// URI is a postgres:// URL.
	URI      string `yaml:"uri"`
	MaxConns int    `yaml:"max_conns"`
}

// MetricsConfig is the Prometheus endpoint.
type MetricsConfig struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"`
}

// WebConfig is the client-facing listener: the reference web client, and
// the endpoints clients call directly (the floor channel). It is off when
// Listen is empty. It is a listener of its own, apart from the appservice
// one, because it faces users (often through a reverse proxy) while the
// appservice listener should face only the homeserver.
type WebConfig struct {
	// Listen is the host:port to listen on; empty switches the web client off.
	Listen string `yaml:"listen"`
	// PublicURL is the URL people open (behind a proxy, the proxy's). The
	// default is http://<listen>.
	PublicURL string `yaml:"public_url"`
	// HomeserverURL is the client-server API URL the login form suggests,
	// as users reach it; the default is homeserver.address. Users may type
	// another, or a server name whose .well-known names one.
	HomeserverURL string `yaml:"homeserver_url"`
	// FloorChannel is the WebSocket clients ask for the floor over.
	FloorChannel FloorChannelConfig `yaml:"floor_channel"`
}

// FloorChannelConfig is the floor channel (docs/protocol.md, "Floor
// channel"), served on the web listener at /_walkie/v1/floor.
type FloorChannelConfig struct {
	// Enabled serves the channel; clients without it use room events.
	Enabled bool `yaml:"enabled"`
	// AllowedOrigins are the origins (scheme://host[:port]) of pages other
	// than the web client's own (public_url) that may open the channel;
	// "*" allows every page. Clients that send no Origin (not browsers)
	// are always allowed: the OpenID token is the credential.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxSocketsPerUser and MaxSockets bound one user's sockets and all
	// sockets.
	MaxSocketsPerUser int `yaml:"max_sockets_per_user"`
	MaxSockets        int `yaml:"max_sockets"`
	// OpenIDServers maps server names to the base URL of their federation
	// API, where the channel checks users' OpenID tokens. homeserver.domain
	// maps to homeserver.address unless listed here.
	OpenIDServers map[string]string `yaml:"openid_servers"`
	// OpenIDDiscovery finds the federation API of other servers as the
	// Matrix spec says (.well-known, SRV), over HTTPS to public addresses
	// only; off, users of unlisted servers cannot use the channel.
	OpenIDDiscovery bool `yaml:"openid_discovery"`
}

// Defaults of web.floor_channel's socket bounds, and of the floor
// channel's own Options (floorchannel.New), so the two cannot differ.
const (
	DefaultMaxSocketsPerUser = 10
	DefaultMaxSockets        = 20_000
)

// OpenIDServers is openid_servers with homeserver.domain's default.
func (c *Config) OpenIDServers() map[string]string {
	servers := map[string]string{c.Homeserver.Domain: c.Homeserver.Address}
	for name, u := range c.Web.FloorChannel.OpenIDServers {
		servers[name] = u
	}
	return servers
}

// Enabled says whether the client-facing listener runs.
func (w WebConfig) Enabled() bool { return w.Listen != "" }

// ClientPublicURL is public_url, or http://<listen> when it is not set.
func (w WebConfig) ClientPublicURL() string {
	if w.PublicURL != "" {
		return strings.TrimRight(w.PublicURL, "/")
	}
	return "http://" + w.Listen
}

// FloorConfig holds every room's floor defaults; a room's floor_config state
// event overrides them (PROTOCOL.md "Timers"). The engine's own Config is
// inlined, so its keys sit directly under floor: and a field added to the
// engine is a config.yaml key at once.
type FloorConfig struct {
	floor.Config `yaml:",inline"`
	// ManagePowerLevels lets the controller set the power levels the
	// protocol needs, once per room (PROTOCOL.md "Room setup"). It is the
	// operator's consent, the same for every room and not a floor_config
	// key, so the engine gets it as floor.Env.ManagePowerLevels rather than
	// in floor.Config.
	ManagePowerLevels bool `yaml:"manage_power_levels"`
}

// LoggingConfig is the log level and output format.
type LoggingConfig struct {
	// Level is one of trace, debug, info, warn, error.
	Level string `yaml:"level"`
	// Format is LogFormatJSON or LogFormatPretty.
	Format string `yaml:"format"`
}

// Log formats.
const (
	LogFormatJSON   = "json"
	LogFormatPretty = "pretty"
)

// defaults returns the configuration that absent keys fall back to. It is
// not valid on its own: addresses, tokens and the database are left empty.
func defaults() *Config {
	return &Config{
		AppService: AppServiceConfig{
			MaxBodyBytes: 16 << 20,
		},
		Database: DatabaseConfig{MaxConns: 10},
		Metrics:  MetricsConfig{Listen: "127.0.0.1:9330"},
		Web: WebConfig{FloorChannel: FloorChannelConfig{
			Enabled: true, MaxSocketsPerUser: DefaultMaxSocketsPerUser, MaxSockets: DefaultMaxSockets,
		}},
		// Defaults from MCPTT (3GPP TS 24.380), as PROTOCOL.md lists them.
		Floor: FloorConfig{
			Config: floor.Config{
				StartTimeout:      5 * time.Second,
				InactivityTimeout: 10 * time.Second,
				MaxTalk:           30 * time.Second,
				PauseGrace:        3 * time.Second,
				RevokeGrace:       3 * time.Second,
				QueueTimeout:      60 * time.Second,
				Queue:             true,
				MaxQueue:          8,
				PreemptPowerLevel: 50,
				OneRoomPerDevice:  true,
				RateLimit:         10,
				RateWindow:        10 * time.Second,
				Summary:           false,
				MaxPermitsPerUser: floor.DefaultMaxPermitsPerUser,
				MaxPermitsPerRoom: floor.DefaultMaxPermitsPerRoom,
				Mode:              floor.ModeBroadcast,
			},
			ManagePowerLevels: true,
		},
		LiveKit: LiveKitConfig{TokenTTL: time.Hour},
		Logging: LoggingConfig{Level: "info", Format: LogFormatPretty},
	}
}

// BotUserID is the controller's Matrix user ID.
func (c *Config) BotUserID() string {
	return "@" + c.AppService.Bot.Username + ":" + c.Homeserver.Domain
}

// ListenAddress is the host:port the appservice HTTP server listens on.
func (a AppServiceConfig) ListenAddress() string {
	return net.JoinHostPort(a.Hostname, strconv.Itoa(a.Port))
}

// MinMaxBodyBytes is the least appservice.max_body_bytes: above the largest
// transaction a homeserver sends (Synapse: 100 events of up to 64 KiB
// each, JSON escaping included), because a refused transaction is retried
// for ever and every room's delivery stops behind it.
const MinMaxBodyBytes = 8 << 20
