package testconfig

import (
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/config"
	"github.com/walkie-ptt/walkie/internal/testkit/timers"
)

func TestEveryValueReachesTheConfig(t *testing.T) {
	cfg, err := Parse(Values{
		HomeserverURL: "http://127.0.0.1:8008", Domain: "example.test", Port: 29331, ID: "walkie-x", Bot: "walkie-x",
		ASToken: "AS6TOKEN", HSToken: "HS6TOKEN", AdminToken: "ADMIN6TOKEN6LONG6ENOUGH",
		DatabaseURL: "postgres://u@127.0.0.1:5432/db", MetricsListen: "127.0.0.1:9999",
		WebListen: "127.0.0.1:9998", Channel: ChannelLimits{PerUser: 2000, Total: 30000},
		Permissions: map[string]string{"example.test": "user", "@boss:example.test": "admin"},
		Floor:       timers.Short, LogLevel: "debug", LogFormat: config.LogFormatJSON,
	})
	if err != nil {
		t.Fatal(err)
	}
	as := cfg.AppService
	if cfg.Homeserver.Address != "http://127.0.0.1:8008" || cfg.Homeserver.Domain != "example.test" ||
		as.Address != "http://127.0.0.1:29331" || as.ListenAddress() != "127.0.0.1:29331" || as.ID != "walkie-x" ||
		as.ASToken != "AS6TOKEN" || as.HSToken != "HS6TOKEN" || as.AdminToken != "ADMIN6TOKEN6LONG6ENOUGH" ||
		cfg.BotUserID() != "@walkie-x:example.test" || cfg.Database.URI != "postgres://u@127.0.0.1:5432/db" ||
		!cfg.Metrics.Enabled || cfg.Metrics.Listen != "127.0.0.1:9999" || cfg.Web.Listen != "127.0.0.1:9998" ||
		cfg.Web.FloorChannel.MaxSocketsPerUser != 2000 || cfg.Web.FloorChannel.MaxSockets != 30000 || !cfg.Web.FloorChannel.Enabled ||
		cfg.Permissions["@boss:example.test"] != config.LevelAdmin || cfg.Floor.StartTimeout != timers.Short.StartTimeout ||
		cfg.Logging.Level != "debug" || cfg.Logging.Format != config.LogFormatJSON {
		t.Fatalf("config:\n%+v\nfrom:\n%s", cfg, YAML(Values{}))
	}
}

// Placeholders are what `walkie -g` replaces; left out, the keys keep
// their defaults (no admin API, metrics off).
func TestPlaceholdersAndOmissions(t *testing.T) {
	y := YAML(Values{ASToken: config.TokenPlaceholder, HSToken: config.TokenPlaceholder})
	if strings.Count(y, config.TokenPlaceholder) != 2 || !strings.Contains(y, "username: "+BotLocalpart+"\n") || strings.Contains(y, "admin_token") ||
		strings.Contains(y, "metrics") || strings.Contains(y, "permissions") || strings.Contains(y, "logging") ||
		strings.Contains(y, "floor") {
		t.Fatalf("config:\n%s", y)
	}
}

// The livekit section turns live mode on with the key's secret in a file.
func TestLiveKitReachesTheConfig(t *testing.T) {
	lk := &LiveKit{URL: "ws://10.0.0.1:7880", APIURL: "http://127.0.0.1:7880", APIKey: "walkie-test", APISecretFile: "/run/lk-secret"}
	cfg, err := Parse(Values{HomeserverURL: "http://127.0.0.1:8008", Domain: "example.test", Port: 29331,
		ASToken: "AS6TOKEN", HSToken: "HS6TOKEN", DatabaseURL: "postgres://u@127.0.0.1:5432/db",
		WebListen: "127.0.0.1:29332", LiveKit: lk})
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.LiveKit
	if !got.Enabled() || got.URL != lk.URL || got.APIURL != lk.APIURL || got.APIKey != lk.APIKey || got.APISecretFile != lk.APISecretFile {
		t.Fatalf("livekit section %+v, want %+v", got, *lk)
	}
}
