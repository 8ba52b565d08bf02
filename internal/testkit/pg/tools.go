package pg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// toolbox runs the PostgreSQL command-line tools of one installation as the
// server owner.
type toolbox struct {
	binDir string
	owner  *serverOwner
}

// run runs a tool with workDir as its working directory (the owner must be
// able to enter it, or postgres warns about it) and returns its combined
// output inside the error when it fails.
func (tb toolbox) run(ctx context.Context, workDir, tool string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(tb.binDir, tool), args...)
	cmd.Dir = workDir
	cmd.Env = toolEnv()
	cmd.SysProcAttr = tb.owner.sysProcAttr()
	// pg_ctl start leaves the postmaster running; should it ever keep our
	// output pipe open, Wait must not hang on it.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// toolEnv is this process's environment without PG* variables: a developer's
// PGDATA, PGPORT or PGHOST must not redirect the tools at their own server.
func toolEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}
