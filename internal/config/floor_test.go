package config

import (
	"slices"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// config.yaml's floor defaults must obey the same ranges as a room's
// floor_config event, or a default could be one no room could set. Every
// value around every boundary of either is probed on both.
func TestFloorRangesMatchFloorConfig(t *testing.T) {
	cfg := loadValid(t, "testdata/minimal.yaml")
	durations := map[string]*time.Duration{
		"start_timeout":      &cfg.Floor.StartTimeout,
		"inactivity_timeout": &cfg.Floor.InactivityTimeout,
		"max_talk":           &cfg.Floor.MaxTalk,
		"pause_grace":        &cfg.Floor.PauseGrace,
		"revoke_grace":       &cfg.Floor.RevokeGrace,
		"queue_timeout":      &cfg.Floor.QueueTimeout,
	}
	ints := map[string]*int{
		"max_queue":           &cfg.Floor.MaxQueue,
		"preempt_power_level": &cfg.Floor.PreemptPowerLevel,
	}
	var durationProbes []time.Duration
	for _, edge := range []time.Duration{0, time.Second, 2 * time.Second, time.Minute, 5 * time.Minute, 10 * time.Minute, time.Hour} {
		durationProbes = append(durationProbes, edge-time.Millisecond, edge, edge+time.Millisecond)
	}
	intProbes := []int{-1, 0, 1, 50, 99, 100, 101}

	check := func(key, floorKey string, shown, value any) {
		t.Helper()
		yamlRefused := slices.ContainsFunc(KeyErrors(cfg.Validate()), func(e *KeyError) bool { return e.Key == "floor."+key })
		_, rejected := floor.ParseConfigOverrides(map[string]any{floorKey: value}, cfg.FloorDefaults())
		if roomRefused := slices.Contains(rejected, floorKey); yamlRefused != roomRefused {
			t.Errorf("%s = %v: config.yaml refuses: %v, floor_config refuses: %v", key, shown, yamlRefused, roomRefused)
		}
	}
	for key, field := range durations {
		saved := *field
		for _, d := range durationProbes {
			*field = d
			check(key, key+"_ms", d, float64(d.Milliseconds()))
		}
		*field = saved
	}
	for key, field := range ints {
		saved := *field
		for _, n := range intProbes {
			*field = n
			check(key, key, n, float64(n))
		}
		*field = saved
	}
}
