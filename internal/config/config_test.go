package config

import (
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// TestBadConfigs loads each file of testdata/bad, each with exactly one
// mistake, and checks that exactly that key is blamed.
func TestBadConfigs(t *testing.T) {
	tests := map[string]struct {
		key  string
		line int    // for mistakes found while parsing; 0 for Validate's
		msg  string // part of the message, where its wording matters
	}{
		"port_quoted":                   {key: "appservice.port", line: 7, msg: "remove the quotes"},
		"port_missing":                  {key: "appservice.port", line: 0, msg: "missing"},
		"database_uri_bad_escape":       {key: "database.uri", line: 0, msg: "%25"},
		"unknown_key":                   {key: "metric", line: 15},
		"unknown_nested_key":            {key: "appservice.bot.avatar", line: 11},
		"unknown_key_in_flow_mapping":   {key: "appservice.bot.avatar", line: 9},
		"duplicate_key":                 {key: "appservice.port", line: 8},
		"wrong_type":                    {key: "appservice.port", line: 7},
		"mapping_instead_of_scalar":     {key: "appservice.port", line: 8},
		"section_is_a_list":             {key: "floor", line: 16},
		"duration_without_unit":         {key: "floor.max_talk", line: 16},
		"placeholder_as_token":          {key: "appservice.as_token", line: 0},
		"placeholder_hs_token":          {key: "appservice.hs_token", line: 0},
		"placeholder_admin_token":       {key: "appservice.admin_token", line: 0},
		"missing_as_token":              {key: "appservice.as_token", line: 0},
		"same_tokens":                   {key: "appservice.hs_token", line: 0},
		"homeserver_url_without_scheme": {key: "homeserver.address", line: 0},
		"appservice_url_not_http":       {key: "appservice.address", line: 0},
		"domain_with_scheme":            {key: "homeserver.domain", line: 0},
		"domain_port_zero":              {key: "homeserver.domain", line: 0, msg: "not a server name"},
		"domain_port_too_big":           {key: "homeserver.domain", line: 0, msg: "not a server name"},
		"port_zero":                     {key: "appservice.port", line: 0},
		"port_too_big":                  {key: "appservice.port", line: 0},
		"missing_appservice_id":         {key: "appservice.id", line: 0},
		"bot_username_uppercase":        {key: "appservice.bot.username", line: 0},
		"bot_username_plus":             {key: "appservice.bot.username", line: 0, msg: "Synapse refuses"},
		"as_token_with_space":           {key: "appservice.as_token", line: 0, msg: "HTTP headers"},
		"admin_token_short":             {key: "appservice.admin_token", line: 0, msg: "at least 20"},
		"max_body_bytes_too_small":      {key: "appservice.max_body_bytes", line: 0},
		"database_uri_empty":            {key: "database.uri", line: 0},
		"database_uri_not_postgres":     {key: "database.uri", line: 0},
		"max_conns_zero":                {key: "database.max_conns", line: 0},
		"metrics_listen_without_port":   {key: "metrics.listen", line: 0},
		"web_public_url_without_listen": {key: "web.listen", line: 0, msg: "mean nothing without a listener"},
		"web_public_url_not_http":       {key: "web.public_url", line: 0},
		"channel_origin_with_path":      {key: "web.floor_channel.allowed_origins[0]", line: 0, msg: "not an origin"},
		"channel_openid_url_no_scheme":  {key: `web.floor_channel.openid_servers."example.com"`, line: 0, msg: "not an http"},
		"channel_openid_url_with_path":  {key: `web.floor_channel.openid_servers."example.com"`, line: 0, msg: "base URL"},
		"openid_server_port_padded":     {key: `web.floor_channel.openid_servers."example.com:08448"`, line: 0, msg: "not a server name"},
		"livekit_url_not_websocket":     {key: "livekit.url", line: 0, msg: "ws://"},
		"livekit_without_url":           {key: "livekit.url", line: 0, msg: "mean nothing without it"},
		"livekit_without_web_listener":  {key: "livekit.url", line: 0, msg: "web.listen"},
		"livekit_without_secret":        {key: "livekit.api_secret_file", line: 0, msg: LiveKitAPISecretEnv},
		"livekit_inline_secret":         {key: "livekit.api_secret", line: 16},
		"livekit_webhook_key_no_secret": {key: "livekit.webhook_secret_file", line: 0, msg: LiveKitWebhookSecretEnv},
		"livekit_token_ttl_too_long":    {key: "livekit.token_ttl", line: 0},
		"live_mode_without_livekit":     {key: "floor.mode", line: 0, msg: "livekit.url"},
		"permission_level_unknown":      {key: `permissions."@alice:example.org"`, line: 0},
		"permission_subject_invalid":    {key: `permissions."@alice"`, line: 0},
		"permission_port_too_big":       {key: `permissions."@alice:example.org:70000"`, line: 0},
		"max_talk_too_long":             {key: "floor.max_talk", line: 0},
		"start_timeout_zero":            {key: "floor.start_timeout", line: 0},
		"negative_rate_limit":           {key: "floor.rate_limit", line: 0},
		"max_queue_too_big":             {key: "floor.max_queue", line: 0},
		"logging_level_unknown":         {key: "logging.level", line: 0},
		"logging_format_unknown":        {key: "logging.format", line: 0},
	}

	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	for name := range tests {
		if !slices.Contains(names, name) {
			t.Errorf("testdata/bad/%s.yaml is missing", name)
		}
	}

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			want, ok := tests[name]
			if !ok {
				t.Fatalf("testdata/bad/%s.yaml has no expectation in this table", name)
			}
			cfg, err := Load("testdata/bad/" + name + ".yaml")
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			keyErrs := KeyErrors(err)
			if len(keyErrs) != 1 || keyErrs[0].Key != want.key || keyErrs[0].Line != want.line {
				t.Fatalf("got %v, want one error about %s at line %d", err, want.key, want.line)
			}
			if !strings.Contains(err.Error(), want.key) {
				t.Errorf("message %q does not name %s", err, want.key)
			}
			if !strings.Contains(err.Error(), want.msg) {
				t.Errorf("message %q does not say %q", err, want.msg)
			}
			for _, password := range databasePasswords(t, "testdata/bad/"+name+".yaml") {
				if strings.Contains(err.Error(), password) {
					t.Errorf("message %q echoes the database password", err)
				}
			}
		})
	}
}

// databasePasswords are the passwords a config file's database URI
// holds: the one url.Parse finds, and the one of the URI it cannot parse.
func databasePasswords(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	passwords := []string{"50%off"}
	for line := range strings.Lines(string(data)) {
		uri, ok := strings.CutPrefix(strings.TrimSpace(line), "uri:")
		if !ok {
			continue
		}
		if u, err := url.Parse(strings.TrimSpace(uri)); err == nil {
			if p, ok := u.User.Password(); ok && p != "" {
				passwords = append(passwords, p)
			}
		}
	}
	return passwords
}

// The "remove the quotes" hint is for a number or boolean written in
// quotes, and only that.
func TestQuotedValueHint(t *testing.T) {
	base := func(line string) string {
		return "homeserver:\n  address: http://localhost:8008\n  domain: example.org\nfloor:\n  " + line + "\n"
	}
	for line, hint := range map[string]bool{
		`max_queue: "3"`:    true,
		`queue: "true"`:     true,
		`max_queue: 1h`:     false, // not a number, quoted or not
		`max_queue: "1h"`:   false,
		`max_talk: "30"`:    false, // a duration needs its unit either way
		`queue: "1"`:        false, // not a boolean unquoted either
		`max_queue: "3.5"`:  false,
		`max_queue: "many"`: false,
	} {
		_, err := Parse([]byte(base(line)))
		if err == nil {
			t.Errorf("%s: accepted", line)
			continue
		}
		if got := strings.Contains(err.Error(), "remove the quotes"); got != hint {
			t.Errorf("%s: %v (hint wanted: %v)", line, err, hint)
		}
	}
}

// loadValid loads a testdata config that must be valid.
func loadValid(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestParseRefusesDocumentsThatAreNotOneMapping(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":         "",
		"only comments": "# nothing here\n",
		"two documents": "logging:\n  level: info\n---\nlogging:\n  level: debug\n",
		"syntax error":  "homeserver:\n  address: [http://x\n",
		"a list":        "- homeserver\n",
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMinimalConfigTakesDefaults(t *testing.T) {
	cfg := loadValid(t, "testdata/minimal.yaml")
	want := defaults()
	want.Homeserver = HomeserverConfig{Address: "http://localhost:8008", Domain: "example.org"}
	want.AppService.Address = "http://localhost:29330"
	want.AppService.Port = 29330
	want.AppService.ID = "walkie"
	want.AppService.Bot.Username = "walkie"
	want.AppService.ASToken = "AS6TESTTOKEN6NOT6A6SECRET"
	want.AppService.HSToken = "HS6TESTTOKEN6NOT6A6SECRET"
	want.Database.URI = "postgres://walkie@localhost/walkie"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestFullConfigSetsEveryKey(t *testing.T) {
	cfg := loadValid(t, "testdata/full.yaml")
	want := &Config{
		Homeserver: HomeserverConfig{Address: "https://matrix.example.net", Domain: "example.net"},
		AppService: AppServiceConfig{
			Address:      "http://walkie:8080",
			Hostname:     "0.0.0.0",
			Port:         8080,
			ID:           "ptt",
			Bot:          BotConfig{Username: "floor.bot", Displayname: "Floor Bot"},
			ASToken:      "AS6TESTTOKEN6NOT6A6SECRET",
			HSToken:      "HS6TESTTOKEN6NOT6A6SECRET",
			MaxBodyBytes: 8 << 20,
			AdminToken:   "AD6TESTTOKEN6NOT6A6SECRET",
		},
		Database: DatabaseConfig{URI: "postgresql://ptt:secret@db:5432/ptt", MaxConns: 4},
		Metrics:  MetricsConfig{Enabled: true, Listen: "0.0.0.0:9100"},
		Web: WebConfig{Listen: "0.0.0.0:8080", PublicURL: "https://walkie.example.org/", HomeserverURL: "https://matrix.example.org",
			FloorChannel: FloorChannelConfig{Enabled: false, AllowedOrigins: []string{"https://app.example.org", "*"},
				MaxSocketsPerUser: 3, MaxSockets: 500, OpenIDServers: map[string]string{"example.com": "https://matrix.example.com:8448"},
				OpenIDDiscovery: true}},
		LiveKit: LiveKitConfig{
			URL: "wss://livekit.example.org", APIURL: "http://livekit:7880", APIKey: "walkie",
			APISecretFile: "/run/secrets/livekit-api", WebhookKey: "walkie-hooks",
			WebhookSecretFile: "/run/secrets/livekit-hooks", TokenTTL: 10 * time.Minute,
		},
		Permissions: map[string]Level{"*": LevelUser, "example.net": LevelAdmin, "@mallory:example.net": LevelBlock},
		Floor: FloorConfig{
			Config: floor.Config{
				StartTimeout:      2 * time.Second,
				InactivityTimeout: 20 * time.Second,
				MaxTalk:           time.Minute,
				PauseGrace:        0,
				RevokeGrace:       500 * time.Millisecond,
				QueueTimeout:      2 * time.Minute,
				Queue:             false,
				MaxQueue:          3,
				PreemptPowerLevel: 75,
				OneRoomPerDevice:  false,
				RateLimit:         0,
				RateWindow:        time.Minute,
				Summary:           true,
				MaxPermitsPerUser: 5,
				MaxPermitsPerRoom: 200,
				Mode:              "live",
			},
			ManagePowerLevels: false,
		},
		Logging: LoggingConfig{Level: "debug", Format: LogFormatJSON},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg, want)
	}
	// full.yaml must keep covering every key: each must differ from its
	// default, or a key that is not decoded would go unnoticed.
	for _, path := range sameLeaves(reflect.ValueOf(*cfg), reflect.ValueOf(*defaults()), "") {
		t.Errorf("testdata/full.yaml leaves %s at its default", path)
	}
}

// sameLeaves lists the fields of two structs, recursively, that are equal.
func sameLeaves(a, b reflect.Value, path string) []string {
	if a.Kind() != reflect.Struct {
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return []string{path}
		}
		return nil
	}
	var same []string
	for i := range a.NumField() {
		same = append(same, sameLeaves(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name)...)
	}
	return same
}

// The floor section is the engine's Config plus manage_power_levels:
// FloorDefaults hands the engine all of it (TestFullConfigSetsEveryKey
// checks full.yaml reaches every field), and each engine field has a
// config.yaml key of its own, the same one the admin API shows.
func TestFloorDefaultsCarryTheFloorSection(t *testing.T) {
	cfg := loadValid(t, "testdata/full.yaml")
	if got := cfg.FloorDefaults(); got != cfg.Floor.Config {
		t.Errorf("FloorDefaults() = %+v, from %+v", got, cfg.Floor.Config)
	}
	fields := reflect.TypeFor[floor.Config]()
	for i := range fields.NumField() {
		f := fields.Field(i)
		if key := f.Tag.Get("yaml"); key == "" || key != f.Tag.Get("json") {
			t.Errorf("floor.Config.%s: yaml key %q, json key %q", f.Name, key, f.Tag.Get("json"))
		}
	}
}

func TestIdentity(t *testing.T) {
	cfg := loadValid(t, "testdata/full.yaml")
	if got := cfg.BotUserID(); got != "@floor.bot:example.net" {
		t.Errorf("BotUserID() = %q", got)
	}
	if got := cfg.AppService.ListenAddress(); got != "0.0.0.0:8080" {
		t.Errorf("ListenAddress() = %q", got)
	}
	cfg.AppService.Hostname = "::1"
	if got := cfg.AppService.ListenAddress(); got != "[::1]:8080" {
		t.Errorf("ListenAddress() = %q", got)
	}
}

// TestValidateServerNames: homeserver.domain and permission subjects are
// checked with openid.ValidServerName, the one check of server names
// (ports 1 to 65535 without a leading zero, IPv6 addresses without a zone).
func TestValidateServerNames(t *testing.T) {
	for name, want := range map[string]bool{
		"example.org": true, "example.org:8448": true, "localhost": true, "127.0.0.1:8008": true, "[::1]": true,
		"[2001:db8::1]:8448": true, "example.org:65535": true,
		"https://example.org": false, "example.org/": false, "example.org:": false, "example.org:123456": false,
		"[::1": false, "[example.org]": false, "user@example.org": false, "exa mple.org": false,
		// Accepted before the one check: no server listens on these.
		"example.org:0": false, "example.org:65536": false, "example.org:99999": false, "example.org:08448": false,
		"[fe80::1%eth0]": false,
	} {
		cfg := loadValid(t, "testdata/minimal.yaml")
		cfg.Homeserver.Domain = name
		cfg.Permissions = map[string]Level{"@alice:" + name: LevelUser, name: LevelAdmin}
		keys := map[string]bool{}
		for _, ke := range KeyErrors(cfg.Validate()) {
			keys[ke.Key] = true
		}
		wantKeys := map[string]bool{}
		if !want {
			wantKeys = map[string]bool{"homeserver.domain": true, keyPath("permissions", "@alice:"+name): true, keyPath("permissions", name): true}
		}
		if !maps.Equal(keys, wantKeys) {
			t.Errorf("server name %q: errors about %v, want %v", name, keys, wantKeys)
		}
	}
}

func TestParseReportsEveryMistake(t *testing.T) {
	_, err := Parse([]byte("appservice:\n  port: http\n  colour: red\nlogging:\n  level: [info]\n"))
	var keys []string
	for _, ke := range KeyErrors(err) {
		keys = append(keys, ke.Key)
	}
	want := []string{"appservice.port", "appservice.colour", "logging.level"}
	if !slices.Equal(keys, want) {
		t.Errorf("got keys %q from %v, want %q", keys, err, want)
	}
}
