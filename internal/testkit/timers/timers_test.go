package timers_test

import (
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

// The unit tests' MCPTT set must be what a deployment gets by default.
func TestMCPTTDefaultsAreTheShippedOnes(t *testing.T) {
	cfg, err := config.Parse([]byte("logging:\n  level: info\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Floor
	got := []time.Duration{f.StartTimeout, f.InactivityTimeout, f.MaxTalk, f.PauseGrace, f.RevokeGrace, f.QueueTimeout}
	want := []time.Duration{timers.StartTimeout, timers.InactivityTimeout, timers.MaxTalk, timers.PauseGrace, timers.RevokeGrace, timers.QueueTimeout}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("timer %d: config.yaml's default is %s, the test set says %s", i, got[i], want[i])
		}
	}
}

func TestFloorYAMLSetsWhatItSays(t *testing.T) {
	cfg, err := config.Parse([]byte(timers.Short.YAML()))
	if err != nil {
		t.Fatalf("%v\n%s", err, timers.Short.YAML())
	}
	f, s := cfg.Floor, timers.Short
	if f.StartTimeout != s.StartTimeout || f.InactivityTimeout != s.InactivityTimeout || f.MaxTalk != s.MaxTalk ||
		f.PauseGrace != s.PauseGrace || f.RevokeGrace != s.RevokeGrace || f.QueueTimeout != s.QueueTimeout || f.RateLimit != 0 {
		t.Errorf("parsed %+v from\n%s", f, s.YAML())
	}
	// Keys left zero keep the defaults.
	cfg, err = config.Parse([]byte(timers.Floor{StartTimeout: time.Minute}.YAML()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Floor.StartTimeout != time.Minute || cfg.Floor.MaxTalk != timers.MaxTalk || cfg.Floor.RateLimit == 0 {
		t.Errorf("one key set: %+v", cfg.Floor)
	}
	if y := (timers.Floor{}).YAML(); y != "" {
		t.Errorf("no key set gave %q", y)
	}
}
