package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The external mode is exercised against the package's own server, reached
// through its URL the way WALKIE_TEST_DATABASE_URL would name it.
func TestExternalServerCreatesDatabasesButRefusesRestart(t *testing.T) {
	s, err := useExternal(t.Context(), shared.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), s.newDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}

	_, err = s.localCluster()
	if err == nil || !strings.Contains(err.Error(), EnvDatabaseURL) {
		t.Errorf("localCluster on an external server: err = %v, want one naming %s", err, EnvDatabaseURL)
	}
	if err := s.close(); err != nil {
		t.Errorf("close of an external server: %v", err)
	}
}

func TestExternalServerThatCannotBeReachedFailsAtOnce(t *testing.T) {
	for _, url := range []string{
		"postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5", // nothing listens on port 1
		"host=127.0.0.1 dbname=postgres",                                             // not a URL: databases could not be named in it
	} {
		if _, err := useExternal(t.Context(), url); err == nil || !strings.Contains(err.Error(), EnvDatabaseURL) {
			t.Errorf("useExternal(%q): err = %v, want one naming %s", url, err, EnvDatabaseURL)
		}
	}
}

func TestDatabaseNameIsValidUniqueAndReadable(t *testing.T) {
	long := "TestSomething/with spaces & symbols/" + strings.Repeat("x", 100)
	a, b := databaseName(long), databaseName(long)
	if a == b {
		t.Errorf("two calls gave the same name %q", a)
	}
	if len(a) > 63 {
		t.Errorf("name %q is longer than PostgreSQL's 63-byte limit", a)
	}
	if !strings.HasPrefix(a, "t_testsomething_with_spaces___symbols_") {
		t.Errorf("name %q does not start with the sanitized test name", a)
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			t.Errorf("name %q has character %q", a, r)
		}
	}
}
