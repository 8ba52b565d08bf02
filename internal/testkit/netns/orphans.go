package netns

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// namespaceDir is where `ip netns add` mounts named namespaces.
const namespaceDir = "/run/netns"

// removeOrphans deletes the namespaces of creators that are gone (a test
// binary killed by `go test -timeout`, a panic, SIGKILL). Best effort: a
// name it cannot judge is left alone, and a live PID (even a reused one)
// keeps its namespaces.
func removeOrphans(ctx context.Context) {
	entries, _ := os.ReadDir(namespaceDir)
	for _, e := range entries {
		pid, ok := creatorPID(e.Name())
		if ok && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = ip(ctx, "netns", "del", e.Name())
		}
	}
}

// creatorPID reads the PID out of walkie-<pid>-<tag>.
func creatorPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}
