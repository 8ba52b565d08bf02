// Package store is Walkie's only access to PostgreSQL: the durable inbox of
// appservice transactions, one row of floor state per room, the floor log
// and the outbox. Every floor decision is made inside one database
// transaction that holds the room's row lock, so any number of Walkie
// processes may share one database and never grant two holders.
package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/walkie-ptt/walkie/internal/floor"
)

// Options configure a Store.
type Options struct {
	// URI is a PostgreSQL connection string.
	URI string
	// MaxConns bounds the pool (config database.max_conns).
	MaxConns int32
	// Controller is the bot's user ID; new rooms are created for it.
	Controller string
	// Defaults are config.yaml's floor defaults, applied to every room on load.
	Defaults floor.Config
	// Tracer, when set, sees every query and batch (each one round trip):
	// tests count a decision's round trips with it.
	Tracer pgx.QueryTracer
	// RoomCache bounds the decoded rooms kept in memory (roomcache.go):
	// 0 means DefaultRoomCache, a negative number none.
	RoomCache int
}

// Store is a handle on Walkie's database.
type Store struct {
	pool      *pgxpool.Pool
	opts      Options
	installID string
	// offset shifts the database clock as the engine sees it; only tests
	// and benchmarks move it (AdvanceClock), to fire timers without waiting.
	offset atomic.Int64
	// rooms are decoded rooms as of a version of their rows.
	rooms *roomCache
}

// AdvanceClock moves the engine's view of the database clock forward.
// For tests and benchmarks: a running service never calls it.
func (s *Store) AdvanceClock(d time.Duration) { s.offset.Add(int64(d)) }

func (s *Store) clockOffset() time.Duration { return time.Duration(s.offset.Load()) }

// Open connects to PostgreSQL. It does not migrate: call Migrate.
func Open(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(opts.URI)
	if err != nil {
		return nil, fmt.Errorf("database.uri: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// Every statement's correctness is argued under read committed: a
	// decision that waited for a device's lock must see what committed
	// meanwhile, and a lease UPDATE re-checks the latest row version. A
	// server or database default of repeatable read would break both.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the database (database.uri): %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to the database (database.uri): %w", err)
	}
	return &Store{pool: pool, opts: opts, rooms: newRoomCache(opts.RoomCache)}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close releases the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool for health checks and pool metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
