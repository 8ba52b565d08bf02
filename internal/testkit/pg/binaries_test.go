package pg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBinDir creates dir with executable stand-ins for the named tools.
func fakeBinDir(t *testing.T, dir string, tools ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		if err := os.WriteFile(filepath.Join(dir, tool), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindBinDirPicksHighestCompleteVersion(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing on PATH
	root := t.TempDir()
	fakeBinDir(t, filepath.Join(root, "9.6", "bin"), "initdb", "pg_ctl")
	fakeBinDir(t, filepath.Join(root, "13", "bin"), "initdb", "pg_ctl")
	want := fakeBinDir(t, filepath.Join(root, "15", "bin"), "initdb", "pg_ctl")
	fakeBinDir(t, filepath.Join(root, "16", "bin"), "initdb") // client-only leftovers: no pg_ctl
	fakeBinDir(t, filepath.Join(root, "devel", "bin"), "initdb", "pg_ctl")

	got, err := findBinDir(filepath.Join(root, "*", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("findBinDir = %s, want %s", got, want)
	}
}

func TestFindBinDirPrefersPath(t *testing.T) {
	onPath := fakeBinDir(t, t.TempDir(), "initdb", "pg_ctl")
	t.Setenv("PATH", onPath)
	root := t.TempDir()
	fakeBinDir(t, filepath.Join(root, "15", "bin"), "initdb", "pg_ctl")

	got, err := findBinDir(filepath.Join(root, "*", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	if got != onPath {
		t.Fatalf("findBinDir = %s, want the PATH directory %s", got, onPath)
	}
}

func TestFindBinDirWithoutPostgresSaysHowToFixIt(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := findBinDir(filepath.Join(t.TempDir(), "*", "bin"))
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	for _, hint := range []string{"apt-get install -y postgresql", "WALKIE_TEST_DATABASE_URL"} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error %q does not mention %q", err, hint)
		}
	}
}
