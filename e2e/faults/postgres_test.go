package faults

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/walkie-ptt/walkie/internal/testkit/pg"
	"github.com/walkie-ptt/walkie/internal/testkit/pgtest"
)

// dbPassword goes into the database URL (the test server trusts local
// connections, so it is never checked) only to show that it never reaches
// the log, not even in the connection errors of an outage.
const dbPassword = "PGPASS6NEVER6LOGGED"

// postgresOutage is one way to take the database away.
type postgresOutage struct {
	name string
	stop func(*pg.Cluster, context.Context) error
}

var postgresOutages = []postgresOutage{
	{"clean stop", (*pg.Cluster).StopServer},
	{"crash (immediate stop, WAL recovery on start)", (*pg.Cluster).CrashServer},
}

// PostgreSQL is stopped cleanly, then crashed, under a busy Walkie. While
// it is down, Walkie must answer transactions with 503 so the homeserver
// retries them; once it is back, Walkie must reconnect by itself (same
// process, no restart) and decide every acknowledged event.
//
// Here the conversations pause until the outbox has drained before each
// outage (the homeserver keeps pushing through it), because a send that is
// in flight when the database goes away cannot be recorded, and its room
// then waits out the 30 s outbox lease (docs/reliability.md, known limits).
// TestSoakPostgresRestart stops the database with sends in flight.
func TestPostgresRestartMidRun(t *testing.T) {
	runPostgresRestart(t, postgresPlan{rounds: 1, down: 2 * time.Second, drainFirst: true})
}

// postgresPlan sizes a database-outage run.
type postgresPlan struct {
	rounds int           // each round stops, then crashes, the database
	down   time.Duration // how long each outage lasts
	// drainFirst pauses the conversations and waits until every event is
	// decided and every row sent before each outage.
	drainFirst bool
}

func runPostgresRestart(t *testing.T, plan postgresPlan) {
	ctx := context.Background()
	cluster := pgtest.NewCluster(t, pg.Options{}) // this test's own: it stops it
	dbURL, err := cluster.CreateDatabase(ctx, "walkie")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	r := newRig(t, u.String())
	r.start()
	rooms := NewRooms("pg", 3, 4)
	r.setUp(rooms...)

	stop := make(chan struct{})
	done := r.busyPusher(rooms, stop)
	fig := figures{}
	outages := 0
	for range plan.rounds {
		for _, o := range postgresOutages {
			time.Sleep(1500 * time.Millisecond)
			if plan.drainFirst {
				if err := stopAndWait(stop, done); err != nil {
					t.Fatalf("pusher: %v", err)
				}
				r.waitDrained()
				stop = make(chan struct{})
				done = r.busyPusher(rooms, stop)
			}
			before := r.push.Stats()
			if err := o.stop(cluster, ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(plan.down)
			during := r.push.Stats()
			if err := cluster.StartServer(ctx); err != nil {
				t.Fatal(err)
			}
			outages++
			unavailable := during.Statuses[http.StatusServiceUnavailable] - before.Statuses[http.StatusServiceUnavailable]
			if unavailable == 0 {
				t.Errorf("%s: the homeserver got no 503 while PostgreSQL was down (statuses %v)", o.name, during.Statuses)
			}
			fig["503s during "+o.name] = unavailable
		}
	}
	time.Sleep(time.Second) // acknowledged traffic after the last outage too
	if err := stopAndWait(stop, done); err != nil {
		t.Fatalf("pusher: %v\n%s", err, r.walkie.OutputTail())
	}
	r.waitIdle()
	if !r.walkie.Running() || r.walkie.Starts() != 1 {
		t.Fatalf("Walkie must ride out the outages in one process: running %v, started %d times", r.walkie.Running(), r.walkie.Starts())
	}
	r.walkie.Stop()

	stats := r.push.Stats()
	for status, n := range stats.Statuses {
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Errorf("Walkie answered %d to %d transactions; only 200 and 503 are expected", status, n)
		}
	}
	fig["PostgreSQL outages"] = outages
	fig["send results not recorded"] = strings.Count(r.walkie.Output(), "Could not record send result")
	fig["transactions acknowledged"] = stats.Transactions
	fig["transaction attempts (w/ retries)"] = stats.Attempts
	r.auditAll(fig)
	if out := r.walkie.Output(); strings.Contains(out, dbPassword) {
		t.Error("the database password appears in Walkie's log")
	}
}
