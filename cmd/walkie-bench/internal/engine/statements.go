package engine

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

// writeStatementStats prints the statements PostgreSQL spent the most
// time on, from pg_stat_statements (loaded by Options.StatementStats), with
// the rows and shared buffers each call touched on average.
func writeStatementStats(ctx context.Context, dbURL string, w io.Writer) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return fmt.Errorf("pg_stat_statements: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, mean_exec_time, rows::float8 / calls,
		(shared_blks_hit + shared_blks_read)::float8 / calls, query FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT 12`)
	if err != nil {
		return err
	}
	defer rows.Close()
	fmt.Fprintln(w, "PostgreSQL statements by total execution time (pg_stat_statements):")
	fmt.Fprintf(w, "  %8s %10s %9s %6s %7s  %s\n", "calls", "total ms", "mean ms", "rows", "blocks", "query")
	for rows.Next() {
		var calls int64
		var total, mean, perCall, blocks float64
		var query string
		if err := rows.Scan(&calls, &total, &mean, &perCall, &blocks, &query); err != nil {
			return err
		}
		query = strings.Join(strings.Fields(query), " ")
		if len(query) > 100 {
			query = query[:100] + "…"
		}
		fmt.Fprintf(w, "  %8d %10.0f %9.3f %6.1f %7.1f  %s\n", calls, total, mean, perCall, blocks, query)
	}
	return rows.Err()
}
