// Package pg starts a private, throwaway PostgreSQL server: initdb in a
// temporary directory, pg_ctl start on a free loopback port, and removal of
// everything on Stop. Tests use it through internal/testkit/pgtest; the
// benchmark command and the demo use it directly.
//
// The server trusts every local connection (no passwords) and listens only
// on 127.0.0.1 and on a unix socket inside its directory.
package pg

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Options tune a cluster. The zero value is what tests want.
type Options struct {
	// DisableFsync turns fsync off, which makes commits cheaper but means a
	// crash may lose committed data. Durability and crash tests must leave
	// it false; no test sets it. Benchmarks that do must say
	// so in their output.
	DisableFsync bool

	// SharedBuffers is PostgreSQL's shared_buffers; default "32MB", small
	// because every test package runs its own server.
	SharedBuffers string

	// MaxConnections is max_connections; default 200, room for several
	// pgx pools per test.
	MaxConnections int

	// BinDir holds initdb and pg_ctl; default FindBinDir().
	BinDir string

	// Settings are more postgresql.conf settings, written verbatim as
	// `name = value` after the ones above (e.g. a benchmark loading
	// pg_stat_statements to see where PostgreSQL spends its time).
	Settings map[string]string

	// BaseDir is where the cluster's directory is created; default
	// os.TempDir(). The postgres account must be able to enter it when the
	// caller is root, and the path must be short: the unix socket lives in
	// it and socket paths are limited to 107 bytes.
	BaseDir string
}

func (o Options) withDefaults() (Options, error) {
	if o.SharedBuffers == "" {
		o.SharedBuffers = "32MB"
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = 200
	}
	if o.BaseDir == "" {
		o.BaseDir = os.TempDir()
	}
	if o.BinDir == "" {
		dir, err := FindBinDir()
		if err != nil {
			return o, err
		}
		o.BinDir = dir
	}
	return o, nil
}

// dirPrefix names every cluster directory, so leftovers are recognisable
// (and removable by removeOrphans).
const dirPrefix = "walkie-pg-"

// Cluster is one running (or stopped) PostgreSQL server and its directory.
// Its methods are safe for concurrent use.
type Cluster struct {
	tools   toolbox
	dir     string // owned by the server owner; holds data/, the socket and the log
	port    int
	fsyncOn bool

	mu      sync.Mutex
	running bool
	removed bool
}

// Start creates and starts a new cluster. Stop it with Stop, which also
// deletes its files.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	owner, err := currentOwner()
	if err != nil {
		return nil, err
	}
	tools := toolbox{binDir: opts.BinDir, owner: owner}
	removeOrphans(ctx, tools, opts.BaseDir)

	dir, err := os.MkdirTemp(opts.BaseDir, dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pg: %w", err)
	}
	c := &Cluster{tools: tools, dir: dir, fsyncOn: !opts.DisableFsync}
	if err := c.create(ctx, opts); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if err := c.startOnFreePort(ctx); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return c, nil
}

// create writes the owner mark and runs initdb.
func (c *Cluster) create(ctx context.Context, opts Options) error {
	if len(c.socketPath(65535)) > maxSocketPath {
		return fmt.Errorf("pg: directory %s is too long for a unix socket path; use a shorter Options.BaseDir", c.dir)
	}
	if err := writeOwnerMark(c.dir); err != nil {
		return err
	}
	if err := c.tools.owner.chown(c.dir); err != nil {
		return fmt.Errorf("pg: hand %s to the postgres account: %w", c.dir, err)
	}
	// --no-sync only skips flushing the fresh catalog files to disk: losing
	// them needs an OS crash, which ends the test run anyway. The server's
	// own fsync setting is untouched.
	err := c.tools.run(ctx, c.dir, "initdb",
		"--pgdata", c.DataDir(),
		"--username", "postgres",
		"--auth", "trust",
		"--encoding", "UTF8",
		"--locale", "C",
		"--no-sync")
	if err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	return c.writeSettings(opts)
}

// Stop shuts the server down (fast mode: open transactions are rolled back)
// and removes the cluster's directory. It is safe to call more than once.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	var stopErr error
	if c.running {
		stopErr = c.stopLocked(ctx, "fast")
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return errors.Join(stopErr, fmt.Errorf("pg: %w", err))
	}
	c.removed = true
	return stopErr
}

// URL is the connection URL of database dbname over TCP.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     "127.0.0.1:" + strconv.Itoa(c.port),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SocketURL is the connection URL of database dbname over the unix socket.
func (c *Cluster) SocketURL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Path:     "/" + dbname,
		RawQuery: url.Values{"host": {c.dir}, "port": {strconv.Itoa(c.port)}}.Encode(),
	}
	return u.String()
}

// Port is the TCP port on 127.0.0.1; it stays the same across restarts.
func (c *Cluster) Port() int { return c.port }

// Dir is the cluster's directory (data, socket, log); Stop removes it.
func (c *Cluster) Dir() string { return c.dir }

// DataDir is PGDATA.
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// SocketDir is the directory holding the unix socket.
func (c *Cluster) SocketDir() string { return c.dir }

// LogPath is the server log, the first place to look when a test fails.
func (c *Cluster) LogPath() string { return filepath.Join(c.dir, "postgres.log") }

// BinDir is the directory of the PostgreSQL tools in use, so callers can
// find pgbench or psql beside initdb.
func (c *Cluster) BinDir() string { return c.tools.binDir }

// FsyncEnabled reports whether the server runs with fsync on.
func (c *Cluster) FsyncEnabled() bool { return c.fsyncOn }
