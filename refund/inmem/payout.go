package inmem

import (
	"context"
	"slices"

	"github.com/refundbot/refundbot/refund"
)

// payouts is the Store's part that reads payouts and the buyer's balance
// as Apply left them.
type payouts struct{ *state }

// Payout returns a payout by ID, or an ENOTFOUND error.
func (s *payouts) Payout(ctx context.Context, id string) (refund.Payout, error) {
	if err := ctx.Err(); err != nil {
		return refund.Payout{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.payouts[id]
	if !ok {
		return refund.Payout{}, refund.Errorf(refund.ENOTFOUND, "payout %s not found", id)
	}
	return p, nil
}

// PayoutsByCase returns a case's payouts, oldest first. A case without
// payouts, known or not, has an empty list.
func (s *payouts) PayoutsByCase(ctx context.Context, caseID int64) ([]refund.Payout, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []refund.Payout
	for _, id := range s.payoutsByCase[caseID] {
		out = append(out, s.payouts[id])
	}
	// Creation order, then by time as the PostgreSQL store sorts, in case
	// the caller's clock stepped back.
	slices.SortStableFunc(out, func(a, b refund.Payout) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Balance returns a user's platform balance in a currency: the sum of the
// ledger, 0 for a user it never mentions.
func (s *payouts) Balance(ctx context.Context, userID int64, currency string) (refund.Money, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var sum refund.Money
	for _, e := range s.ledger {
		if e.userID == userID && e.currency == currency {
			sum += e.amount
		}
	}
	return sum, nil
}
