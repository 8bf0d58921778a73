package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateSchemaTo brings schema up to version and no further, so that a
// test can put rows in an old schema and watch a later migration carry
// them over.
func MigrateSchemaTo(ctx context.Context, databaseURL, schema string, version int) error {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := createSchema(ctx, pool, schema); err != nil {
		return err
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	var upTo []migration
	for _, m := range ms {
		if m.version <= version {
			upTo = append(upTo, m)
		}
	}
	if len(upTo) == 0 {
		return fmt.Errorf("no migration up to version %d", version)
	}
	return migrate(ctx, pool, upTo)
}

// WithPoolConfig lets a test adjust the pool's configuration before Open
// connects, e.g. to count round trips at the socket.
func WithPoolConfig(configure func(*pgxpool.Config)) Option {
	return func(o *options) { o.configure = configure }
}
