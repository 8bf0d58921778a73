package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund"
)

// stats is the DB's part that counts what /metrics shows.
type stats struct{ pool *pgxpool.Pool }

// Queries behind Stats. Each is one aggregate over one table; they go to
// the server together as a batch, so a scrape costs one round trip.
const (
	statsCasesSQL = `SELECT status, count(*) FROM cases GROUP BY status`

	// A first review is the change submitted → auto_review → outcome,
	// whose events get consecutive seqs, so the event after a case's
	// first auto_review event is its outcome. Later reviews (after the
	// buyer added evidence) pass through auto_review again and are not
	// counted. Grouping by the rules too lets refund.FirstReviewOf tell the
	// approvals apart, in Go, exactly as the in-memory store does.
	statsFirstReviewsSQL = `
		SELECT o.status, o.rules, count(*)
		FROM (SELECT case_id, min(seq) AS seq FROM case_events WHERE status = 'auto_review' GROUP BY case_id) r
		JOIN case_events o ON o.case_id = r.case_id AND o.seq = r.seq + 1
		GROUP BY o.status, o.rules`

	statsEscalationsSQL = `
		SELECT reason, count(*), count(*) FILTER (WHERE status IN ('queued', 'held')),
			count(*) FILTER (WHERE status IN ('queued', 'held') AND due < $1)
		FROM escalations GROUP BY reason`

	statsPayoutsSQL = `SELECT status, count(*) FROM payouts GROUP BY status`

	// Only undelivered rows, which outbox_claim_idx covers; "due" is what
	// ClaimOutbox would take at $1.
	statsOutboxSQL = `
		SELECT kind, count(*), min(created_at) FILTER (WHERE available_at <= $1),
			count(*) FILTER (WHERE last_error <> '')
		FROM outbox WHERE delivered_at IS NULL GROUP BY kind`
)

// Stats counts cases by status, first reviews by outcome, escalations by
// reason (open and overdue at now apart), payouts by status and
// undelivered outbox items by kind, failing ones apart, with the oldest
// item due at now. The five aggregates are sent as one batch; each sees the data
// committed when it starts, which for monitoring is as good as one
// snapshot. Every call scans cases, case_events and escalations in full:
// cheap at a scrape interval for a shop's volume, and the reason to keep
// scrapes of several replicas at a sensible interval.
func (db *stats) Stats(ctx context.Context, now time.Time) (refund.Stats, error) {
	st := refund.NewStats()
	b := &pgx.Batch{}
	b.Queue(statsCasesSQL).Query(func(rows pgx.Rows) error {
		return forEach(rows, func(row pgx.CollectableRow) error {
			var (
				status string
				n      int64
			)
			if err := row.Scan(&status, &n); err != nil {
				return err
			}
			st.Cases[refund.Status(status)] += n
			return nil
		})
	})
	b.Queue(statsFirstReviewsSQL).Query(func(rows pgx.Rows) error {
		return forEach(rows, func(row pgx.CollectableRow) error {
			var (
				status string
				rules  []string
				n      int64
			)
			if err := row.Scan(&status, &rules, &n); err != nil {
				return err
			}
			if o, ok := refund.FirstReviewOf(refund.Status(status), toRules(rules)); ok {
				st.FirstReviews[o] += n
			}
			return nil
		})
	})
	b.Queue(statsEscalationsSQL, now).Query(func(rows pgx.Rows) error {
		return forEach(rows, func(row pgx.CollectableRow) error {
			var (
				reason           string
				n, open, overdue int64
			)
			if err := row.Scan(&reason, &n, &open, &overdue); err != nil {
				return err
			}
			st.Escalations[refund.EscalationReason(reason)] += n
			st.EscalationsOpen += open
			st.EscalationsOverdue += overdue
			return nil
		})
	})
	b.Queue(statsPayoutsSQL).Query(func(rows pgx.Rows) error {
		return forEach(rows, func(row pgx.CollectableRow) error {
			var (
				status string
				n      int64
			)
			if err := row.Scan(&status, &n); err != nil {
				return err
			}
			st.Payouts[refund.PayoutStatus(status)] += n
			return nil
		})
	})
	b.Queue(statsOutboxSQL, now).Query(func(rows pgx.Rows) error {
		return forEach(rows, func(row pgx.CollectableRow) error {
			var (
				kind       string
				n, failing int64
				oldest     *time.Time
			)
			if err := row.Scan(&kind, &n, &oldest, &failing); err != nil {
				return err
			}
			st.Outbox[refund.OutboxKind(kind)] = refund.OutboxStats{Pending: n, Failing: failing, OldestDue: fromNull(oldest)}
			return nil
		})
	})
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return refund.Stats{}, fmt.Errorf("read store stats: %w", err)
	}
	return st, nil
}

// forEach calls fn for every row, closing rows and returning the first
// error, the query's included.
func forEach(rows pgx.Rows, fn func(row pgx.CollectableRow) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
