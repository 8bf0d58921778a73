package inmem

import (
	"context"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// What the first review reads besides the case: refunds of the same
// order and buyer, and evidence files seen on other cases.

// Facts returns what the first review needs around a case. It reads the
// case as given — its ID, order, buyer and files — rather than as stored,
// so that files a change is about to add are checked for reuse before
// they are. RefundedBefore counts payouts still live, pending or
// confirmed, because a pending payout's money is already promised.
func (s *cases) Facts(ctx context.Context, c refund.Case, since time.Time) (refund.CaseFacts, error) {
	if err := ctx.Err(); err != nil {
		return refund.CaseFacts{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.facts(c, since), nil
}

// CaseForReview returns a case, its order and its facts since the time
// given, all as of the same moment, or an ENOTFOUND error for an unknown
// case.
func (s *cases) CaseForReview(ctx context.Context, id int64, since time.Time) (refund.Case, refund.Order, refund.CaseFacts, error) {
	if err := ctx.Err(); err != nil {
		return refund.Case{}, refund.Order{}, refund.CaseFacts{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, o, err := s.caseWithOrder(id)
	if err != nil {
		return refund.Case{}, refund.Order{}, refund.CaseFacts{}, err
	}
	return c, o, s.facts(c, since), nil
}

// facts is Facts with the store's lock held.
func (s *cases) facts(c refund.Case, since time.Time) refund.CaseFacts {
	// The PostgreSQL store compares at microseconds.
	since = normTime(since)
	var f refund.CaseFacts
	for _, p := range s.payouts {
		if p.OrderID == c.OrderID && p.CaseID != c.ID &&
			(p.Status == refund.PayoutPending || p.Status == refund.PayoutConfirmed) {
			f.RefundedBefore += p.Amount
		}
	}
	mine := make(map[string]bool, len(c.Evidence))
	for _, e := range c.Evidence {
		mine[e.FileUniqueID] = false
	}
	for _, o := range s.cases {
		if o.ID == c.ID {
			continue
		}
		if o.BuyerUserID == c.BuyerUserID && o.Status == refund.StatusRefunded && !o.UpdatedAt.Before(since) {
			f.BuyerRefunds++
		}
		for _, e := range o.Evidence {
			if _, ok := mine[e.FileUniqueID]; ok {
				mine[e.FileUniqueID] = true
			}
		}
	}
	for _, reused := range mine {
		if reused {
			f.ReusedEvidence++
		}
	}
	return f
}
