package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/testkit/testconfig"
	"github.com/walkie-ptt/walkie/internal/testkit/walkieproc"
)

// The walkie binary refuses, before it touches anything, a bot username
// that Synapse would refuse to load (it stops at '=', '+' or '/' in an
// appservice's sender_localpart) and a hand-written token with characters
// that break HTTP headers or YAML, naming the key and the reason.
func TestWalkieRefusesUsernamesAndTokensSomeHomeserversCannotTake(t *testing.T) {
	bin, err := walkieproc.Binary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		v    testconfig.Values
		want []string
	}{
		{"plus in the username", testconfig.Values{Bot: "walkie+ptt", ASToken: "AS6GOOD6TOKEN6VALUE", HSToken: "HS6GOOD6TOKEN6VALUE"},
			[]string{"appservice.bot.username", "Synapse refuses"}},
		{"space in a token", testconfig.Values{ASToken: "my secret", HSToken: "HS6GOOD6TOKEN6VALUE"},
			[]string{"appservice.as_token", "HTTP headers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.v.HomeserverURL, tc.v.Domain, tc.v.Port = "http://127.0.0.1:1", "localhost", 29399
			tc.v.DatabaseURL = "postgres://walkie@127.0.0.1:1/walkie"
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(testconfig.YAML(tc.v)), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "-c", path).CombinedOutput()
			if code := exitCode(err); code != 1 {
				t.Fatalf("walkie exited %d (%v), want 1:\n%s", code, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("walkie's output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
