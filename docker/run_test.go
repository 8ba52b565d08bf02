// Package docker_test checks docker/run.sh, the container's entry point,
// with a stand-in walkie binary, since no Docker engine is needed to follow
// its first-run steps.
package docker_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeWalkie is put on PATH in place of the real binary: it records its
// arguments and creates the file named after -c or -r when asked to
// generate one, as the real flags do.
const fakeWalkie = `#!/usr/bin/env bash
echo "$*" >> "$CALLS"
mode=run
while [ $# -gt 0 ]; do
	case "$1" in
	-e) mode=example ;;
	-g) mode=registration ;;
	-c) config="$2"; shift ;;
	-r) registration="$2"; shift ;;
	esac
	shift
done
case "$mode" in
example) echo "example: true" > "$config" ;;
registration) echo "id: walkie" > "$registration" ;;
esac
`

type entrypoint struct {
	dataDir, callsFile, binDir string
}

func newEntrypoint(t *testing.T) entrypoint {
	t.Helper()
	e := entrypoint{dataDir: t.TempDir(), binDir: t.TempDir()}
	e.callsFile = filepath.Join(t.TempDir(), "calls")
	if err := os.WriteFile(filepath.Join(e.binDir, "walkie"), []byte(fakeWalkie), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs docker/run.sh once, as `docker run` would, and returns what
// it printed and the walkie invocations it made.
func (e entrypoint) start(t *testing.T, args ...string) (output string, calls []string) {
	t.Helper()
	if err := os.WriteFile(e.callsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{"run.sh"}, args...)...)
	cmd.Env = append(os.Environ(),
		"PATH="+e.binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"WALKIE_DATA_DIR="+e.dataDir,
		"CALLS="+e.callsFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	recorded, err := os.ReadFile(e.callsFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), strings.Split(strings.TrimSpace(string(recorded)), "\n")
}

func TestRunScriptParses(t *testing.T) {
	if out, err := exec.Command("bash", "-n", "run.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n run.sh: %v\n%s", err, out)
	}
}

func TestRunScriptFirstRunFlow(t *testing.T) {
	e := newEntrypoint(t)
	config := filepath.Join(e.dataDir, "config.yaml")
	registration := filepath.Join(e.dataDir, "registration.yaml")

	out, calls := e.start(t)
	if want := "-e -c " + config; len(calls) != 1 || calls[0] != want {
		t.Fatalf("first start ran walkie %q, want once with %q", calls, want)
	}
	if !strings.Contains(out, "edit it") {
		t.Errorf("first start does not ask to edit the config:\n%s", out)
	}

	out, calls = e.start(t)
	if want := "-g -c " + config + " -r " + registration; len(calls) != 1 || calls[0] != want {
		t.Fatalf("second start ran walkie %q, want once with %q", calls, want)
	}
	if !strings.Contains(out, "register it") {
		t.Errorf("second start does not ask to register the appservice:\n%s", out)
	}

	_, calls = e.start(t, "--extra")
	if want := "-c " + config + " --extra"; len(calls) != 1 || calls[0] != want {
		t.Fatalf("third start ran walkie %q, want once with %q", calls, want)
	}
}
