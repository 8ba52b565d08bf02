// Package timers holds the floor timers tests run with: the MCPTT defaults
// (3GPP TS 24.380) that config.yaml ships, for tests that decide on a
// clock they control, and short timers, written as config.yaml's floor
// section, for tests that run Walkie and wait on the wall clock.
//
// It imports nothing of Walkie's, so the floor engine's own tests can use
// it too.
package timers

import (
	"fmt"
	"strings"
	"time"
)

// The MCPTT defaults, as config.yaml ships them (a test checks they agree).
const (
	StartTimeout      = 5 * time.Second
	InactivityTimeout = 10 * time.Second
	MaxTalk           = 30 * time.Second
	PauseGrace        = 3 * time.Second
	RevokeGrace       = 3 * time.Second
	QueueTimeout      = 60 * time.Second
)

// Floor is config.yaml's floor section for a test deployment. A zero
// duration leaves its key out, so Walkie's default applies.
type Floor struct {
	StartTimeout      time.Duration
	InactivityTimeout time.Duration
	MaxTalk           time.Duration
	PauseGrace        time.Duration
	RevokeGrace       time.Duration
	QueueTimeout      time.Duration
	// NoRateLimit turns the request rate limit off (rate_limit: 0): load
	// and fault tests want contention, not rate_limited denials.
	NoRateLimit bool
}

// Short keeps every timer short, so a floor falls idle within seconds of
// the last event and a test can read a finished history or see a timeout
// happen without waiting long. The rate limit is off.
var Short = Floor{
	StartTimeout:      2 * time.Second,
	InactivityTimeout: 3 * time.Second,
	MaxTalk:           30 * time.Second,
	PauseGrace:        2 * time.Second,
	RevokeGrace:       time.Second,
	QueueTimeout:      5 * time.Second,
	NoRateLimit:       true,
}

// YAML is the floor section, "floor:" line included; "" when every key
// keeps its default.
func (f Floor) YAML() string {
	var b strings.Builder
	for _, key := range []struct {
		name string
		d    time.Duration
	}{
		{"start_timeout", f.StartTimeout},
		{"inactivity_timeout", f.InactivityTimeout},
		{"max_talk", f.MaxTalk},
		{"pause_grace", f.PauseGrace},
		{"revoke_grace", f.RevokeGrace},
		{"queue_timeout", f.QueueTimeout},
	} {
		if key.d != 0 {
			fmt.Fprintf(&b, "  %s: %s\n", key.name, key.d)
		}
	}
	if f.NoRateLimit {
		b.WriteString("  rate_limit: 0\n")
	}
	if b.Len() == 0 {
		return ""
	}
	return "floor:\n" + b.String()
}
