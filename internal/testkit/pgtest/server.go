package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/testkit/pg"
)

// adminTimeout bounds one CREATE or DROP DATABASE.
const adminTimeout = time.Minute

// server is where the tests' databases are created: a cluster pgtest
// started, or an external server named by WALKIE_TEST_DATABASE_URL.
type server struct {
	adminURL string
	cluster  *pg.Cluster // nil for an external server
}

func startLocal(ctx context.Context, opts pg.Options) (*server, error) {
	c, err := pg.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &server{adminURL: c.URL("postgres"), cluster: c}, nil
}

// useExternal checks the server is reachable now, so a wrong URL fails the
// package once with one clear message rather than every test.
func useExternal(ctx context.Context, url string) (*server, error) {
	if _, err := pg.DatabaseURL(url, "probe"); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvDatabaseURL, err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the server in %s: %w", EnvDatabaseURL, err)
	}
	if err := conn.Close(ctx); err != nil {
		return nil, err
	}
	return &server{adminURL: url}, nil
}

func (s *server) close() error {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.Stop()
}

func (s *server) localCluster() (*pg.Cluster, error) {
	if s.cluster == nil {
		return nil, fmt.Errorf("pgtest: this test stops or restarts PostgreSQL, which it may do only to "+
			"the server pgtest starts itself; unset %s to run it", EnvDatabaseURL)
	}
	return s.cluster, nil
}

func (s *server) newDatabase(t testing.TB) string {
	t.Helper()
	name := databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	url, err := pg.CreateDatabaseOn(ctx, s.adminURL, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if err := pg.DropDatabaseOn(ctx, s.adminURL, name); err != nil {
			t.Logf("pgtest: database %s left behind: %v", name, err)
		}
	})
	return url
}

// maxTestPart keeps database names within PostgreSQL's 63-byte limit:
// "t_" + 40 + "_" + 12 hex digits = 55.
const maxTestPart = 40

// databaseName derives a unique name from the test's name, so a database
// left on a shared server says which test made it. The random suffix keeps
// concurrent runs against one external server apart.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if b.Len() == maxTestPart {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix) // crypto/rand.Read never fails on Linux
	return "t_" + b.String() + "_" + hex.EncodeToString(suffix)
}
