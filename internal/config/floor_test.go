package config

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// config.yaml's floor defaults must obey the same ranges as a room's
// floor_config event, or a default could be one no room could set. Both
// read floor.ConfigLimits; this checks that config.yaml reaches every key
// of that table under its name and applies its range: each value around
// each bound is written into config.yaml and sent as floor_config, and
// both must accept or refuse it alike. Keys only the operator sets are
// refused by every room; config.yaml applies their range all the same.
func TestFloorRangesMatchFloorConfig(t *testing.T) {
	minimal, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	check := func(limit floor.ConfigLimit, yamlValue string, roomValue float64) {
		t.Helper()
		cfg, err := Parse(fmt.Appendf(slices.Clone(minimal), "floor:\n  %s: %s\n", limit.Name, yamlValue))
		if err != nil {
			t.Fatalf("floor.%s: %s: %v", limit.Name, yamlValue, err)
		}
		yamlRefused := slices.ContainsFunc(KeyErrors(cfg.Validate()), func(e *KeyError) bool { return e.Key == "floor."+limit.Name })
		_, rejected := floor.ParseConfigOverrides(map[string]any{limit.Key(): roomValue}, cfg.FloorDefaults())
		roomRefused := slices.Contains(rejected, limit.Key())
		if limit.OperatorOnly {
			inRange := int64(roomValue) >= limit.Min && int64(roomValue) <= limit.Max
			if !roomRefused || yamlRefused == inRange {
				t.Errorf("%s = %s: config.yaml refuses: %v, floor_config refuses: %v; want only out-of-range values refused by config.yaml, all by rooms",
					limit.Name, yamlValue, yamlRefused, roomRefused)
			}
			return
		}
		if yamlRefused != roomRefused {
			t.Errorf("%s = %s: config.yaml refuses: %v, floor_config refuses: %v", limit.Name, yamlValue, yamlRefused, roomRefused)
		}
	}
	checked := 0
	for _, limit := range floor.ConfigLimits() {
		if limit.Unit == floor.UnitBoolean || limit.Unit == floor.UnitChoice {
			continue // no range
		}
		checked++
		for _, bound := range []int64{limit.Min, limit.Max} {
			for _, n := range []int64{bound - 1, bound, bound + 1} {
				switch limit.Unit {
				case floor.UnitMillis:
					check(limit, (time.Duration(n) * time.Millisecond).String(), float64(n))
				case floor.UnitInteger:
					check(limit, fmt.Sprint(n), float64(n))
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no floor_config key with a range")
	}
}
