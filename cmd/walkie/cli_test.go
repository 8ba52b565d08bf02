package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walkie-ptt/walkie/internal/app"
	"github.com/walkie-ptt/walkie/internal/config"
)

// walkie runs the command line as Main does, capturing its output.
func walkie(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExampleConfigIsWrittenOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if code, _, stderr := walkie(t, "-e", "-c", path); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, config.ExampleYAML()) {
		t.Error("the file is not the example config")
	}

	if err := os.WriteFile(path, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := walkie(t, "--generate-example-config", "--config", path)
	if code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("exit %d, stderr %q: want 1 and a refusal", code, stderr)
	}
	if got, _ := os.ReadFile(path); string(got) != "# mine\n" {
		t.Error("the existing file was overwritten")
	}
}

func TestGenerateRegistration(t *testing.T) {
	dir := t.TempDir()
	configPath := filepath.Join(dir, "config.yaml")
	registrationPath := filepath.Join(dir, "registration.yaml")
	if code, _, stderr := walkie(t, "-e", "-c", configPath); code != 0 {
		t.Fatalf("-e: exit %d: %s", code, stderr)
	}
	if code, _, stderr := walkie(t, "-g", "-c", configPath, "-r", registrationPath); code != 0 {
		t.Fatalf("-g: exit %d: %s", code, stderr)
	}

	cfg, err := config.Load(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the config is not valid after -g: %v", err)
	}
	want, err := cfg.Registration()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(registrationPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the registration does not match the config's tokens:\n%s", got)
	}
	for _, path := range []string{configPath, registrationPath} {
		if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(path), info.Mode().Perm())
		}
	}

	// Running -g again renews both tokens in both files.
	if code, _, stderr := walkie(t, "--generate-registration", "--config", configPath, "--registration", registrationPath); code != 0 {
		t.Fatalf("second -g: exit %d: %s", code, stderr)
	}
	renewed, err := config.Load(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.AppService.ASToken == cfg.AppService.ASToken || renewed.AppService.HSToken == cfg.AppService.HSToken {
		t.Error("the second -g did not renew the tokens")
	}
	if got, _ := os.ReadFile(registrationPath); !bytes.Contains(got, []byte(renewed.AppService.HSToken)) {
		t.Error("the registration does not carry the renewed hs_token")
	}
}

// An invalid config stops walkie before serve: exit 1, each bad key named.
func TestInvalidConfigNamesTheKey(t *testing.T) {
	dir := t.TempDir()
	for name, tt := range map[string]struct {
		data string
		want []string
	}{
		"placeholder tokens": {string(config.ExampleYAML()), []string{"appservice.as_token", "appservice.hs_token", "walkie -g"}},
		"unknown key":        {string(config.ExampleYAML()) + "colour: red\n", []string{"colour (line"}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := walkie(t, "-c", path)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1", name, code)
		}
		for _, want := range tt.want {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr %q does not mention %q", name, stderr, want)
			}
		}
		if strings.Contains(stderr, "Starting Walkie") {
			t.Errorf("%s: walkie started", name)
		}
	}

	code, _, stderr := walkie(t, "-c", filepath.Join(dir, "missing.yaml"))
	if code != 1 || !strings.Contains(stderr, "walkie -e") {
		t.Errorf("missing file: exit %d, stderr %q: want 1 and a hint at -e", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	defer func(v, c, b string) { Version, Commit, BuildTime = v, c, b }(Version, Commit, BuildTime)
	Version, Commit, BuildTime = "v1.2.3", "0123abc", "2026-01-02T03:04:05Z"
	for _, flag := range []string{"-v", "--version"} {
		code, stdout, _ := walkie(t, flag)
		if want := "walkie v1.2.3 (commit 0123abc, built 2026-01-02T03:04:05Z)\n"; code != 0 || stdout != want {
			t.Errorf("%s: exit %d, stdout %q, want 0 and %q", flag, code, stdout, want)
		}
	}
}

func TestCommandLineMistakes(t *testing.T) {
	code, stdout, _ := walkie(t, "-h")
	if code != 0 || !strings.Contains(stdout, "--generate-registration") {
		t.Errorf("-h: exit %d, stdout %q", code, stdout)
	}
	for _, args := range [][]string{
		{"-x"},
		{"-c"},
		{"serve"},
		{"-e", "-g"},
	} {
		code, _, stderr := walkie(t, args...)
		if code != 2 || !strings.Contains(stderr, "Usage: walkie") {
			t.Errorf("%q: exit %d, stderr %q: want 2 and the usage", args, code, stderr)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log := app.NewLogger(config.LoggingConfig{Level: "info", Format: config.LogFormatJSON}, &buf)
	log.Debug().Msg("hidden")
	log.Info().Str("room", "!r:example.org").Msg("shown")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if line["message"] != "shown" || line["level"] != "info" || line["room"] != "!r:example.org" || line["time"] == nil {
		t.Errorf("got %v", line)
	}

	buf.Reset()
	log = app.NewLogger(config.LoggingConfig{Level: "debug", Format: config.LogFormatPretty}, &buf)
	log.Debug().Msg("shown")
	if got := buf.String(); !strings.Contains(got, "DBG shown") || strings.Contains(got, "\x1b[") {
		t.Errorf("pretty output %q: want the message, without colour codes", got)
	}
}
