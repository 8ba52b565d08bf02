package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// retryConflicts runs fn again when PostgreSQL aborted it for a
// serialisation failure or a deadlock: both are normal under contention
// between replicas and succeed when simply retried. A deadlock can come
// from a transaction deciding several rooms: it holds one room's lock and a device's advisory
// lock (busyElsewhere) while it locks the next room, which another
// transaction holds while it waits for the same device. PostgreSQL breaks
// it after deadlock_timeout; the short random pause keeps the two from
// meeting again in step.
func retryConflicts(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			pause := time.Duration(rand.Int64N(int64(10*time.Millisecond) << attempt))
			select {
			case <-ctx.Done():
				return err
			case <-time.After(pause):
			}
		}
		err = fn()
		if !isConflict(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", "40P01", "23505": // serialization_failure, deadlock_detected, unique_violation (racing room insert)
		return true
	}
	return false
}
