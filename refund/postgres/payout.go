package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund"
)

// payouts is the DB's part that reads payouts and the buyer's balance as
// Apply left them.
type payouts struct{ pool *pgxpool.Pool }

const payoutColumns = `id, case_id, order_id, buyer_user_id, route, method, amount_cents, currency,
	account, status, error, created_at, settled_at`

func scanPayout(row pgx.Row) (refund.Payout, error) {
	var (
		p                     refund.Payout
		route, method, status string
		amount                int64
		settledAt             *time.Time
	)
	err := row.Scan(&p.ID, &p.CaseID, &p.OrderID, &p.BuyerUserID, &route, &method, &amount, &p.Currency,
		&p.Account, &status, &p.Error, &p.CreatedAt, &settledAt)
	p.Route, p.Method, p.Status = refund.PayoutRoute(route), refund.PaymentMethod(method), refund.PayoutStatus(status)
	p.Amount, p.CreatedAt, p.SettledAt = refund.Money(amount), p.CreatedAt.UTC(), fromNull(settledAt)
	return p, err
}

// Payout returns a payout by ID, or an ENOTFOUND error.
func (db *payouts) Payout(ctx context.Context, id string) (refund.Payout, error) {
	p, err := scanPayout(db.pool.QueryRow(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Payout{}, refund.Errorf(refund.ENOTFOUND, "payout %s not found", id)
	}
	if err != nil {
		return refund.Payout{}, fmt.Errorf("load payout %s: %w", id, err)
	}
	return p, nil
}

// PayoutsByCase returns a case's payouts, oldest first. A case without
// payouts, known or not, has an empty list.
func (db *payouts) PayoutsByCase(ctx context.Context, caseID int64) ([]refund.Payout, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE case_id = $1
		ORDER BY created_at, seq`, caseID)
	if err != nil {
		return nil, fmt.Errorf("load payouts of case %s: %w", refund.FormatCaseNumber(caseID), err)
	}
	payouts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Payout, error) { return scanPayout(row) })
	if err != nil {
		return nil, fmt.Errorf("load payouts of case %s: %w", refund.FormatCaseNumber(caseID), err)
	}
	return payouts, nil
}

// Balance returns a user's platform balance in a currency: the sum of the
// ledger, 0 for a user it never mentions.
func (db *payouts) Balance(ctx context.Context, userID int64, currency string) (refund.Money, error) {
	var sum int64
	if err := db.pool.QueryRow(ctx, `SELECT COALESCE(sum(amount_cents), 0)::bigint FROM balance_ledger
		WHERE user_id = $1 AND currency = $2`, userID, currency).Scan(&sum); err != nil {
		return 0, fmt.Errorf("balance of user %d in %s: %w", userID, currency, err)
	}
	return refund.Money(sum), nil
}
