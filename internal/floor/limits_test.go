package floor

import (
	"slices"
	"testing"
)

// Each floor_config key's range as PROTOCOL.md ("Timers and floor_config")
// documents it: both bounds are accepted and set the field, one past
// either is rejected and leaves the defaults alone.
func TestConfigLimitRanges(t *testing.T) {
	ranges := []struct {
		key    string
		lo, hi int64
	}{
		{"start_timeout_ms", 1000, 60000},
		{"inactivity_timeout_ms", 2000, 600000},
		{"max_talk_ms", 1000, 3600000},
		{"pause_grace_ms", 0, 300000},
		{"revoke_grace_ms", 0, 60000},
		{"queue_timeout_ms", 1000, 3600000},
		{"max_queue", 0, 100},
		{"preempt_power_level", 0, 100},
	}
	keys := []string{"queue", "summary", "mode"} // the booleans and the choice
	for _, r := range ranges {
		keys = append(keys, r.key)
		for _, n := range []int64{r.lo, r.hi} {
			if _, rejected := ParseConfigOverrides(map[string]any{r.key: float64(n)}, Config{}); len(rejected) != 0 {
				t.Errorf("%s = %d rejected", r.key, n)
			}
		}
		if cfg, _ := ParseConfigOverrides(map[string]any{r.key: float64(r.hi)}, Config{}); cfg == (Config{}) {
			t.Errorf("%s = %d sets nothing", r.key, r.hi)
		}
		for _, n := range []int64{r.lo - 1, r.hi + 1} {
			if cfg, rejected := ParseConfigOverrides(map[string]any{r.key: float64(n)}, Config{}); len(rejected) != 1 || cfg != (Config{}) {
				t.Errorf("%s = %d accepted", r.key, n)
			}
		}
	}
	for _, key := range []string{"queue", "summary"} {
		if cfg, rejected := ParseConfigOverrides(map[string]any{key: true}, Config{}); len(rejected) != 0 || cfg == (Config{}) {
			t.Errorf("%s = true not applied", key)
		}
	}
	for value, ok := range map[any]bool{"live": true, "broadcast": true, "LIVE": false, "": false, true: false, 1.0: false} {
		cfg, rejected := ParseConfigOverrides(map[string]any{"mode": value}, Config{})
		applied := ok && cfg.Mode == value
		if ok != (len(rejected) == 0) || (!ok && cfg != (Config{})) || ok != applied {
			t.Errorf("mode = %#v: config %+v, rejected %v", value, cfg, rejected)
		}
	}
	var tableKeys []string
	for _, l := range ConfigLimits() {
		if !l.OperatorOnly {
			tableKeys = append(tableKeys, l.Key())
		}
	}
	slices.Sort(keys)
	if got := slices.Sorted(slices.Values(tableKeys)); !slices.Equal(got, keys) {
		t.Errorf("floor_config keys %q, want %q", got, keys)
	}
}

// The permit caps protect the server from a room's members: config.yaml
// sets them (its validation reads their range from the table), a room's
// floor_config cannot.
func TestPermitCapsAreTheOperators(t *testing.T) {
	want := map[string][2]int64{"max_permits_per_user": {1, 100}, "max_permits_per_room": {1, 10000}}
	for _, l := range ConfigLimits() {
		r, ok := want[l.Name]
		if !ok {
			if l.OperatorOnly {
				t.Errorf("%s is operator-only", l.Name)
			}
			continue
		}
		delete(want, l.Name)
		if !l.OperatorOnly || l.Unit != UnitInteger || l.Min != r[0] || l.Max != r[1] {
			t.Errorf("%s: %+v, want an operator-only integer from %d to %d", l.Name, l, r[0], r[1])
		}
		if cfg, rejected := ParseConfigOverrides(map[string]any{l.Key(): 5.0}, Config{}); len(rejected) != 1 || cfg != (Config{}) {
			t.Errorf("a room set %s", l.Key())
		}
	}
	if len(want) != 0 {
		t.Errorf("missing from the limits table: %v", want)
	}
}
