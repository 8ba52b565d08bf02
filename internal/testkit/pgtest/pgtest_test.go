package pgtest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/walkie-ptt/walkie/internal/testkit/pg"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func currentDatabase(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func tableExists(t *testing.T, conn *pgx.Conn, table string) bool {
	t.Helper()
	var exists bool
	if err := conn.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestNewDatabaseGivesEachCallItsOwnDatabase(t *testing.T) {
	first, second := connect(t, pgtest.NewDatabase(t)), connect(t, pgtest.NewDatabase(t))
	firstName, secondName := currentDatabase(t, first), currentDatabase(t, second)
	if firstName == secondName {
		t.Fatalf("both calls returned database %q", firstName)
	}
	if !strings.HasPrefix(firstName, "t_testnewdatabasegiveseachcall") {
		t.Errorf("database name %q does not say which test made it", firstName)
	}
	if _, err := first.Exec(t.Context(), "CREATE TABLE mine (id int)"); err != nil {
		t.Fatal(err)
	}
	if tableExists(t, second, "mine") {
		t.Error("a table created in one database shows in the other")
	}
}

func TestNewDatabaseIsDroppedWhenItsTestEnds(t *testing.T) {
	var name string
	t.Run("owner", func(t *testing.T) {
		// The connection is deliberately left open: the drop must not
		// depend on tests closing theirs first.
		conn, err := pgx.Connect(t.Context(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		name = currentDatabase(t, conn)
	})

	observer := connect(t, pgtest.NewDatabase(t))
	var count int
	if err := observer.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestClusterRestartKeepsTheTestsData(t *testing.T) {
	c := pgtest.Cluster(t)
	url := pgtest.NewDatabase(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	if int(cfg.Port) != c.Port() {
		t.Fatalf("NewDatabase serves from port %d, Cluster listens on %d", cfg.Port, c.Port())
	}
	if _, err := connect(t, url).Exec(t.Context(), "CREATE TABLE survivor (id int)"); err != nil {
		t.Fatal(err)
	}

	if err := c.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}

	if !tableExists(t, connect(t, url), "survivor") {
		t.Error("table lost across a restart")
	}
}

func TestNewClusterIsRemovedWhenItsTestEnds(t *testing.T) {
	var c *pg.Cluster
	t.Run("owner", func(t *testing.T) {
		c = pgtest.NewCluster(t, pg.Options{})
		if got := currentDatabase(t, connect(t, c.URL("postgres"))); got != "postgres" {
			t.Errorf("connected to %q", got)
		}
	})
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory after its test ended: %v", err)
	}
}
