package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// retryConflicts runs fn again when PostgreSQL aborted it for a
// serialisation failure or a deadlock: both are normal under contention
// between replicas and succeed when simply retried.
func retryConflicts(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
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
