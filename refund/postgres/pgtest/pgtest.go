// Package pgtest gives tests an isolated, migrated PostgreSQL store: each
// call gets a schema of its own in the database named by DATABASE_URL,
// dropped when the test ends. Tests never skip when PostgreSQL is missing,
// so that a green run always means the store was exercised.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund/postgres"
)

// DefaultDatabaseURL is the database `make test` starts, used when
// DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// maxConnsPerStore caps each test's pool: tests run in parallel, each with
// its own pool, and PostgreSQL's default limit is 100 connections.
const maxConnsPerStore = "4"

// setupTimeout bounds connecting and cleaning up, so that a database that
// hangs fails the test instead of stalling it until the global timeout.
const setupTimeout = 30 * time.Second

// DatabaseURL returns DATABASE_URL, or DefaultDatabaseURL when it is unset.
func DatabaseURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// Open returns a store in a fresh schema, closed and dropped when the test
// ends.
func Open(t testing.TB) *postgres.DB {
	t.Helper()
	schema := NewSchema(t)
	ctx, cancel := context.WithTimeout(t.Context(), setupTimeout)
	defer cancel()
	db, err := postgres.Open(ctx, withPoolLimit(DatabaseURL()), postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("open store in schema %s: %v", schema, err)
	}
	// Registered after NewSchema's cleanup, so it runs before the DROP.
	t.Cleanup(db.Close)
	return db
}

// NewSchema checks that PostgreSQL is reachable, picks an unused schema
// name and registers a cleanup that drops the schema with everything in
// it. The schema itself is created by postgres.Open with WithSchema; tests
// that open the store themselves use this to do so.
func NewSchema(t testing.TB) string {
	t.Helper()
	conn := connect(t, "")
	if err := conn.Close(context.Background()); err != nil {
		t.Fatalf("close connection: %v", err)
	}
	// Lower case, so that the name needs no quoting when typed in psql.
	schema := "t_" + strings.ToLower(rand.Text())
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		conn := connect(t, "")
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		if err := conn.Close(ctx); err != nil {
			t.Errorf("close connection: %v", err)
		}
	})
	return schema
}

// Conn returns a plain connection whose search_path is schema, closed when
// the test ends, for tests that must go around the store to show that the
// database itself enforces a rule.
func Conn(t testing.TB, schema string) *pgx.Conn {
	t.Helper()
	conn := connect(t, schema)
	t.Cleanup(func() {
		if err := conn.Close(context.Background()); err != nil {
			t.Errorf("close connection: %v", err)
		}
	})
	return conn
}

// connect opens a connection, failing the test with directions when the
// database cannot be reached.
func connect(t testing.TB, schema string) *pgx.Conn {
	t.Helper()
	dbURL := DatabaseURL()
	// pgxpool's parser strips pool settings such as pool_max_conns, which
	// the server would reject as unknown parameters.
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("DATABASE_URL: %v", err)
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		t.Fatalf("PostgreSQL not reachable at %s: run `make test` (it starts PostgreSQL) or set DATABASE_URL: %v",
			redact(dbURL), err)
	}
	return conn
}

// withPoolLimit adds maxConnsPerStore to the URL unless it sets a limit.
func withPoolLimit(dbURL string) string {
	if strings.Contains(dbURL, "pool_max_conns") {
		return dbURL
	}
	if u, err := url.Parse(dbURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("pool_max_conns", maxConnsPerStore)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dbURL + " pool_max_conns=" + maxConnsPerStore
}

// redact hides a password in the URL, since test output ends up in CI logs.
func redact(dbURL string) string {
	if u, err := url.Parse(dbURL); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "DATABASE_URL (a key=value connection string)"
}
