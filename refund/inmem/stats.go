package inmem

import (
	"context"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// stats is the Store's part that counts what /metrics shows.
type stats struct{ *state }

// Stats counts cases, first reviews, escalations, payouts and undelivered
// outbox items as the PostgreSQL store does; an outbox item is due when it is
// available to claim at now. It walks everything under the read lock,
// which is fine for the sandbox's and the tests' sizes.
func (s *stats) Stats(ctx context.Context, now time.Time) (refund.Stats, error) {
	if err := ctx.Err(); err != nil {
		return refund.Stats{}, err
	}
	st := refund.NewStats()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.cases {
		st.Cases[c.Status]++
	}
	for _, events := range s.events {
		if o, ok := firstReview(events); ok {
			st.FirstReviews[o]++
		}
	}
	for _, e := range s.escalations {
		st.Escalations[e.Reason]++
		if e.Open() {
			st.EscalationsOpen++
			if !e.Due.IsZero() && e.Due.Before(now) {
				st.EscalationsOverdue++
			}
		}
	}
	for _, p := range s.payouts {
		st.Payouts[p.Status]++
	}
	for _, r := range s.outbox {
		if !r.deliveredAt.IsZero() {
			continue
		}
		o := st.Outbox[r.item.Kind]
		o.Pending++
		if r.lastErr != "" {
			o.Failing++
		}
		if !r.availableAt.After(now) && (o.OldestDue.IsZero() || r.item.CreatedAt.Before(o.OldestDue)) {
			o.OldestDue = r.item.CreatedAt
		}
		st.Outbox[r.item.Kind] = o
	}
	return st, nil
}

// firstReview classifies the event after a case's first auto_review event,
// the one its first review ended with.
func firstReview(events []refund.Event) (refund.FirstReviewOutcome, bool) {
	for i, e := range events {
		if e.Status == refund.StatusAutoReview {
			if i+1 == len(events) {
				return "", false
			}
			return refund.FirstReviewOf(events[i+1].Status, events[i+1].Rules)
		}
	}
	return "", false
}
