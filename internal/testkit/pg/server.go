package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/walkie-ptt/walkie/internal/testkit/proc"
)

// maxSocketPath is the longest unix socket path Linux accepts (sun_path is
// 108 bytes including the terminating NUL).
const maxSocketPath = 107

// portAttempts bounds the retries when another process takes the free port
// between our probe and the server's bind.
const portAttempts = 5

func (c *Cluster) socketPath(port int) string {
	return filepath.Join(c.dir, ".s.PGSQL."+strconv.Itoa(port))
}

// writeSettings appends the cluster's settings to postgresql.conf, where
// later lines win over initdb's defaults. The port is not among them: it is
// passed on each start, because it is only known once a start succeeds.
func (c *Cluster) writeSettings(opts Options) error {
	fsync := "on"
	if opts.DisableFsync {
		fsync = "off"
	}
	settings := fmt.Sprintf(`
# Added by walkie's test kit (internal/testkit/pg).
listen_addresses = '127.0.0.1'
unix_socket_directories = %s
max_connections = %d
shared_buffers = %s
fsync = %s
`, quoteSetting(c.dir), opts.MaxConnections, quoteSetting(opts.SharedBuffers), fsync)
	for _, name := range slices.Sorted(maps.Keys(opts.Settings)) {
		settings += name + " = " + opts.Settings[name] + "\n"
	}
	// The file belongs to the postgres account; appending keeps its owner.
	f, err := os.OpenFile(filepath.Join(c.DataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	_, err = io.WriteString(f, settings)
	if err := errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("pg: write postgresql.conf: %w", err)
	}
	return nil
}

func quoteSetting(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// startOnFreePort picks a free port and starts the server on it, picking
// again if someone else took the port in the meantime.
func (c *Cluster) startOnFreePort(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for range portAttempts {
		c.port, err = proc.FreePort()
		if err != nil {
			return fmt.Errorf("pg: %w", err)
		}
		if err = c.startLocked(ctx); err == nil || !strings.Contains(err.Error(), "already in use") {
			return err
		}
	}
	return err
}

// StartServer starts a stopped server again on the same port and directory.
func (c *Cluster) StartServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return errors.New("pg: StartServer after Stop")
	}
	if c.running {
		return nil
	}
	return c.startLocked(ctx)
}

// StopServer shuts the server down cleanly (fast mode: sessions are
// disconnected, open transactions rolled back) and keeps its files.
func (c *Cluster) StopServer(ctx context.Context) error {
	return c.stop(ctx, "fast")
}

// CrashServer stops the server the way a power cut would look to it
// (immediate mode: no shutdown checkpoint), so the next StartServer runs
// WAL recovery. Committed data survives it because fsync is on by default.
func (c *Cluster) CrashServer(ctx context.Context) error {
	return c.stop(ctx, "immediate")
}

// Restart stops the server cleanly and starts it again on the same port.
// Open connections are closed; pools reconnect on their next use.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.StopServer(ctx); err != nil {
		return err
	}
	return c.StartServer(ctx)
}

func (c *Cluster) stop(ctx context.Context, mode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	return c.stopLocked(ctx, mode)
}

func (c *Cluster) startLocked(ctx context.Context) error {
	err := c.tools.run(ctx, c.dir, "pg_ctl", "start",
		"--pgdata", c.DataDir(),
		"--log", c.LogPath(),
		"--wait", "--timeout", "120",
		"-o", "-p "+strconv.Itoa(c.port))
	if err != nil {
		return fmt.Errorf("pg: start server on port %d: %w\nserver log %s ends with:\n%s",
			c.port, err, c.LogPath(), logTail(c.LogPath()))
	}
	c.running = true
	return nil
}

func (c *Cluster) stopLocked(ctx context.Context, mode string) error {
	err := c.tools.run(ctx, c.dir, "pg_ctl", "stop",
		"--pgdata", c.DataDir(),
		"--mode", mode,
		"--wait", "--timeout", "120")
	if err != nil {
		return fmt.Errorf("pg: stop server (%s): %w", mode, err)
	}
	c.running = false
	return nil
}

// logTail returns the end of the server log, where the reason for a failed
// start is.
func logTail(path string) string {
	const tailBytes = 2000
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(data) > tailBytes {
		data = data[len(data)-tailBytes:]
	}
	return strings.TrimSpace(string(data))
}
