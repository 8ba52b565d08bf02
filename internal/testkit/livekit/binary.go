package livekit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Version is the livekit-server release the harness expects. It must match
// the version pinned in tools/livekit/go.mod (a test checks that it does)
// and LIVEKIT_VERSION in the Makefile.
const Version = "1.13.5"

const (
	// toolsModuleDir pins the server, relative to the repository root.
	toolsModuleDir = "tools/livekit"
	// binDirEnv overrides where the binary is looked for (the Makefile
	// exports it, pointing at the directory `make livekit` fills).
	binDirEnv = "WALKIE_LIVEKIT_BIN_DIR"
	// binaryName is what `make livekit` names the binary.
	binaryName = "livekit-server"
)

// checkBinary makes sure path is livekit-server at Version, and says how to
// build it when it is not.
func checkBinary(ctx context.Context, path string) error {
	const howTo = "build it with `make livekit` at the repository root (about 5 minutes the first time; " +
		"it builds tools/livekit into .cache/bin, or into $" + binDirEnv + ")"
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("livekit-server %s is not built: %s is missing; %s", Version, path, howTo)
	}
	if err != nil {
		return fmt.Errorf("livekit-server: %w", err)
	}
	if info.IsDir() {
		return fmt.Errorf("livekit-server: %s is a directory; %s", path, howTo)
	}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return fmt.Errorf("livekit-server: %s --version: %w; %s", path, err, howTo)
	}
	got := strings.TrimSpace(string(out))
	if want := "livekit-server version " + Version; got != want {
		return fmt.Errorf("livekit-server: %s says %q, want %q; %s", path, got, want, howTo)
	}
	return nil
}
