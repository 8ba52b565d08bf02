// Package checkout finds the repository checkout a test or tool runs in:
// where cmd/walkie is built from, where e2e/tools pins Dendrite and where
// the demo's audio lies.
package checkout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// mainModule identifies the repository root while walking up.
const mainModule = "github.com/walkie-ptt/walkie"

// Root walks up from the working directory to the go.mod that declares the
// main module. Tests run in their package directory, so this finds the
// checkout the test binary was built from.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == mainModule {
			return dir, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod for module %s above the working directory", mainModule)
		}
		dir = parent
	}
}

// modulePath returns the module path declared in a go.mod file, or "".
// (golang.org/x/mod/modfile does this fully, but is not worth a dependency
// of the main module for one directive.)
func modulePath(goMod []byte) string {
	for _, line := range strings.Split(string(goMod), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// BinDir is where the binaries tests run (Dendrite, LiveKit) are built:
// the directory the environment variable env names, else <repo>/.cache/bin,
// which the Makefile fills.
func BinDir(env string) (string, error) {
	if dir := os.Getenv(env); dir != "" {
		return filepath.Abs(dir)
	}
	root, err := Root()
	if err != nil {
		return "", fmt.Errorf("locate the binaries (set %s to skip the lookup): %w", env, err)
	}
	return filepath.Join(root, ".cache", "bin"), nil
}
