package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func liveKitSection(secretFile string) LiveKitConfig {
	return LiveKitConfig{URL: "wss://lk.example.org", APIKey: "walkie", APISecretFile: secretFile}
}

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodSecret = "0123456789abcdefghijklmnopqrstuv0123"

func TestLiveKitSecretsFromFileOrEnvironment(t *testing.T) {
	s, err := liveKitSection(writeSecret(t, goodSecret+"\n")).Secrets()
	if err != nil || s.API != goodSecret || s.Webhook != goodSecret {
		t.Fatalf("from a file: %+v, %v; want the secret without its newline, for both", s, err)
	}

	t.Setenv(LiveKitAPISecretEnv, goodSecret)
	if s, err = liveKitSection("").Secrets(); err != nil || s.API != goodSecret {
		t.Fatalf("from the environment: %+v, %v", s, err)
	}

	l := liveKitSection("")
	l.WebhookKey = "hooks"
	if _, err := l.Secrets(); err == nil || !strings.Contains(err.Error(), LiveKitWebhookSecretEnv) {
		t.Fatalf("another webhook key without its secret: %v", err)
	}
	l.WebhookSecretFile = writeSecret(t, strings.ToUpper(goodSecret))
	if s, err = l.Secrets(); err != nil || s.API != goodSecret || s.Webhook != strings.ToUpper(goodSecret) {
		t.Fatalf("another webhook key: %+v, %v", s, err)
	}
}

func TestLiveKitSecretsRefused(t *testing.T) {
	for name, content := range map[string]string{
		"empty":       "\n",
		"short":       "tooshort",
		"with blanks": "0123456789 abcdefghijklmnopqrstuv0123",
	} {
		_, err := liveKitSection(writeSecret(t, content)).Secrets()
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != "livekit.api_secret_file" {
			t.Errorf("%s: %v, want an error about livekit.api_secret_file", name, err)
		}
		if content != "\n" && strings.Contains(err.Error(), strings.TrimSpace(content)) {
			t.Errorf("%s: the error %q quotes the secret", name, err)
		}
	}
	if _, err := liveKitSection(filepath.Join(t.TempDir(), "absent")).Secrets(); err == nil || !strings.Contains(err.Error(), "livekit.api_secret_file") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestLiveKitServerAPIURL(t *testing.T) {
	for _, c := range []struct{ url, api, want string }{
		{"wss://lk.example.org", "", "https://lk.example.org"},
		{"ws://10.0.0.1:7880", "", "http://10.0.0.1:7880"},
		{"wss://lk.example.org", "http://127.0.0.1:7880", "http://127.0.0.1:7880"},
	} {
		if got := (LiveKitConfig{URL: c.url, APIURL: c.api}).ServerAPIURL(); got != c.want {
			t.Errorf("ServerAPIURL(%q, %q) = %q, want %q", c.url, c.api, got, c.want)
		}
	}
}

// walkie -g writes the appservice tokens and nothing else: a LiveKit
// section keeps its keys, and no secret appears in the file.
func TestGenerateTokensLeavesLiveKitAlone(t *testing.T) {
	data := readFile(t, "testdata/full.yaml")
	path := writeTemp(t, data)
	cfg, err := GenerateTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LiveKit != before.LiveKit {
		t.Errorf("livekit after walkie -g: %+v, before %+v", cfg.LiveKit, before.LiveKit)
	}
	after, _ := os.ReadFile(path)
	if strings.Count(string(after), "livekit") != strings.Count(string(data), "livekit") || strings.Contains(string(after), "api_secret:") {
		t.Errorf("walkie -g changed the livekit section:\n%s", after)
	}
}
