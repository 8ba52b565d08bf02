package pg

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates database name on the cluster and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	return CreateDatabaseOn(ctx, c.URL("postgres"), name)
}

// DropDatabase drops database name from the cluster, disconnecting anyone
// still using it.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	return DropDatabaseOn(ctx, c.URL("postgres"), name)
}

// CreateDatabaseOn creates database name on the server serverURL points at
// (any database there will do) and returns the new database's URL. It works
// on any server the URL's user may create databases on, not only on a
// Cluster.
func CreateDatabaseOn(ctx context.Context, serverURL, name string) (string, error) {
	dbURL, err := DatabaseURL(serverURL, name)
	if err != nil {
		return "", err
	}
	if err := execAdmin(ctx, serverURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pg: create database %q: %w", name, err)
	}
	return dbURL, nil
}

// DropDatabaseOn drops database name if it exists. WITH (FORCE) (PostgreSQL
// 13 and later) disconnects sessions a test forgot to close, which would
// otherwise make the drop fail.
func DropDatabaseOn(ctx context.Context, serverURL, name string) error {
	if err := execAdmin(ctx, serverURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pg: drop database %q: %w", name, err)
	}
	return nil
}

// DatabaseURL is serverURL with its database replaced by name.
func DatabaseURL(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parse error would echo the URL, password included.
		return "", fmt.Errorf("pg: want a postgres:// or postgresql:// URL, got one with scheme %q", schemeOf(u))
	}
	u.Path = "/" + name
	u.RawPath = ""
	q := u.Query()
	if q.Has("dbname") { // it would override the path
		q.Del("dbname")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

func schemeOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Scheme
}

// execAdmin runs one statement on its own connection. CREATE and DROP
// DATABASE cannot run inside a transaction, which a plain Exec is not.
func execAdmin(ctx context.Context, serverURL, sql string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}
