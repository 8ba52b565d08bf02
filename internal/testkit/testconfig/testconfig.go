// Package testconfig writes the config.yaml of a test deployment, from the
// few values a test cares about, so every tool that runs Walkie (the
// walkie process, the in-process benchmark, the service tests) starts from
// the same file and every other key keeps its shipped default.
package testconfig

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// Values are what a test deployment sets. Empty values leave their keys
// out, so Walkie's defaults apply.
type Values struct {
	HomeserverURL string
	Domain        string
	// Port is where Walkie listens on 127.0.0.1 (appservice.port) and
	// where the homeserver reaches it (appservice.address).
	Port int
	// ID is appservice.id; default "walkie".
	ID string
	// Bot is appservice.bot.username; default BotLocalpart. A second
	// controller in the same homeserver needs an ID and a bot of its own.
	Bot string
	// Tokens: config.TokenPlaceholder has `walkie -g` generate them.
	ASToken, HSToken, AdminToken string
	DatabaseURL                  string
	// MetricsListen turns metrics on at this host:port.
	MetricsListen string
	// WebListen turns the client-facing listener on at this host:port.
	WebListen string
	// Channel raises the floor channel's socket limits (with WebListen).
	Channel ChannelLimits
	// LiveKit turns live mode on (it needs WebListen).
	LiveKit *LiveKit
	// Permissions map a user ID, server name or "*" to block, user or admin.
	Permissions map[string]string
	Floor       timers.Floor
	LogLevel    string
	LogFormat   string
}

// ChannelLimits are web.floor_channel's socket limits; zero keeps a
// limit's default. A benchmark holding thousands of sockets for a few
// users raises them.
type ChannelLimits struct {
	PerUser int // max_sockets_per_user
	Total   int // max_sockets
}

func (l ChannelLimits) yaml() string {
	if l == (ChannelLimits{}) {
		return ""
	}
	var b strings.Builder
	b.WriteString("  floor_channel:\n")
	if l.PerUser > 0 {
		fmt.Fprintf(&b, "    max_sockets_per_user: %d\n", l.PerUser)
	}
	if l.Total > 0 {
		fmt.Fprintf(&b, "    max_sockets: %d\n", l.Total)
	}
	return b.String()
}

// LiveKit is the livekit section: the SFU's URL for clients, its API URL,
// and the key whose secret is in a file.
type LiveKit struct {
	URL, APIURL, APIKey, APISecretFile string
}

// BotLocalpart is the bot's user name in a test deployment, unless Values
// name another.
const BotLocalpart = "walkie"

// YAML is the config file.
func YAML(v Values) string {
	if v.ID == "" {
		v.ID = "walkie"
	}
	if v.Bot == "" {
		v.Bot = BotLocalpart
	}
	var b strings.Builder
	fmt.Fprintf(&b, "homeserver:\n  address: %q\n  domain: %q\n", v.HomeserverURL, v.Domain)
	fmt.Fprintf(&b, "appservice:\n  address: %q\n  hostname: 127.0.0.1\n  port: %d\n  id: %q\n",
		"http://127.0.0.1:"+strconv.Itoa(v.Port), v.Port, v.ID)
	fmt.Fprintf(&b, "  bot:\n    username: %s\n    displayname: Walkie\n", v.Bot)
	optional(&b, "  as_token: %q\n", v.ASToken)
	optional(&b, "  hs_token: %q\n", v.HSToken)
	optional(&b, "  admin_token: %q\n", v.AdminToken)
	fmt.Fprintf(&b, "database:\n  uri: %q\n", v.DatabaseURL)
	if v.MetricsListen != "" {
		fmt.Fprintf(&b, "metrics:\n  enabled: true\n  listen: %q\n", v.MetricsListen)
	}
	if v.WebListen != "" {
		fmt.Fprintf(&b, "web:\n  listen: %q\n", v.WebListen)
		b.WriteString(v.Channel.yaml())
	}
	if lk := v.LiveKit; lk != nil {
		fmt.Fprintf(&b, "livekit:\n  url: %q\n  api_key: %q\n  api_secret_file: %q\n", lk.URL, lk.APIKey, lk.APISecretFile)
		optional(&b, "  api_url: %q\n", lk.APIURL)
	}
	if len(v.Permissions) > 0 {
		b.WriteString("permissions:\n")
		for _, who := range slices.Sorted(maps.Keys(v.Permissions)) {
			fmt.Fprintf(&b, "  %q: %s\n", who, v.Permissions[who])
		}
	}
	b.WriteString(v.Floor.YAML())
	if v.LogLevel != "" || v.LogFormat != "" {
		b.WriteString("logging:\n")
		optional(&b, "  level: %s\n", v.LogLevel)
		optional(&b, "  format: %s\n", v.LogFormat)
	}
	return b.String()
}

func optional(b *strings.Builder, format, value string) {
	if value != "" {
		fmt.Fprintf(b, format, value)
	}
}

// Parse is the parsed and validated config, for a service run in-process.
func Parse(v Values) (*config.Config, error) {
	cfg, err := config.Parse([]byte(YAML(v)))
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("test config: %w", err)
	}
	return cfg, nil
}
