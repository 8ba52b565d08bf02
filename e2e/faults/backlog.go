package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Backlog is the work Walkie still has in its database.
type Backlog struct {
	Inbox  int64 // events acknowledged but not yet decided
	Outbox int64 // rows neither sent nor given up
	Timers int64 // rooms with a running timer (a floor held or a queue)
}

// Idle reports whether nothing is left: every event decided, every row
// sent, every floor idle. Only then can nothing more happen by itself, so
// the audits read a history that is complete.
func (b Backlog) Idle() bool { return b.Inbox == 0 && b.Outbox == 0 && b.Timers == 0 }

func (b Backlog) String() string {
	return fmt.Sprintf("%d undecided events, %d unsent outbox rows, %d rooms with running timers", b.Inbox, b.Outbox, b.Timers)
}

// ReadBacklog counts the work left.
func ReadBacklog(ctx context.Context, db *pgxpool.Pool) (Backlog, error) {
	var b Backlog
	err := db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM inbox WHERE processed_at IS NULL),
		(SELECT count(*) FROM outbox WHERE sent_at IS NULL AND NOT failed),
		(SELECT count(*) FROM room WHERE next_deadline IS NOT NULL)`).Scan(&b.Inbox, &b.Outbox, &b.Timers)
	return b, err
}

// WaitIdle waits until Walkie has finished all its work, and fails the test
// if it has not within limit. limit is a liveness bound ("never"), not a
// speed requirement: keep it far above what the work needs, and above the
// outbox lease when a send may have been cut off.
func WaitIdle(t testing.TB, db *pgxpool.Pool, limit time.Duration, describe func() string) Backlog {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b, err := ReadBacklog(context.Background(), db)
		if err == nil && b.Idle() {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("Walkie did not finish its work within %v: %v (last error %v)\n%s", limit, b, err, describe())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ExpireLeases ends every outbox room lease at once: what the lease does by
// itself when the process that held it has died. Call it only while no
// Walkie process runs, so every lease is a dead process's; it lets a crash
// test restart many times without waiting out each lease. It returns how
// many rooms were leased: rooms whose sending a crash cut off.
func ExpireLeases(ctx context.Context, db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}) (int64, error) {
	// A room handed off at commit is due when its lease runs out: due now.
	tag, err := db.Exec(ctx, `UPDATE outbox_room SET until = NULL, owner = NULL, due = least(due, clock_timestamp())
		WHERE until IS NOT NULL`)
	return tag.RowsAffected(), err
}

// LeasedRooms counts rooms an outbox sender holds a live lease on. Read
// right after a kill, it is the rooms whose sending the kill cut off.
func LeasedRooms(ctx context.Context, db *pgxpool.Pool) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT count(*) FROM outbox_room WHERE until > clock_timestamp()`).Scan(&n)
	return n, err
}
