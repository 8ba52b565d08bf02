// Package pgtest gives every test its own PostgreSQL database.
//
// A test package opts in with
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test then calls NewDatabase(t) for a fresh, empty database.
//
// By default Main starts one private server per test package (see
// internal/testkit/pg) and removes it when the package's tests end. When
// WALKIE_TEST_DATABASE_URL is set, Main starts nothing and creates the
// databases on that server instead; its user needs the CREATEDB privilege.
//
// There is no skipping: when no PostgreSQL can be had, the tests fail and
// say how to get one.
package pgtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/pg"
)

// EnvDatabaseURL names a server to use instead of starting one, as a
// postgres:// URL.
const EnvDatabaseURL = "WALKIE_TEST_DATABASE_URL"

// setUpTimeout bounds starting or reaching the server, so a hung initdb
// fails the package instead of eating the whole `go test -timeout`.
const setUpTimeout = 2 * time.Minute

// shared is the package-wide server Main sets up; nil outside Main.
var shared *server

// Main runs the package's tests against one PostgreSQL server and exits
// with their status. It exits 1 with an explanation when no server can be
// had.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Listing tests (`go test -list`, used by `make fuzz`) needs no server.
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run()
	}

	ctx, cancel := context.WithTimeout(context.Background(), setUpTimeout)
	s, err := setUp(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: no PostgreSQL for these tests: %v\n", err)
		return 1
	}
	shared = s
	code := m.Run()
	if err := s.close(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
	return code
}

func setUp(ctx context.Context) (*server, error) {
	if url := os.Getenv(EnvDatabaseURL); url != "" {
		return useExternal(ctx, url)
	}
	return startLocal(ctx, pg.Options{})
}

// NewDatabase creates an empty database for this test alone and returns its
// URL. The database is dropped when the test ends; a failed drop is only
// logged, since the server is thrown away anyway (or is the developer's own).
func NewDatabase(t testing.TB) string {
	t.Helper()
	return mustShared(t).newDatabase(t)
}

// Cluster is the package's own PostgreSQL cluster, for tests that stop,
// crash or restart the server. Such tests affect every test of the package
// running at the same time, so they must not call t.Parallel; NewCluster
// gives a test a server of its own instead.
//
// The test fails when WALKIE_TEST_DATABASE_URL is set: a server pgtest did
// not start is not pgtest's to restart.
func Cluster(t testing.TB) *pg.Cluster {
	t.Helper()
	c, err := mustShared(t).localCluster()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewCluster starts a cluster for this test alone, stopped and removed when
// the test ends. It needs PostgreSQL installed locally even when
// WALKIE_TEST_DATABASE_URL is set, and costs a second or two.
func NewCluster(t testing.TB, opts pg.Options) *pg.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setUpTimeout)
	defer cancel()
	c, err := pg.Start(ctx, opts)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

func mustShared(t testing.TB) *server {
	t.Helper()
	if shared == nil {
		t.Fatal("pgtest: no server: the package needs `func TestMain(m *testing.M) { pgtest.Main(m) }`")
	}
	return shared
}
