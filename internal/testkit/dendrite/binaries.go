package dendrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
)

// Version is the Dendrite release the harness expects. It must match
// the version pinned in e2e/tools/go.mod (a test checks that it does).
const Version = "0.13.8"

const (
	// toolsModuleDir is the separate Go module that pins Dendrite, relative
	// to the repository root. Keeping it apart keeps Dendrite's large
	// dependency graph out of the main go.mod.
	toolsModuleDir = "e2e/tools"
	// binDirEnv overrides where the binaries are looked for and built.
	binDirEnv = "WALKIE_DENDRITE_BIN_DIR"
)

// dendritePackages are the commands built from the tools module; their base
// names are the binary names.
var dendritePackages = []string{
	"github.com/matrix-org/dendrite/cmd/dendrite",
	"github.com/matrix-org/dendrite/cmd/generate-keys",
	"github.com/matrix-org/dendrite/cmd/create-account",
}

// buildMu serialises builds within one test binary. Separate test binaries
// (go test ./... runs packages in parallel) may still build concurrently;
// installBinaries stays correct then because each build renames complete
// files into place.
var buildMu sync.Mutex

// ensureBinaries makes sure binDir holds the Dendrite binaries at
// Version, building them from e2e/tools when any is missing or stale.
func ensureBinaries(ctx context.Context, binDir string, log io.Writer) error {
	buildMu.Lock()
	defer buildMu.Unlock()

	if binariesUpToDate(ctx, binDir) {
		return nil
	}
	root, err := checkout.Root()
	if err != nil {
		return fmt.Errorf("dendrite binaries missing in %s and cannot build them: %w", binDir, err)
	}
	return installBinaries(ctx, filepath.Join(root, toolsModuleDir), binDir, log)
}

// binariesUpToDate reports whether every binary exists and dendrite reports
// the expected version, so that a cache left over from an older pin is
// rebuilt instead of silently tested against.
func binariesUpToDate(ctx context.Context, binDir string) bool {
	for _, pkg := range dendritePackages {
		info, err := os.Stat(filepath.Join(binDir, binaryName(pkg)))
		if err != nil || info.IsDir() {
			return false
		}
	}
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "dendrite"), "-version").Output()
	return err == nil && strings.TrimSpace(string(out)) == Version
}

// installBinaries runs `go install` in the tools module into a scratch
// directory next to binDir, then renames each binary into place. Rename is
// atomic, so a concurrent reader never sees a half-written executable.
func installBinaries(ctx context.Context, toolsDir, binDir string, log io.Writer) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	scratch, err := os.MkdirTemp(binDir, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	var output bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", append([]string{"install"}, dendritePackages...)...)
	cmd.Dir = toolsDir
	// GOWORK=off: a go.work above the repository must not pull the tools
	// module into some other build list.
	cmd.Env = append(os.Environ(), "GOBIN="+scratch, "GOWORK=off")
	cmd.Stdout = io.MultiWriter(&output, log)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build dendrite in %s: %w\n%s", toolsDir, err, output.String())
	}
	for _, pkg := range dendritePackages {
		name := binaryName(pkg)
		if err := os.Rename(filepath.Join(scratch, name), filepath.Join(binDir, name)); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
	}
	return nil
}

// binaryName returns the last element of an import path, which `go install`
// uses as the binary name.
func binaryName(importPath string) string {
	return importPath[strings.LastIndex(importPath, "/")+1:]
}
