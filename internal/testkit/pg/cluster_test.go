package pg_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/testkit/pg"
)

func startCluster(t *testing.T, opts pg.Options) *pg.Cluster {
	t.Helper()
	c, err := pg.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(t.Context(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestClusterServesSeparateDatabases(t *testing.T) {
	c := startCluster(t, pg.Options{})
	urlA, err := c.CreateDatabase(t.Context(), "alpha")
	if err != nil {
		t.Fatal(err)
	}
	urlB, err := c.CreateDatabase(t.Context(), "beta")
	if err != nil {
		t.Fatal(err)
	}
	if urlA != c.URL("alpha") {
		t.Errorf("CreateDatabase URL = %s, want %s", urlA, c.URL("alpha"))
	}

	a, b := connect(t, urlA), connect(t, urlB)
	if got := queryString(t, a, "SELECT current_database()"); got != "alpha" {
		t.Errorf("database behind %s = %q", urlA, got)
	}
	mustExec(t, a, "CREATE TABLE only_in_alpha (id int)")
	if got := queryString(t, b, "SELECT coalesce(to_regclass('only_in_alpha')::text, 'absent')"); got != "absent" {
		t.Errorf("table created in alpha is visible in beta: %q", got)
	}

	overSocket := connect(t, c.SocketURL("beta"))
	if got := queryString(t, overSocket, "SELECT coalesce(inet_server_addr()::text, 'unix socket')"); got != "unix socket" {
		t.Errorf("SocketURL connected over %q, want the unix socket", got)
	}

	if err := c.DropDatabase(t.Context(), "alpha"); err != nil {
		t.Fatalf("DropDatabase with a session still open: %v", err)
	}
	if _, err := pgx.Connect(t.Context(), urlA); err == nil {
		t.Error("connected to a dropped database")
	}
}

func TestClusterSettings(t *testing.T) {
	c := startCluster(t, pg.Options{})
	conn := connect(t, c.URL("postgres"))
	want := map[string]string{
		"fsync":                   "on",
		"max_connections":         "200",
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": c.SocketDir(),
		"port":                    strconv.Itoa(c.Port()),
		"server_encoding":         "UTF8",
	}
	for name, value := range want {
		if got := queryString(t, conn, "SHOW "+name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if !c.FsyncEnabled() {
		t.Error("FsyncEnabled() = false by default")
	}
	if _, err := os.Stat(filepath.Join(c.BinDir(), "pg_ctl")); err != nil {
		t.Errorf("BinDir %s has no pg_ctl: %v", c.BinDir(), err)
	}
}

func TestClusterFsyncCanBeTurnedOff(t *testing.T) {
	c := startCluster(t, pg.Options{DisableFsync: true})
	if got := queryString(t, connect(t, c.URL("postgres")), "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %q with DisableFsync", got)
	}
	if c.FsyncEnabled() {
		t.Error("FsyncEnabled() = true with DisableFsync")
	}
}

func TestRestartAndCrashKeepCommittedData(t *testing.T) {
	c := startCluster(t, pg.Options{})
	port := c.Port()
	url, err := c.CreateDatabase(t.Context(), "durable")
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, url)
	mustExec(t, conn, "CREATE TABLE notes (body text)")
	mustExec(t, conn, "INSERT INTO notes VALUES ('before restart')")

	if err := c.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.Port() != port {
		t.Fatalf("port changed across restart: %d -> %d", port, c.Port())
	}
	conn = connect(t, url)
	mustExec(t, conn, "INSERT INTO notes VALUES ('before crash')")

	if err := c.CrashServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(t.Context(), url); err == nil {
		t.Fatal("connected to a crashed server")
	}
	if err := c.StartServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn = connect(t, url)
	if got := queryString(t, conn, "SELECT string_agg(body, ', ' ORDER BY body) FROM notes"); got != "before crash, before restart" {
		t.Errorf("rows after restart and crash = %q", got)
	}
	log, err := os.ReadFile(c.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "automatic recovery in progress") {
		t.Error("server log shows no crash recovery after CrashServer")
	}
}

func TestStopRemovesDirectory(t *testing.T) {
	c, err := pg.Start(t.Context(), pg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.DataDir()); err != nil {
		t.Fatalf("data directory of a running cluster: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s after Stop: %v", c.Dir(), err)
	}
	if _, err := pgx.Connect(t.Context(), c.URL("postgres")); err == nil {
		t.Error("connected to a stopped cluster")
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := c.StartServer(t.Context()); err == nil {
		t.Error("StartServer after Stop succeeded")
	}
}

// baseDir is a short directory the postgres account can enter.
func baseDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestStartRemovesClustersWhoseCreatorDied(t *testing.T) {
	base := baseDir(t)
	orphan, err := pg.Start(t.Context(), pg.Options{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = orphan.Stop() }) // only matters if the sweep failed

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := strconv.Itoa(dead.Process.Pid)
	if err := os.WriteFile(filepath.Join(orphan.Dir(), "owner.pid"), []byte(deadPID), 0o644); err != nil {
		t.Fatal(err)
	}

	startCluster(t, pg.Options{BaseDir: base})

	if _, err := os.Stat(orphan.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphaned directory %s survived the next Start: %v", orphan.Dir(), err)
	}
	if conn, err := pgx.Connect(t.Context(), orphan.URL("postgres")); err == nil {
		conn.Close(t.Context())
		t.Error("orphaned server still accepts connections")
	}
}

func TestStartRejectsBaseDirTooLongForSocket(t *testing.T) {
	long := filepath.Join(baseDir(t), strings.Repeat("d", 100))
	if err := os.Mkdir(long, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := pg.Start(t.Context(), pg.Options{BaseDir: long})
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("Start with a %d-byte BaseDir: err = %v, want a socket-path error", len(long), err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(long, "walkie-pg-*")); len(leftovers) != 0 {
		t.Errorf("failed Start left %v behind", leftovers)
	}
}

func TestDatabaseURLReplacesOnlyTheDatabase(t *testing.T) {
	got, err := pg.DatabaseURL("postgresql://u:secret@db.example:6543/main?sslmode=require&dbname=main", "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgresql://u:secret@db.example:6543/fresh?sslmode=require"; got != want {
		t.Errorf("DatabaseURL = %s, want %s", got, want)
	}
	if _, err := pg.DatabaseURL("host=db.example dbname=main", "fresh"); err == nil {
		t.Error("DatabaseURL accepted a keyword/value connection string")
	}
}
