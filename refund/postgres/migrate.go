package postgres

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles holds migrations/NNN_name.sql. They are applied in version
// order and never edited once released: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema change, identified by the number its file name
// starts with.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads and orders the migrations in fsys. A malformed name
// or a reused number is an error rather than a skipped file, because a
// silently skipped migration surfaces much later as a missing column.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(strings.TrimSuffix(base, ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql with NNN > 0", base)
		}
		sql, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: version, name: base, sql: string(sql)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// lockClass is the first key of the advisory locks taken while changing the
// schema ("RBOT"); the second key is a hash of the schema's name, so that
// processes migrating the same schema wait for each other while isolated
// test schemas migrate in parallel.
const lockClass = 0x52424F54

// inSchemaLock runs fn in a transaction holding the advisory lock of the
// named schema, or of the current one when schema is empty.
// A transaction-scoped lock is released by commit or rollback, so a process
// that dies mid-migration cannot leave the schema locked.
func inSchemaLock(ctx context.Context, pool *pgxpool.Pool, schema string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// coalesce because current_schema() is NULL when no schema on the
		// search_path exists yet, and the lock function silently skips
		// locking on a NULL key.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(NULLIF($2::text, ''), current_schema(), '')))`,
			lockClass, schema); err != nil {
			return fmt.Errorf("take schema lock: %w", err)
		}
		return fn(tx)
	})
}

// createSchema creates the schema WithSchema named. Under the lock because
// two concurrent CREATE SCHEMA IF NOT EXISTS can still collide.
func createSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	err := inSchemaLock(ctx, pool, schema, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return nil
}

// migrate applies the migrations not yet recorded in schema_migrations,
// each in its own transaction, so that a failing migration leaves the
// schema at the previous version instead of half changed.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	err := inSchemaLock(ctx, pool, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    int PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := inSchemaLock(ctx, pool, "", func(tx pgx.Tx) error { return applyMigration(ctx, tx, m) }); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	return nil
}

// applyMigration runs m unless it is already recorded. The check happens
// under the lock, so a process that waited for another one sees its work
// and does nothing.
func applyMigration(ctx context.Context, tx pgx.Tx, m migration) error {
	var applied bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
		m.version).Scan(&applied); err != nil {
		return fmt.Errorf("check version %d: %w", m.version, err)
	}
	if applied {
		return nil
	}
	// Without arguments pgx sends the simple protocol, which accepts a
	// file of several statements.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return fmt.Errorf("record version %d: %w", m.version, err)
	}
	return nil
}
