package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTemp writes a config file the way an operator's editor would (0644).
func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGenerateTokensChangesOnlyTheTokens(t *testing.T) {
	path := writeTemp(t, ExampleYAML())
	cfg, err := GenerateTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	wantMode(t, path, 0o600)

	as := cfg.AppService
	if as.ASToken == as.HSToken || as.ASToken == as.AdminToken || as.HSToken == as.AdminToken {
		t.Errorf("tokens are not distinct: %q %q %q", as.ASToken, as.HSToken, as.AdminToken)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
	reloaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if reloaded.AppService != as {
		t.Errorf("the file holds %+v, GenerateTokens returned %+v", reloaded.AppService, as)
	}

	// Line for line the example, except that each placeholder is now its
	// token, in the same quotes: every comment and blank line survives.
	got, _ := os.ReadFile(path)
	want := string(ExampleYAML())
	want = strings.Replace(want, `as_token: "`+TokenPlaceholder, `as_token: "`+as.ASToken, 1)
	want = strings.Replace(want, `hs_token: "`+TokenPlaceholder, `hs_token: "`+as.HSToken, 1)
	want = strings.Replace(want, `admin_token: "`+TokenPlaceholder, `admin_token: "`+as.AdminToken, 1)
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestGenerateTokensRenewsTokensButKeepsAnAdminToken(t *testing.T) {
	path := writeTemp(t, readFile(t, "testdata/full.yaml"))
	before, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	after, err := GenerateTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.AppService.ASToken == before.AppService.ASToken || after.AppService.HSToken == before.AppService.HSToken {
		t.Error("as_token and hs_token were not renewed")
	}
	if after.AppService.AdminToken != before.AppService.AdminToken {
		t.Error("an admin token the operator set was replaced")
	}
}

// tokenTestConfig is a valid config once the token lines at %s are filled in.
const tokenTestConfig = `homeserver:
  address: http://localhost:8008
  domain: example.org
appservice:
  # Where the homeserver reaches Walkie.
  address: http://localhost:29330
  port: 29330
  id: walkie
  bot: {username: walkie}
%s
database:
  uri: postgres://walkie@localhost/walkie
`

// Values in every style a hand-written file may use, and absent keys: each
// is replaced in place, in its own quotes, and nothing else changes.
func TestGenerateTokensWritesEveryValueStyle(t *testing.T) {
	for name, tt := range map[string]struct{ in, want string }{
		"plain": {
			"  as_token: old-as\n  hs_token: old-hs # keep this comment\n  admin_token: kept-hand-written-admin-token",
			"  as_token: {AS}\n  hs_token: {HS} # keep this comment\n  admin_token: kept-hand-written-admin-token",
		},
		"single quoted": {
			"  as_token: 'it''s old'\n  hs_token: 'x'\n  admin_token: 'This value is generated when generating the registration'",
			"  as_token: '{AS}'\n  hs_token: '{HS}'\n  admin_token: '{AD}'",
		},
		"double quoted": {
			"  as_token: \"a \\\" b\"\n  hs_token: \"\"\n  admin_token: \"This value is generated when generating the registration\"",
			"  as_token: \"{AS}\"\n  hs_token: \"{HS}\"\n  admin_token: \"{AD}\"",
		},
		"empty (an empty admin_token keeps the admin API off)": {
			"  as_token:\n  hs_token: # filled in by walkie -g\n  admin_token: \"\"",
			"  as_token: {AS}\n  hs_token: {HS} # filled in by walkie -g\n  admin_token: \"\"",
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, []byte(fmt.Sprintf(tokenTestConfig, tt.in)))
			cfg, err := GenerateTokens(path)
			if err != nil {
				t.Fatal(err)
			}
			as := cfg.AppService
			want := fmt.Sprintf(tokenTestConfig, strings.NewReplacer("{AS}", as.ASToken, "{HS}", as.HSToken, "{AD}", as.AdminToken).Replace(tt.want))
			if got := string(readFile(t, path)); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// Absent tokens go right below "appservice:", indented like its keys; an
// absent admin_token stays absent (the admin API stays off).
func TestGenerateTokensAddsAbsentKeys(t *testing.T) {
	path := writeTemp(t, []byte(fmt.Sprintf(tokenTestConfig, "  hs_token: old")))
	cfg, err := GenerateTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	as := cfg.AppService
	want := strings.Replace(fmt.Sprintf(tokenTestConfig, "  hs_token: "+as.HSToken),
		"appservice:\n", "appservice:\n  as_token: "+as.ASToken+"\n", 1)
	if got := string(readFile(t, path)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestGenerateTokensLeavesABrokenConfigAlone(t *testing.T) {
	tokens := "  as_token: old-as\n  hs_token: old-hs"
	for name, tt := range map[string]struct{ data, key string }{
		"invalid port": {
			strings.Replace(fmt.Sprintf(tokenTestConfig, tokens), "port: 29330", "port: 0", 1),
			"appservice.port",
		},
		"unknown key": {
			fmt.Sprintf(tokenTestConfig, tokens) + "colour: red\n",
			"colour",
		},
		"multi-line token": {
			fmt.Sprintf(tokenTestConfig, "  as_token: |\n    old-as\n  hs_token: old-hs"),
			"appservice.as_token",
		},
		"tagged token": {
			fmt.Sprintf(tokenTestConfig, "  as_token: !!str old-as\n  hs_token: old-hs"),
			"appservice.as_token",
		},
		"flow section": {
			"homeserver: {address: \"http://localhost:8008\", domain: example.org}\n" +
				"appservice: {address: \"http://localhost:29330\", port: 29330, id: walkie, bot: {username: walkie}}\n" +
				"database: {uri: \"postgres://walkie@localhost/walkie\"}\n",
			"appservice",
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, []byte(tt.data))
			_, err := GenerateTokens(path)
			keys := KeyErrors(err)
			if len(keys) != 1 || keys[0].Key != tt.key {
				t.Fatalf("got %v, want an error about %s", err, tt.key)
			}
			if got := string(readFile(t, path)); got != tt.data {
				t.Error("the file was changed")
			}
			wantMode(t, path, 0o644)
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("left files behind: %v", entries)
			}
		})
	}
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s has mode %v, want %v", filepath.Base(path), got, want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
