package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/postgres"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
	"github.com/refundbot/refundbot/refund/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) refund.LifecycleStore { return pgtest.Open(t) })
}

func TestAgentsContract(t *testing.T) {
	storetest.RunAgents(t, func(t *testing.T) storetest.AgentEscalationStore { return pgtest.Open(t) })
}

func TestEscalationServiceContract(t *testing.T) {
	storetest.RunEscalationService(t, func(t *testing.T) storetest.DeskStore { return pgtest.Open(t) })
}

func TestStatsContract(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) storetest.StatsStore { return pgtest.Open(t) })
}

func TestCaseListContract(t *testing.T) {
	storetest.RunCaseList(t, func(t *testing.T) storetest.CaseListStore { return pgtest.Open(t) })
}

// openInSchema opens a store in a fresh schema together with a plain
// connection to the same schema, for checks that bypass the store.
func openInSchema(t *testing.T) (*postgres.DB, *pgx.Conn) {
	t.Helper()
	schema := pgtest.NewSchema(t)
	db, err := postgres.Open(t.Context(), pgtest.DatabaseURL(), postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	return db, pgtest.Conn(t, schema)
}

type appliedMigration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

func appliedMigrations(t *testing.T, conn *pgx.Conn) []appliedMigration {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowToStructByPos[appliedMigration])
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return applied
}

func migrationFileCount(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

func TestMigrationsRunOnce(t *testing.T) {
	t.Parallel()
	schema := pgtest.NewSchema(t)
	open := func() {
		t.Helper()
		db, err := postgres.Open(t.Context(), pgtest.DatabaseURL(), postgres.WithSchema(schema))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		db.Close()
	}
	open()
	conn := pgtest.Conn(t, schema)
	first := appliedMigrations(t, conn)
	if len(first) != migrationFileCount(t) {
		t.Fatalf("%d migrations recorded, want one per file (%d)", len(first), migrationFileCount(t))
	}
	open()
	if again := appliedMigrations(t, conn); !reflect.DeepEqual(again, first) {
		t.Errorf("reopening changed schema_migrations\n from %+v\n   to %+v", first, again)
	}
}

// TestConcurrentOpen starts several processes' worth of Open on one empty
// schema at once, as when several bot instances deploy together: the
// advisory lock must make all of them succeed and migrate once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	schema := pgtest.NewSchema(t)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), pgtest.DatabaseURL(), postgres.WithSchema(schema))
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
		}
	}
	if got := len(appliedMigrations(t, pgtest.Conn(t, schema))); got != migrationFileCount(t) {
		t.Errorf("%d migrations recorded, want %d", got, migrationFileCount(t))
	}
}

func wantPgError(t *testing.T, err error, code, constraint string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want SQLSTATE %s", err, code)
	}
	if pe.Code != code || (constraint != "" && pe.ConstraintName != constraint) {
		t.Fatalf("SQLSTATE %s on %q (%s), want %s on %q", pe.Code, pe.ConstraintName, pe.Message, code, constraint)
	}
}

func TestEventLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	db, conn := openInSchema(t)
	c := createCase(t, db, "KM20261120001")
	tests := []struct {
		name string
		sql  string
	}{
		{"update", `UPDATE case_events SET note = 'rewritten'`},
		{"delete", `DELETE FROM case_events`},
		{"truncate", `TRUNCATE case_events`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := conn.Exec(t.Context(), tt.sql)
			wantPgError(t, err, "23001", "")
		})
	}
	events, err := db.Events(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Note != "" {
		t.Errorf("event log changed: %+v", events)
	}
	if _, err := conn.Exec(t.Context(), `INSERT INTO case_events (case_id, seq, type, actor, status, note, at)
		VALUES ($1, 2, 'status_changed', 'system', 'closed', 'appended by hand', now())`, c.ID); err != nil {
		t.Errorf("append to the event log: %v", err)
	}
}

func createCase(t *testing.T, db *postgres.DB, orderID string) refund.Case {
	t.Helper()
	o := refund.Order{ID: orderID, ContactPhone: "13800138000", Product: "Steam 充值卡", Category: refund.CategoryGameCard,
		AmountPaid: 9500, ListPrice: 10000, Currency: "CNY", PaymentMethod: refund.PayWechat,
		PurchasedAt: time.Date(2026, 11, 20, 6, 5, 0, 0, time.UTC)}
	if _, err := db.UpsertOrder(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	c, err := db.CreateCase(t.Context(), refund.NewCase{OrderID: orderID, BuyerUserID: 1001, ChatID: 1001,
		Reason: refund.ReasonNotDelivered, Statement: "never arrived", RequestedAmount: 9500, Currency: "CNY", Language: "en",
		SubmissionKey: "key-" + orderID})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// insertCase adds a case by hand, as a buggy or hand-typed query would.
func insertCase(ctx context.Context, conn *pgx.Conn, orderID, key string, status refund.Status) (int64, error) {
	var id int64
	err := conn.QueryRow(ctx, `
		INSERT INTO cases (order_id, buyer_user_id, chat_id, reason, statement, requested_amount_cents,
			currency, status, language, submission_key, created_at, updated_at)
		VALUES ($1, 1001, 1001, 'not_delivered', 'by hand', 100, 'CNY', $2, 'en', $3, now(), now())
		RETURNING id`, orderID, string(status), key).Scan(&id)
	return id, err
}

func insertOrder(t *testing.T, conn *pgx.Conn, id string) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), `
		INSERT INTO orders (id, contact_phone, product, category, amount_paid_cents, list_price_cents,
			currency, payment_method, purchased_at, used, updated_at)
		VALUES ($1, '13800138000', 'Steam 充值卡', 'game_card', 100, 100, 'CNY', 'alipay', now(), false, now())`,
		id); err != nil {
		t.Fatalf("insert order %s: %v", id, err)
	}
}

func TestDatabaseAllowsOneOpenCasePerOrder(t *testing.T) {
	t.Parallel()
	_, conn := openInSchema(t)
	ctx := t.Context()
	insertOrder(t, conn, "KM1")
	first, err := insertCase(ctx, conn, "KM1", "k1", refund.StatusSubmitted)
	if err != nil {
		t.Fatalf("first case: %v", err)
	}
	_, err = insertCase(ctx, conn, "KM1", "k2", refund.StatusHumanReview)
	wantPgError(t, err, "23505", "cases_one_open_per_order")

	if _, err := conn.Exec(ctx, `UPDATE cases SET status = 'closed' WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	if _, err := insertCase(ctx, conn, "KM1", "k3", refund.StatusSubmitted); err != nil {
		t.Fatalf("case after closing the first: %v", err)
	}
	_, err = conn.Exec(ctx, `UPDATE cases SET status = 'appealed' WHERE id = $1`, first)
	wantPgError(t, err, "23505", "cases_one_open_per_order")
}

// TestStatusConstraintsMatchDomain catches a status added to the domain
// without a migration extending the CHECK constraints.
func TestStatusConstraintsMatchDomain(t *testing.T) {
	t.Parallel()
	_, conn := openInSchema(t)
	ctx := t.Context()
	for _, status := range refund.Statuses() {
		orderID := "KM-" + string(status)
		insertOrder(t, conn, orderID)
		id, err := insertCase(ctx, conn, orderID, orderID, status)
		if err != nil {
			t.Errorf("case in status %s: %v", status, err)
			continue
		}
		if _, err := conn.Exec(ctx, `INSERT INTO case_events (case_id, seq, type, actor, status, note, at)
			VALUES ($1, 1, 'status_changed', 'system', $2, '', now())`, id, string(status)); err != nil {
			t.Errorf("event with status %s: %v", status, err)
		}
	}
	insertOrder(t, conn, "KM-lost")
	_, err := insertCase(ctx, conn, "KM-lost", "lost", "lost")
	wantPgError(t, err, "23514", "cases_status_check")
	_, err = conn.Exec(ctx, `INSERT INTO case_events (case_id, seq, type, actor, status, note, at)
		SELECT id, 9, 'status_changed', 'system', 'lost', '', now() FROM cases LIMIT 1`)
	wantPgError(t, err, "23514", "case_events_status_check")
}

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		opts []postgres.Option
	}{
		{"unreachable server", "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", nil},
		{"malformed URL", "postgres://%zz", nil},
		{"empty schema name", pgtest.DatabaseURL(), []postgres.Option{postgres.WithSchema("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if db, err := postgres.Open(t.Context(), tt.url, tt.opts...); err == nil {
				db.Close()
				t.Fatal("Open succeeded, want an error")
			}
		})
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestMigration002CarriesCasesOver puts a case in the first schema and
// checks that the refund core's migration gives it its order's currency
// and empty lifecycle fields.
func TestMigration002CarriesCasesOver(t *testing.T) {
	t.Parallel()
	schema := pgtest.NewSchema(t)
	if err := postgres.MigrateSchemaTo(t.Context(), pgtest.DatabaseURL(), schema, 1); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	conn := pgtest.Conn(t, schema)
	insertOrder(t, conn, "KM1")
	var id int64
	if err := conn.QueryRow(t.Context(), `
		INSERT INTO cases (order_id, buyer_user_id, chat_id, reason, statement, requested_amount_cents,
			status, language, submission_key, created_at, updated_at)
		VALUES ('KM1', 1001, 1001, 'not_delivered', 'old', 100, 'submitted', 'en', 'k1', now(), now())
		RETURNING id`).Scan(&id); err != nil {
		t.Fatalf("insert a version 1 case: %v", err)
	}
	db, err := postgres.Open(t.Context(), pgtest.DatabaseURL(), postgres.WithSchema(schema))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	c, err := db.Case(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Currency != "CNY" || c.Due != (refund.Due{}) || c.Decided != (refund.Amounts{}) || c.Route != "" || c.Appeals != 0 {
		t.Errorf("carried-over case %+v, want currency CNY and nothing else set", c)
	}
	events, err := db.Events(t.Context(), id)
	if err != nil || len(events) != 0 {
		t.Errorf("events %+v, %v", events, err)
	}
}

// insertPayout adds a payout by hand, bypassing the store's reservation.
func insertPayout(ctx context.Context, conn *pgx.Conn, id string, caseID int64, status string) error {
	settled := "now()"
	if status == "pending" {
		settled = "NULL"
	}
	_, err := conn.Exec(ctx, `
		INSERT INTO payouts (id, case_id, order_id, buyer_user_id, route, method, amount_cents, currency,
			account, status, error, created_at, settled_at)
		SELECT $1, id, order_id, buyer_user_id, 'original', 'alipay', 10, 'CNY', '', $3, '', now(), `+settled+`
		FROM cases WHERE id = $2`, id, caseID, status)
	return err
}

// TestDatabaseEnforcesMoneyInvariants goes around the store, as a buggy or
// hand-typed query would, to show that the schema itself refuses to pay
// an order back beyond what was paid or to pay one approval twice.
func TestDatabaseEnforcesMoneyInvariants(t *testing.T) {
	t.Parallel()
	db, conn := openInSchema(t)
	c := createCase(t, db, "KM20261120001")
	ctx := t.Context()
	tests := []struct {
		name       string
		sql        string
		code       string
		constraint string
	}{
		{"refund more than paid", `UPDATE orders SET refunded_cents = amount_paid_cents + 1`, "23514", "orders_refunded_within_paid"},
		{"negative refunded total", `UPDATE orders SET refunded_cents = -1`, "23514", "orders_refunded_within_paid"},
		{"lower the amount paid below the refunded total",
			`UPDATE orders SET refunded_cents = 9000; UPDATE orders SET amount_paid_cents = 8999`, "23514", "orders_refunded_within_paid"},
		{"a payout of nothing", `INSERT INTO payouts (id, case_id, order_id, buyer_user_id, route, method, amount_cents,
			currency, account, status, error, created_at) SELECT 'zero', id, order_id, 1, 'original', '', 0, 'CNY', '', 'pending', '', now() FROM cases`,
			"23514", "payouts_amount_cents_check"},
		{"a settled payout without a time", `INSERT INTO payouts (id, case_id, order_id, buyer_user_id, route, method, amount_cents,
			currency, account, status, error, created_at) SELECT 'unsettled', id, order_id, 1, 'original', '', 1, 'CNY', '', 'confirmed', '', now() FROM cases`,
			"23514", "payouts_settled_check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Rolled back so that each refused statement starts from the same rows.
			defer func() { _ = tx.Rollback(ctx) }()
			_, err = tx.Exec(ctx, tt.sql)
			wantPgError(t, err, tt.code, tt.constraint)
		})
	}

	t.Run("one live payout per case", func(t *testing.T) {
		if err := insertPayout(ctx, conn, "p1", c.ID, "failed"); err != nil {
			t.Fatalf("failed payout: %v", err)
		}
		if err := insertPayout(ctx, conn, "p2", c.ID, "pending"); err != nil {
			t.Fatalf("pending payout after a failed one: %v", err)
		}
		wantPgError(t, insertPayout(ctx, conn, "p3", c.ID, "pending"), "23505", "payouts_one_live_per_case")
		wantPgError(t, insertPayout(ctx, conn, "p3", c.ID, "confirmed"), "23505", "payouts_one_live_per_case")
		_, err := conn.Exec(ctx, `UPDATE payouts SET status = 'failed', settled_at = now() WHERE id = 'p1'`)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, `UPDATE payouts SET status = 'pending', settled_at = NULL WHERE id = 'p1'`)
		wantPgError(t, err, "23505", "payouts_one_live_per_case")
	})

	t.Run("one credit per payout and per case", func(t *testing.T) {
		credit := func(payoutID any) error {
			_, err := conn.Exec(ctx, `INSERT INTO balance_ledger (user_id, currency, amount_cents, case_id, payout_id, created_at)
				VALUES (1001, 'CNY', 10, $1, $2, now())`, c.ID, payoutID)
			return err
		}
		for _, ref := range []any{"p2", nil} {
			if err := credit(ref); err != nil {
				t.Fatalf("first credit for %v: %v", ref, err)
			}
		}
		wantPgError(t, credit("p2"), "23505", "balance_ledger_one_per_payout")
		wantPgError(t, credit(nil), "23505", "balance_ledger_one_per_case")
	})

	t.Run("the ledger is append-only", func(t *testing.T) {
		for _, sql := range []string{`UPDATE balance_ledger SET amount_cents = 1000000`, `DELETE FROM balance_ledger`,
			`TRUNCATE balance_ledger`} {
			_, err := conn.Exec(ctx, sql)
			wantPgError(t, err, "23001", "")
		}
	})
}

// TestAppliedPayoutsReserveOnTheOrder checks that the store keeps the
// order's reservation column in step with its payouts, which is what the
// database's CHECK relies on.
func TestAppliedPayoutsReserveOnTheOrder(t *testing.T) {
	t.Parallel()
	db, conn := openInSchema(t)
	c := createCase(t, db, "KM20261120001")
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	apply := func(from, to refund.Status, fn func(ch *refund.Change)) {
		t.Helper()
		ch := refund.Change{CaseID: c.ID, From: from, To: to, Actor: refund.ActorSystem, At: at,
			Events: []refund.EventDraft{{Type: refund.EventStatusChanged, Status: to}}}
		fn(&ch)
		if _, err := db.Apply(t.Context(), ch); err != nil {
			t.Fatal(err)
		}
	}
	reserved := func() int64 {
		t.Helper()
		var cents int64
		if err := conn.QueryRow(t.Context(), `SELECT refunded_cents FROM orders`).Scan(&cents); err != nil {
			t.Fatal(err)
		}
		return cents
	}
	apply(refund.StatusSubmitted, refund.StatusPayoutPending, func(ch *refund.Change) {
		ch.Payout = &refund.Payout{ID: "p1", Route: refund.RouteOriginal, Amount: 4000}
	})
	if got := reserved(); got != 4000 {
		t.Errorf("reserved %d after a pending payout, want 4000", got)
	}
	apply(refund.StatusPayoutPending, refund.StatusPayoutFailed, func(ch *refund.Change) {
		ch.Settle = &refund.Settlement{PayoutID: "p1", Error: "declined"}
	})
	if got := reserved(); got != 0 {
		t.Errorf("reserved %d after the payout failed, want 0", got)
	}
	apply(refund.StatusPayoutFailed, refund.StatusRefunded, func(ch *refund.Change) {
		ch.Payout = &refund.Payout{ID: "p2", Route: refund.RouteBalance, Amount: 9500, Status: refund.PayoutConfirmed}
		ch.Credit = 9500
	})
	if got := reserved(); got != 9500 {
		t.Errorf("reserved %d after a confirmed payout, want 9500", got)
	}
}

// insertEscalation adds an escalation by hand, as a buggy or hand-typed
// query would, so that the constraints are seen to hold without the store.
func insertEscalation(ctx context.Context, conn *pgx.Conn, chat int64, status refund.EscalationStatus, agent *int64) (int64, error) {
	var id int64
	err := conn.QueryRow(ctx, `
		INSERT INTO escalations (buyer_chat_id, buyer_user_id, language, reason, status, agent_user_id,
			created_at, taken_at, closed_at)
		VALUES ($1, $1, 'en', 'asked', $2, $3, now(),
			CASE WHEN $3::bigint IS NOT NULL THEN now() END,
			CASE WHEN $2 = 'closed' THEN now() END)
		RETURNING id`, chat, string(status), agent).Scan(&id)
	return id, err
}

// TestDatabaseAllowsOneOpenEscalationPerChat shows the partial unique
// index doing what OpenEscalation's race safety rests on, and the CHECKs
// keeping a hold's fields consistent with its status.
func TestDatabaseAllowsOneOpenEscalationPerChat(t *testing.T) {
	t.Parallel()
	_, conn := openInSchema(t)
	ctx := t.Context()
	agent := int64(7_100_000_001)
	first, err := insertEscalation(ctx, conn, 1001, refund.EscalationQueued, nil)
	if err != nil {
		t.Fatalf("first escalation: %v", err)
	}
	_, err = insertEscalation(ctx, conn, 1001, refund.EscalationHeld, &agent)
	wantPgError(t, err, "23505", "escalations_one_open_per_chat")
	if _, err := insertEscalation(ctx, conn, 1001, refund.EscalationClosed, nil); err != nil {
		t.Errorf("closed escalation next to an open one: %v", err)
	}
	if _, err := conn.Exec(ctx, `UPDATE escalations SET status = 'closed', closed_at = now() WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	if _, err := insertEscalation(ctx, conn, 1001, refund.EscalationHeld, &agent); err != nil {
		t.Fatalf("escalation after closing the first: %v", err)
	}
	_, err = conn.Exec(ctx, `UPDATE escalations SET status = 'queued', closed_at = NULL WHERE id = $1`, first)
	wantPgError(t, err, "23505", "escalations_one_open_per_chat")

	_, err = insertEscalation(ctx, conn, 1002, refund.EscalationHeld, nil)
	wantPgError(t, err, "23514", "escalations_held_check")
	_, err = insertEscalation(ctx, conn, 1003, refund.EscalationQueued, &agent)
	wantPgError(t, err, "23514", "escalations_queued_check")
	_, err = insertEscalation(ctx, conn, 1004, "waiting", nil)
	wantPgError(t, err, "23514", "escalations_status_check")
}
