package floor

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Config holds a room's effective limits and timers: config.yaml's defaults
// overridden by the room's floor_config state event.
//
// config.yaml's floor section embeds it, so the yaml tags are that
// section's keys; the json tags are what the admin API shows.
type Config struct {
	StartTimeout      time.Duration `json:"start_timeout" yaml:"start_timeout"`
	InactivityTimeout time.Duration `json:"inactivity_timeout" yaml:"inactivity_timeout"`
	MaxTalk           time.Duration `json:"max_talk" yaml:"max_talk"`
	PauseGrace        time.Duration `json:"pause_grace" yaml:"pause_grace"`
	RevokeGrace       time.Duration `json:"revoke_grace" yaml:"revoke_grace"`
	QueueTimeout      time.Duration `json:"queue_timeout" yaml:"queue_timeout"`
	Queue             bool          `json:"queue" yaml:"queue"`
	MaxQueue          int           `json:"max_queue" yaml:"max_queue"`
	PreemptPowerLevel int           `json:"preempt_power_level" yaml:"preempt_power_level"`
	// OneRoomPerDevice makes a device that holds the floor in one room get
	// busy_elsewhere in every other room.
	OneRoomPerDevice bool `json:"one_room_per_device" yaml:"one_room_per_device"`
	// RateLimit is how many talk requests one device may make per RateWindow
	// in one room; 0 disables the limit.
	RateLimit  int           `json:"rate_limit" yaml:"rate_limit"`
	RateWindow time.Duration `json:"rate_window" yaml:"rate_window"`
	// Summary posts "Alice spoke for 12 s" after a broadcast stops.
	Summary bool `json:"summary" yaml:"summary"`
	// MaxPermitsPerUser and MaxPermitsPerRoom cap the talk permits a room
	// holds; a new permit beyond either is refused. 0 means the default.
	MaxPermitsPerUser int `json:"max_permits_per_user" yaml:"max_permits_per_user"`
	MaxPermitsPerRoom int `json:"max_permits_per_room" yaml:"max_permits_per_room"`
	// Mode is ModeBroadcast (audio in voice broadcast chunks) or ModeLive
	// (audio on the SFU, the floor enforced as publish permission); empty
	// means ModeBroadcast.
	Mode string `json:"mode" yaml:"mode"`
}

// Default permit caps, for a Config that sets none (0).
const (
	DefaultMaxPermitsPerUser = 20
	DefaultMaxPermitsPerRoom = 1000
)

// permitCaps are the effective permit caps.
func (c Config) permitCaps() (perUser, perRoom int) {
	perUser, perRoom = c.MaxPermitsPerUser, c.MaxPermitsPerRoom
	if perUser <= 0 {
		perUser = DefaultMaxPermitsPerUser
	}
	if perRoom <= 0 {
		perRoom = DefaultMaxPermitsPerRoom
	}
	return perUser, perRoom
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
		limit, known := limitsByKey[key]
		switch {
		case !known:
			rejected[key] = "unknown key"
		case limit.OperatorOnly:
			rejected[key] = "set by Walkie's operator only"
		case !limit.apply(&cfg, v):
			rejected[key] = "must be " + limit.rule()
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
	wasLive := d.r.Config.Live()
	d.applyConfig(in)
	d.onModeChange(wasLive)
	d.enforceQueueLimit()
}

func (d *decider) applyConfig(in ConfigChange) {
	r := d.r
	cfg, accepted, rejected := parseOverrides(in.Values, r.Defaults)
	if cfg.Live() && !r.Defaults.Live() && !d.env.LiveAvailable {
		cfg.Mode = r.Defaults.Mode
		delete(accepted, "mode")
		rejected["mode"] = "live mode is not set up on this server"
	}
	r.Config = cfg
	r.ConfigEventID, r.ConfigSender = in.EventID, in.Sender
	r.Overrides = nil
	if len(accepted) > 0 {
		r.Overrides = accepted
	}
	d.note(LogConfig, Device{UserID: in.Sender}, strings.Join(slices.Sorted(maps.Keys(rejected)), ","), in.EventID)
	if len(rejected) == 0 {
		return
	}
	if in.EventID != "" && in.EventID == r.ConfigNoticeFor || !r.Managed {
		return // told already, or not a room Walkie speaks in (yet)
	}
	var parts []string
	for _, key := range slices.Sorted(maps.Keys(rejected)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", key, rejected[key]))
	}
	d.notice("Walkie ignored these floor_config keys: "+strings.Join(parts, "; ")+".", "")
	r.ConfigNoticeFor = in.EventID
}
