package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refundbot/refundbot/refund"
)

// What the first review reads besides the case: refunds of the same
// order and buyer, and evidence files seen on other cases.

// Facts returns what the first review needs around a case. It reads the
// case as given — its ID, order, buyer and files — rather than as stored,
// so that files a change is about to add are checked for reuse before
// they are. RefundedBefore counts payouts still live, pending or
// confirmed, because a pending payout's money is already promised.
func (db *cases) Facts(ctx context.Context, c refund.Case, since time.Time) (refund.CaseFacts, error) {
	uniqueIDs := make([]string, 0, len(c.Evidence))
	for _, e := range c.Evidence {
		uniqueIDs = append(uniqueIDs, e.FileUniqueID)
	}
	var r factsRow
	err := db.pool.QueryRow(ctx, `SELECT `+factsColumns("$1", "$2", "$3", "$4", "$5::text[]"),
		c.ID, c.OrderID, c.BuyerUserID, since, uniqueIDs,
	).Scan(r.dest()...)
	if err != nil {
		return refund.CaseFacts{}, fmt.Errorf("facts of case %s: %w", refund.FormatCaseNumber(c.ID), err)
	}
	return r.result(), nil
}

// CaseForReview returns a case with its evidence, its order and its facts
// since the time given, as CaseWithOrder and Facts of the stored case
// would, in one query.
func (db *cases) CaseForReview(ctx context.Context, id int64, since time.Time) (refund.Case, refund.Order, refund.CaseFacts, error) {
	var (
		o orderRow
		f factsRow
	)
	row := db.pool.QueryRow(ctx, `SELECT cf.*, o.*, f.* FROM (`+caseWithEvidence+`) cf
		JOIN LATERAL (SELECT `+orderColumns+` FROM orders WHERE id = cf.order_id) o ON true
		CROSS JOIN LATERAL (SELECT `+factsColumns("cf.id", "cf.order_id", "cf.buyer_user_id", "$2::timestamptz", "cf.file_unique_ids")+`) f`,
		id, since)
	c, err := scanCaseWithEvidence(row, append(o.dest(), f.dest()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Case{}, refund.Order{}, refund.CaseFacts{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(id))
	}
	if err != nil {
		return refund.Case{}, refund.Order{}, refund.CaseFacts{}, fmt.Errorf("load case %s for review: %w", refund.FormatCaseNumber(id), err)
	}
	return c, o.result(), f.result(), nil
}

// factsColumns selects a case's facts, given SQL expressions for its ID,
// order, buyer, the time refunds count from, and its files' unique IDs
// (a text array; NULL means none): the one definition of the facts that
// Facts and CaseForReview share.
func factsColumns(caseID, orderID, buyer, since, uniqueIDs string) string {
	return `
		(SELECT COALESCE(sum(amount_cents), 0)::bigint FROM payouts
			WHERE order_id = ` + orderID + ` AND case_id <> ` + caseID + ` AND status IN ('pending', 'confirmed')),
		(SELECT count(*) FROM cases
			WHERE buyer_user_id = ` + buyer + ` AND id <> ` + caseID + ` AND status = 'refunded' AND updated_at >= ` + since + `),
		(SELECT count(DISTINCT file_unique_id) FROM case_evidence
			WHERE file_unique_id = ANY(` + uniqueIDs + `) AND case_id <> ` + caseID + `)`
}

// factsRow is a case's facts being scanned from factsColumns.
type factsRow struct{ refunded, buyerRefunds, reused int64 }

func (r *factsRow) dest() []any { return []any{&r.refunded, &r.buyerRefunds, &r.reused} }

func (r *factsRow) result() refund.CaseFacts {
	return refund.CaseFacts{RefundedBefore: refund.Money(r.refunded), BuyerRefunds: int(r.buyerRefunds), ReusedEvidence: int(r.reused)}
}
