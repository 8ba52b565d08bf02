package walkieproc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/checkout"
)

var built struct {
	once sync.Once
	path string
	err  error
}

// Binary builds cmd/walkie of this checkout, once per process, and returns
// its path. The binary lands in one place per checkout under the temporary
// directory, replaced atomically: repeated runs reuse the space instead of
// leaving a copy each, a process still running the old file keeps it, and
// two checkouts tested at once never run each other's build.
func Binary(ctx context.Context) (string, error) {
	built.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		built.path, built.err = build(ctx)
	})
	return built.path, built.err
}

func build(ctx context.Context) (string, error) {
	root, err := checkout.Root()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(os.TempDir(), "walkie-testkit", hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	scratch, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(scratch, "walkie"), "./cmd/walkie")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build walkie: %v: %s", err, out)
	}
	bin := filepath.Join(dir, "walkie")
	return bin, os.Rename(filepath.Join(scratch, "walkie"), bin)
}
