package postgres_test

// Benchmarks of case submission against real PostgreSQL: the store's
// CreateCase alone, and refund.Service's Submit followed by the automatic
// first review, as the dialog runs them. docs/performance.md has the
// figures; `make bench` runs them. Both also report the SQL round trips
// per case, counted at the socket, which machine noise does not move.

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/postgres"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

// benchWorkers are the submitters at once: one, and as many as the pool
// has connections (pgxpool's default on two cores is 4).
var benchWorkers = []int{1, 4}

// BenchmarkCreateCase stores new cases, each for its own order with two
// evidence files (a screenshot and a document) and its submitted event.
func BenchmarkCreateCase(b *testing.B) {
	for _, workers := range benchWorkers {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			db, orders, trips := openBenchStore(b, b.N, []refund.Order{benchOrder("card", refund.CategoryGameCard, refund.PayAlipay, 9500)})
			ctx := context.Background()
			runCases(b, workers, trips, func(i int) error {
				_, err := db.CreateCase(ctx, benchCase(orders[i], 9500, i, refund.ReasonInvalidCode))
				return err
			})
		})
	}
}

// serviceMix is the kind of case Submit+Review sees, in turn: an unused
// card approved in the fast lane that waits for the buyer's choice of
// route; the same paid from the balance, refunded to it at once (payout
// and ledger credit); a top-up over the fast-lane limit sent to a human
// (with the agents' notice); and a top-up bought by mistake, refused with
// an appeal deadline.
var serviceMix = []struct {
	order  refund.Order
	reason refund.Reason
	want   refund.Status
}{
	{benchOrder("fast", refund.CategoryGameCard, refund.PayAlipay, 9500), refund.ReasonInvalidCode, refund.StatusApproved},
	{benchOrder("bal", refund.CategoryGameCard, refund.PayBalance, 4800), refund.ReasonInvalidCode, refund.StatusRefunded},
	{benchOrder("big", refund.CategoryTopup, refund.PayWechat, 30000), refund.ReasonNotArrived, refund.StatusHumanReview},
	{benchOrder("oops", refund.CategoryTopup, refund.PayWechat, 5000), refund.ReasonMistakenPurchase, refund.StatusRejected},
}

// BenchmarkSubmitReview submits cases through refund.Service and runs
// their first review (facts, Assess, one Apply with events, deadline,
// notice and, for the balance refund, payout and ledger credit).
func BenchmarkSubmitReview(b *testing.B) {
	templates := make([]refund.Order, len(serviceMix))
	for i, m := range serviceMix {
		templates[i] = m.order
	}
	for _, workers := range benchWorkers {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			db, orders, trips := openBenchStore(b, b.N, templates)
			svc, err := refund.NewService(refund.ServiceConfig{Store: db, Policy: refund.DefaultPolicy()})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			runCases(b, workers, trips, func(i int) error {
				m := serviceMix[i%len(serviceMix)]
				c, err := svc.Submit(ctx, benchCase(orders[i], m.order.AmountPaid, i, m.reason))
				if err != nil {
					return err
				}
				c, err = svc.Review(ctx, c.ID)
				if err != nil {
					return err
				}
				if c.Status != m.want {
					return fmt.Errorf("case %s of %s: %s, want %s", c.Number(), c.OrderID, c.Status, m.want)
				}
				return nil
			})
		})
	}
}

// runCases calls submit for 0..b.N-1 from workers goroutines and reports
// cases per second and the store's round trips per case.
func runCases(b *testing.B, workers int, trips *roundTrips, submit func(i int) error) {
	b.Helper()
	var next atomic.Int64
	errs := make(chan error, workers)
	b.ResetTimer()
	before := trips.n.Load()
	for range workers {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					errs <- nil
					return
				}
				if err := submit(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var failed error
	for range workers {
		if err := <-errs; err != nil && failed == nil {
			failed = err
			next.Store(int64(b.N)) // stop the others
		}
	}
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cases/s")
	b.ReportMetric(float64(trips.n.Load()-before)/float64(b.N), "round_trips/case")
}

// roundTrips counts the round trips of a pool's connections at the socket:
// a write that follows a read (or opens the connection's traffic) starts
// one. So a pipelined batch is one round trip however many statements it
// carries, while a BEGIN, a COMMIT, or the first preparation of a
// statement on a connection is one of its own, as on the wire.
type roundTrips struct{ n atomic.Int64 }

// wrap makes dial's connections count their round trips in r.
func (r *roundTrips) wrap(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		c := &countingConn{Conn: conn, trips: &r.n}
		c.answered.Store(true)
		return c, nil
	}
}

// countingConn is a connection that counts its round trips.
type countingConn struct {
	net.Conn
	trips *atomic.Int64
	// answered is set by a read and cleared by the write after it. Atomic
	// because pgconn may read in the background while it writes.
	answered atomic.Bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	if c.answered.Swap(false) {
		c.trips.Add(1)
	}
	return c.Conn.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.answered.Store(true)
	return c.Conn.Read(p)
}

// openBenchStore opens a store in a fresh schema and gives it n orders,
// copies of the templates in turn, delivered an hour ago; it returns
// their IDs and the store's round-trip counter. The copies are made in
// SQL, since one case per order needs as many orders as cases.
func openBenchStore(b *testing.B, n int, templates []refund.Order) (*postgres.DB, []string, *roundTrips) {
	b.Helper()
	ctx := context.Background()
	schema := pgtest.NewSchema(b)
	trips := &roundTrips{}
	db, err := postgres.Open(ctx, pgtest.DatabaseURL(), postgres.WithSchema(schema),
		postgres.WithPoolConfig(func(cfg *pgxpool.Config) { cfg.ConnConfig.DialFunc = trips.wrap(cfg.ConnConfig.DialFunc) }))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	conn := pgtest.Conn(b, schema)
	for _, o := range templates {
		if _, err := db.UpsertOrder(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = templates[i%len(templates)].ID + "_" + strconv.Itoa(i)
	}
	// jsonb_populate_record keeps every column of the template but id.
	_, err = conn.Exec(ctx, `
		INSERT INTO orders
		SELECT (jsonb_populate_record(o, jsonb_build_object('id', c.id))).*
		FROM unnest($1::text[]) AS c(id)
		JOIN orders o ON o.id = split_part(c.id, '_', 1)`, ids)
	if err != nil {
		b.Fatal(err)
	}
	// Statistics of populated tables, as autovacuum keeps them in
	// production: planned from empty ones, single-row lookups and foreign
	// key checks scan whole tables, and a run slows down as it fills them.
	if err := seedHistory(ctx, conn, templates[0].ID); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return db, ids, trips
}

// historyCases is how many cases a bench store starts with.
const historyCases = 10_000

// seedHistory gives a bench store its history: historyCases cases
// refunded a year ago, each for its own order (a copy of the template)
// and by its own buyer, with two files, five events and a confirmed
// payout reserved on the order. Their buyers and files are not the
// benchmark's, so no benchmark case's facts or outcome change.
func seedHistory(ctx context.Context, conn *pgx.Conn, template string) error {
	const historic = `c.submission_key LIKE 'hist-%'`
	for _, step := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orders
			SELECT (jsonb_populate_record(o, jsonb_build_object('id', 'HIST' || g, 'refunded_cents', o.amount_paid_cents))).*
			FROM generate_series(1, $1::int) g JOIN orders o ON o.id = $2`, []any{historyCases, template}},
		{`INSERT INTO cases (order_id, buyer_user_id, chat_id, reason, statement, requested_amount_cents, currency,
				status, language, submission_key, decided_refund_cents, route, created_at, updated_at)
			SELECT o.id, 2000000 + g, 2000000 + g, 'invalid_code', 'history', o.amount_paid_cents, o.currency,
				'refunded', 'zh-CN', 'hist-' || g, o.amount_paid_cents, 'original',
				now() - interval '366 days', now() - interval '365 days'
			FROM generate_series(1, $1::int) g JOIN orders o ON o.id = 'HIST' || g`, []any{historyCases}},
		{`INSERT INTO case_evidence (case_id, position, kind, file_id, file_unique_id, size, mime_type, file_name, caption)
			SELECT c.id, p, CASE p WHEN 1 THEN 'photo' ELSE 'document' END, 'hist-file-' || c.id || '-' || p,
				'hist-unique-' || c.id || '-' || p, 1000, '', '', ''
			FROM cases c, generate_series(1, 2) p WHERE ` + historic, nil},
		{`INSERT INTO case_events (case_id, seq, type, actor, status, note, at)
			SELECT c.id, e.seq, CASE e.seq WHEN 1 THEN 'submitted' ELSE 'status_changed' END, 'system', e.status, '', c.created_at
			FROM cases c, (VALUES (1, 'submitted'), (2, 'auto_review'), (3, 'approved'), (4, 'payout_pending'),
				(5, 'refunded')) e(seq, status)
			WHERE ` + historic, nil},
		{`INSERT INTO payouts (id, case_id, order_id, buyer_user_id, route, method, amount_cents, currency,
				account, status, error, created_at, settled_at)
			SELECT 'HIST-P' || c.id, c.id, c.order_id, c.buyer_user_id, 'original', 'alipay', c.decided_refund_cents,
				c.currency, '', 'confirmed', '', c.created_at, c.updated_at
			FROM cases c WHERE ` + historic, nil},
	} {
		if _, err := conn.Exec(ctx, step.sql, step.args...); err != nil {
			return fmt.Errorf("seed history: %w", err)
		}
	}
	return nil
}

// benchOrder is an unused order of a kind, delivered an hour ago so that
// it is inside every category's refund window. Its ID has no '_', which
// separates a copy's number.
func benchOrder(kind string, cat refund.Category, pay refund.PaymentMethod, paid refund.Money) refund.Order {
	delivered := time.Now().UTC().Add(-time.Hour)
	return refund.Order{
		ID: "BENCH" + kind, BuyerTelegramID: 0, ContactPhone: "13800138000", Product: "bench " + kind,
		Category: cat, AmountPaid: paid, ListPrice: paid, Currency: "CNY", PaymentMethod: pay,
		PurchasedAt: delivered.Add(-time.Minute), DeliveredAt: delivered,
	}
}

// benchCase is a buyer's request for an order with two files of its own;
// every case has its own buyer, as in a shop's day.
func benchCase(orderID string, paid refund.Money, i int, reason refund.Reason) refund.NewCase {
	buyer := int64(1_000_000 + i)
	id := strconv.Itoa(i)
	return refund.NewCase{
		OrderID: orderID, BuyerUserID: buyer, ChatID: buyer, Reason: reason,
		Statement:       "11月20日购买的点卡提示卡密无效，申请全额退款。",
		RequestedAmount: paid, Currency: "CNY", Language: "zh-CN", SubmissionKey: "bench-" + id,
		Evidence: []refund.Evidence{
			{Kind: refund.EvidencePhoto, FileID: "AgACphoto" + id, FileUniqueID: "AQADphoto" + id, Size: 48213,
				Caption: "提示已被使用"},
			{Kind: refund.EvidenceDocument, FileID: "BQACdoc" + id, FileUniqueID: "AQADdoc" + id, Size: 120344,
				MIMEType: "application/pdf", FileName: "付款记录.pdf"},
		},
	}
}
