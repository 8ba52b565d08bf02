package pg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A process that dies without calling Stop (a test binary killed by
// `go test -timeout`, a panic in a test goroutine, SIGKILL) leaves its
// PostgreSQL server running and its directory behind. Each cluster directory
// therefore records the PID of the process that created it, and every Start
// first stops and removes the clusters whose creator is gone.

const ownerMarkFile = "owner.pid"

func writeOwnerMark(dir string) error {
	err := os.WriteFile(filepath.Join(dir, ownerMarkFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	if err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	return nil
}

// removeOrphans is best effort: a directory it cannot judge or clean (say,
// another user's) is left alone.
func removeOrphans(ctx context.Context, tools toolbox, baseDir string) {
	dirs, _ := filepath.Glob(filepath.Join(baseDir, dirPrefix+"*"))
	for _, dir := range dirs {
		if !creatorGone(dir) {
			continue
		}
		dataDir := filepath.Join(dir, "data")
		if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); err == nil {
			// Immediate: the data is about to be deleted anyway.
			_ = tools.run(ctx, dir, "pg_ctl", "stop", "--pgdata", dataDir, "--mode", "immediate", "--wait")
		}
		_ = os.RemoveAll(dir)
	}
}

// creatorGone is true only when the creator's PID is readable and no such
// process exists. A live PID (even a reused one) keeps the directory.
func creatorGone(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, ownerMarkFile))
	if err != nil {
		return false // being created right now, or not ours to judge
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
