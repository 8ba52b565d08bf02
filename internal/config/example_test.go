package config

import (
	"bytes"
	"flag"
	"os"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the example files at the repository root")

const (
	rootConfigExample       = "../../config.example.yaml"
	rootRegistrationExample = "../../registration.example.yaml"
)

// exampleWithDummyTokens is the example config as walkie -g would leave it,
// with recognisable stand-ins for the random tokens.
func exampleWithDummyTokens(t *testing.T) *Config {
	t.Helper()
	cfg, err := Parse(ExampleYAML())
	if err != nil {
		t.Fatal(err)
	}
	cfg.AppService.ASToken = "AS-TOKEN-GENERATED-BY-WALKIE-G"
	cfg.AppService.HSToken = "HS-TOKEN-GENERATED-BY-WALKIE-G"
	cfg.AppService.AdminToken = "ADMIN-TOKEN-GENERATED-BY-WALKIE-G"
	return cfg
}

// TestRootExamples keeps the repository root's copies in step:
// config.example.yaml is the embedded example byte for byte, and
// registration.example.yaml is what it yields. Refresh them with
// go generate ./internal/config (which runs this test with -update).
func TestRootExamples(t *testing.T) {
	registration, err := exampleWithDummyTokens(t).Registration()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{
		rootConfigExample:       ExampleYAML(),
		rootRegistrationExample: registration,
	} {
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./internal/config", path)
		}
	}
}

func TestExampleParsesButNeedsTokens(t *testing.T) {
	cfg, err := Parse(ExampleYAML())
	if err != nil {
		t.Fatalf("the example does not parse strictly: %v", err)
	}
	var keys []string
	for _, ke := range KeyErrors(cfg.Validate()) {
		keys = append(keys, ke.Key)
	}
	want := []string{"appservice.as_token", "appservice.hs_token", "appservice.admin_token"}
	if !slices.Equal(keys, want) {
		t.Errorf("Validate blames %q, want exactly %q", keys, want)
	}
	if err := exampleWithDummyTokens(t).Validate(); err != nil {
		t.Errorf("with tokens: %v", err)
	}
}

// The example promises that a key left out takes the default it shows.
func TestExampleShowsTheDefaults(t *testing.T) {
	cfg, err := Parse(ExampleYAML())
	if err != nil {
		t.Fatal(err)
	}
	d := defaults()
	if cfg.Floor != d.Floor {
		t.Errorf("floor: example %+v, defaults %+v", cfg.Floor, d.Floor)
	}
	if fc, dfc := cfg.Web.FloorChannel, d.Web.FloorChannel; fc.Enabled != dfc.Enabled || fc.MaxSockets != dfc.MaxSockets ||
		fc.MaxSocketsPerUser != dfc.MaxSocketsPerUser || fc.OpenIDDiscovery != dfc.OpenIDDiscovery ||
		len(fc.AllowedOrigins) != 0 || len(fc.OpenIDServers) != 0 {
		t.Errorf("web.floor_channel: example %+v, defaults %+v", fc, dfc)
	}
	if cfg.LiveKit != d.LiveKit {
		t.Errorf("livekit: example %+v, defaults %+v", cfg.LiveKit, d.LiveKit)
	}
	if cfg.Logging != d.Logging {
		t.Errorf("logging: example %+v, defaults %+v", cfg.Logging, d.Logging)
	}
	if cfg.Database.MaxConns != d.Database.MaxConns || cfg.Metrics.Listen != d.Metrics.Listen ||
		cfg.AppService.MaxBodyBytes != d.AppService.MaxBodyBytes {
		t.Errorf("example %+v %+v %+v differs from the defaults", cfg.Database, cfg.Metrics, cfg.AppService)
	}
}
