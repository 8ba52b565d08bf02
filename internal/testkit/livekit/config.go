package livekit

import (
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// serverConfig is the part of livekit-server's config.yaml the harness
// sets. The server parses its file strictly, so a misspelt key fails
// its start (and the test) rather than being ignored.
type serverConfig struct {
	Port          int               `yaml:"port"`
	BindAddresses []string          `yaml:"bind_addresses"`
	Keys          map[string]string `yaml:"keys"`
	LogLevel      string            `yaml:"log_level"`
	RTC           rtcConfig         `yaml:"rtc"`
	TURN          turnConfig        `yaml:"turn"`
	Room          roomConfig        `yaml:"room"`
	Webhook       *webhookConfig    `yaml:"webhook,omitempty"`
}

type rtcConfig struct {
	// UDPPort is the one UDP port all media shares (ICE/UDP mux).
	UDPPort int `yaml:"udp_port"`
	// TCPPort 0 switches ICE/TCP off; its default 7881 would collide
	// between servers running at once.
	TCPPort int `yaml:"tcp_port"`
	// NodeIP is the address every candidate names; with it set and
	// UseExternalIP false, the server asks no STUN server.
	NodeIP                  string    `yaml:"node_ip"`
	UseExternalIP           bool      `yaml:"use_external_ip"`
	EnableLoopbackCandidate bool      `yaml:"enable_loopback_candidate"`
	IPs                     ipsConfig `yaml:"ips"`
}

// ipsConfig limits the addresses media listens on.
type ipsConfig struct {
	Includes []string `yaml:"includes"`
}

type turnConfig struct {
	Enabled bool `yaml:"enabled"`
}

type roomConfig struct {
	AutoCreate bool `yaml:"auto_create"`
	// EmptyTimeout and DepartureTimeout (seconds) keep rooms for a short
	// while; a test's rooms die with its server anyway.
	EmptyTimeout     int `yaml:"empty_timeout"`
	DepartureTimeout int `yaml:"departure_timeout"`
}

// webhookConfig: the server signs each webhook with APIKey's secret.
type webhookConfig struct {
	APIKey string   `yaml:"api_key"`
	URLs   []string `yaml:"urls"`
}

// write renders the config into dir/livekit.yaml, readable only by its
// owner (it holds the secret).
func (c serverConfig) write(dir string) (string, error) {
	data, err := yaml.Marshal(c)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "livekit.yaml")
	return path, os.WriteFile(path, data, 0o600)
}
