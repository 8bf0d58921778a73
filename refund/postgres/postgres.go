// Package postgres stores refundbot's orders and refund cases in PostgreSQL.
//
// It is the only package that speaks SQL. Driver errors are translated here
// into refund error codes, so callers see ENOTFOUND or ECONFLICT and never
// a SQLSTATE. The schema is created by migrations embedded in the binary and
// applied by Open.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund"
)

// DB is a PostgreSQL-backed refund.LifecycleStore, AgentStore and
// EscalationStore. It is safe for concurrent use.
//
// Its methods are its parts', one part per domain, each embedded so that
// its methods are DB's and all querying the one pool; a part's file says
// what it keeps.
type DB struct {
	pool *pgxpool.Pool

	orders      // order.go
	cases       // case.go, case_list.go, facts.go
	lifecycle   // lifecycle.go
	payouts     // payout.go
	outbox      // outbox.go
	stats       // stats.go
	agents      // agent.go
	escalations // escalation.go, escalation_place.go
	holds       // escalation_hold.go
	queue       // escalation_queue.go
	buyerWords  // escalation_words.go
}

// newDB is a DB whose parts all use pool.
func newDB(pool *pgxpool.Pool) *DB {
	return &DB{pool: pool, orders: orders{pool}, cases: cases{pool}, lifecycle: lifecycle{pool},
		payouts: payouts{pool}, outbox: outbox{pool}, stats: stats{pool}, agents: agents{pool},
		escalations: escalations{pool}, holds: holds{pool}, queue: queue{pool}, buyerWords: buyerWords{pool}}
}

var (
	_ refund.LifecycleStore  = (*DB)(nil)
	_ refund.AgentStore      = (*DB)(nil)
	_ refund.EscalationStore = (*DB)(nil)
)

// Option configures Open.
type Option func(*options)

type options struct {
	schema    string
	schemaSet bool
	// configure, when set, adjusts the pool's configuration before it
	// connects; only tests set it (export_test.go), to watch the wire.
	configure func(*pgxpool.Config)
}

// WithSchema keeps every table in the named schema, creating it if missing,
// by setting search_path on each pooled connection. Tests use it to get an
// isolated database each; production can use it to share a database with
// other applications.
func WithSchema(name string) Option {
	return func(o *options) {
		o.schema = name
		o.schemaSet = true
	}
}

// Open connects to databaseURL, checks that the server answers, and brings
// the schema up to date before returning, so that a DB is always usable.
// Several processes may call Open on the same database at once: migrations
// are serialized with an advisory lock.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.schemaSet && o.schema == "" {
		return nil, errors.New("open postgres: empty schema name")
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if o.schemaSet {
		// A startup parameter rather than a SET after connecting: it holds
		// for every connection the pool ever makes, including replacements.
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.schema}.Sanitize()
	}
	if o.configure != nil {
		o.configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := newDB(pool)
	if err := db.setUp(ctx, o); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return db, nil
}

func (db *DB) setUp(ctx context.Context, o options) error {
	if err := db.Ping(ctx); err != nil {
		return err
	}
	if o.schemaSet {
		if err := createSchema(ctx, db.pool, o.schema); err != nil {
			return err
		}
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	return migrate(ctx, db.pool, ms)
}

// Close waits for queries in flight and closes every connection.
func (db *DB) Close() {
	db.pool.Close()
}

// Ping checks that the database answers, for health checks.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// querier is what both the pool and a transaction offer, so that a lookup
// can run inside or outside one.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SQLSTATEs the store turns into refund error codes.
const (
	foreignKeyViolation = "23503"
	uniqueViolation     = "23505"
	checkViolation      = "23514"
)

// Constraint names from the migrations that carry a domain meaning.
const (
	constraintOpenCase  = "cases_one_open_per_order"
	constraintCaseOrder = "cases_order_id_fkey"
	// constraintRefundedWithinPaid is "refunded per order <= amount paid".
	constraintRefundedWithinPaid = "orders_refunded_within_paid"
	// constraintLivePayout is "one payout per approval".
	constraintLivePayout = "payouts_one_live_per_case"
)

// pgError returns the server error with this SQLSTATE in err's chain.
func pgError(err error, code string) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == code {
		return pe, true
	}
	return nil, false
}
