package floor

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Config holds a room's effective limits and timers: config.yaml's defaults
// overridden by the room's floor_config state event.
type Config struct {
	StartTimeout      time.Duration `json:"start_timeout"`
	InactivityTimeout time.Duration `json:"inactivity_timeout"`
	MaxTalk           time.Duration `json:"max_talk"`
	PauseGrace        time.Duration `json:"pause_grace"`
	RevokeGrace       time.Duration `json:"revoke_grace"`
	QueueTimeout      time.Duration `json:"queue_timeout"`
	Queue             bool          `json:"queue"`
	MaxQueue          int           `json:"max_queue"`
	PreemptPowerLevel int           `json:"preempt_power_level"`
	// OneRoomPerDevice makes a device that holds the floor in one room get
	// busy_elsewhere in every other room.
	OneRoomPerDevice bool `json:"one_room_per_device"`
	// RateLimit is how many talk requests one device may make per RateWindow
	// in one room; 0 disables the limit.
	RateLimit  int           `json:"rate_limit"`
	RateWindow time.Duration `json:"rate_window"`
	// Summary posts "Alice spoke for 12 s" after a broadcast stops.
	Summary bool `json:"summary"`
}

// configKey validates and applies one floor_config key.
type configKey struct {
	rule  string // how a valid value looks, for the rejection notice
	apply func(c *Config, v any) bool
}

// configKeys are the floor_config keys a room may set. Timers are integer
// milliseconds with an `_ms` suffix; config.yaml uses Go durations instead.
var configKeys = map[string]configKey{
	"start_timeout_ms":      millis(1000, 60000, func(c *Config) *time.Duration { return &c.StartTimeout }),
	"inactivity_timeout_ms": millis(2000, 600000, func(c *Config) *time.Duration { return &c.InactivityTimeout }),
	"max_talk_ms":           millis(1000, 3600000, func(c *Config) *time.Duration { return &c.MaxTalk }),
	"pause_grace_ms":        millis(0, 300000, func(c *Config) *time.Duration { return &c.PauseGrace }),
	"revoke_grace_ms":       millis(0, 60000, func(c *Config) *time.Duration { return &c.RevokeGrace }),
	"queue_timeout_ms":      millis(1000, 3600000, func(c *Config) *time.Duration { return &c.QueueTimeout }),
	"queue":                 boolean(func(c *Config) *bool { return &c.Queue }),
	"max_queue":             integer(0, 100, func(c *Config) *int { return &c.MaxQueue }),
	"preempt_power_level":   integer(0, 100, func(c *Config) *int { return &c.PreemptPowerLevel }),
	// PROTOCOL.md makes the summary notice "optional, per room".
	"summary": boolean(func(c *Config) *bool { return &c.Summary }),
}

func millis(lo, hi int64, field func(*Config) *time.Duration) configKey {
	return configKey{
		rule: fmt.Sprintf("an integer from %d to %d (milliseconds)", lo, hi),
		apply: func(c *Config, v any) bool {
			n, ok := asInteger(v)
			if !ok || n < lo || n > hi {
				return false
			}
			*field(c) = time.Duration(n) * time.Millisecond
			return true
		},
	}
}

func integer(lo, hi int64, field func(*Config) *int) configKey {
	return configKey{
		rule: fmt.Sprintf("an integer from %d to %d", lo, hi),
		apply: func(c *Config, v any) bool {
			n, ok := asInteger(v)
			if !ok || n < lo || n > hi {
				return false
			}
			*field(c) = int(n)
			return true
		},
	}
}

func boolean(field func(*Config) *bool) configKey {
	return configKey{
		rule: "true or false",
		apply: func(c *Config, v any) bool {
			b, ok := v.(bool)
			if ok {
				*field(c) = b
			}
			return ok
		},
	}
}

// asInteger accepts what encoding/json produces for an integer (float64,
// or json.Number with UseNumber) and Go integers; 1.5, "5" and NaN are not.
func asInteger(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// ParseConfigOverrides applies a floor_config content to defaults and
// returns the effective config plus the keys it ignored (sorted): unknown
// keys, wrong types and out-of-range values.
func ParseConfigOverrides(values map[string]any, defaults Config) (Config, []string) {
	cfg, _, rejected := parseOverrides(values, defaults)
	return cfg, slices.Sorted(maps.Keys(rejected))
}

// parseOverrides is ParseConfigOverrides plus the accepted keys (to keep
// as Room.Overrides) and why each rejected key was rejected.
func parseOverrides(values map[string]any, defaults Config) (Config, map[string]any, map[string]string) {
	cfg := defaults
	accepted := map[string]any{}
	rejected := map[string]string{}
	for key, v := range values {
		k, known := configKeys[key]
		switch {
		case !known:
			rejected[key] = "unknown key"
		case !k.apply(&cfg, v):
			rejected[key] = "must be " + k.rule
		default:
			accepted[key] = v
		}
	}
	return cfg, accepted, rejected
}

// ApplyDefaults installs new config.yaml defaults and recomputes the
// effective config with the room's accepted overrides on top.
func (r *Room) ApplyDefaults(defaults Config) {
	r.Defaults = defaults
	r.Config, _ = ParseConfigOverrides(r.Overrides, defaults)
}

// onConfigChange applies a floor_config event. Rejected keys are ignored
// with one notice naming them; an empty content means back to defaults.
func (d *decider) onConfigChange(in ConfigChange) {
	d.applyConfig(in)
	d.enforceQueueLimit()
}

func (d *decider) applyConfig(in ConfigChange) {
	r := d.r
	cfg, accepted, rejected := parseOverrides(in.Values, r.Defaults)
	r.Config = cfg
	r.Overrides = nil
	if len(accepted) > 0 {
		r.Overrides = accepted
	}
	d.note(LogConfig, Device{UserID: in.Sender}, strings.Join(slices.Sorted(maps.Keys(rejected)), ","), in.EventID)
	if len(rejected) == 0 {
		return
	}
	var parts []string
	for _, key := range slices.Sorted(maps.Keys(rejected)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", key, rejected[key]))
	}
	d.notice("Walkie ignored these floor_config keys: "+strings.Join(parts, "; ")+".", "")
}
