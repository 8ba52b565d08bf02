package pg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// debianBinGlob is where Debian and Ubuntu put each major version's server
// binaries; they are not on PATH there (only the pg_wrapper scripts are).
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// ErrNotInstalled means no PostgreSQL server binaries could be found. The
// wrapping error tells the reader how to fix it.
var ErrNotInstalled = errors.New("PostgreSQL server binaries not found")

// FindBinDir returns the directory holding initdb and pg_ctl: the one on
// PATH if there is one, else the highest version under
// /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	return findBinDir(debianBinGlob)
}

func findBinDir(versionedGlob string) (string, error) {
	if dir, ok := binDirOnPath(); ok {
		return dir, nil
	}
	candidates, err := filepath.Glob(versionedGlob)
	if err != nil {
		return "", fmt.Errorf("pg: bad glob %q: %w", versionedGlob, err)
	}
	// Highest version first: "9.6" must lose to "15", which a plain string
	// sort would get wrong.
	sort.SliceStable(candidates, func(i, j int) bool {
		return versionAfter(versionOf(candidates[i]), versionOf(candidates[j]))
	})
	for _, dir := range candidates {
		if hasServerTools(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w (no initdb and pg_ctl on PATH or in %s): "+
		"install it (`apt-get install -y postgresql`) or set WALKIE_TEST_DATABASE_URL "+
		"to a server where tests may create databases", ErrNotInstalled, versionedGlob)
}

// binDirOnPath finds initdb on PATH and accepts its directory only when
// pg_ctl sits beside it. Symlinks are resolved so that a distribution's
// /usr/bin/initdb -> /usr/lib/.../initdb link leads to the real directory.
func binDirOnPath() (string, bool) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", false
	}
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	dir := filepath.Dir(initdb)
	return dir, hasServerTools(dir)
}

func hasServerTools(dir string) bool {
	for _, tool := range []string{"initdb", "pg_ctl"} {
		info, err := os.Stat(filepath.Join(dir, tool))
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionOf reads the version from ".../postgresql/<version>/bin".
func versionOf(binDir string) []int {
	var parts []int
	for _, field := range strings.Split(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(field)
		if err != nil {
			return nil // not a version directory: sorts last
		}
		parts = append(parts, n)
	}
	return parts
}

func versionAfter(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}
