package inmem

import (
	"context"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// outbox is the Store's part that hands the outbox items Apply wrote to
// their workers (refund.Outbox): claimed under a lease, then completed or
// retried.
type outbox struct{ *state }

// ClaimOutbox leases up to limit undelivered items of a kind that are
// available at now, oldest first, until now+lease, counting an attempt on
// each. The lock makes claims one at a time, so two workers never get the
// same item; an item whose worker died comes back once its lease passed.
func (s *outbox) ClaimOutbox(ctx context.Context, kind refund.OutboxKind, now time.Time, lease time.Duration, limit int) ([]refund.OutboxItem, error) {
	if err := refund.ValidateClaim(kind, now, lease, limit); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	until := normTime(now.Add(lease))
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []refund.OutboxItem
	for i := range s.outbox {
		if len(items) == limit {
			break
		}
		r := &s.outbox[i]
		if r.item.Kind != kind || !r.deliveredAt.IsZero() || r.availableAt.After(now) {
			continue
		}
		r.availableAt = until
		r.item.Attempts++
		it := r.item
		it.Payload = cloneOrNil(it.Payload)
		items = append(items, it)
	}
	return items, nil
}

// outboxRow returns the row of an item ID, or an ENOTFOUND error.
func (s *outbox) outboxRow(id int64) (*outboxRow, error) {
	if id <= 0 || id > int64(len(s.outbox)) {
		return nil, refund.Errorf(refund.ENOTFOUND, "outbox item %d not found", id)
	}
	return &s.outbox[id-1], nil
}

// CompleteOutbox marks an item delivered, or returns an ENOTFOUND error.
// Completing it again keeps the first delivery time.
func (s *outbox) CompleteOutbox(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.outboxRow(id)
	if err != nil {
		return err
	}
	if r.deliveredAt.IsZero() {
		r.deliveredAt = s.clock()
	}
	return nil
}

// RetryOutbox makes an undelivered item available again at next, noting
// why this attempt failed, or returns an ENOTFOUND error. A delivered item
// stays delivered.
func (s *outbox) RetryOutbox(ctx context.Context, id int64, next time.Time, lastErr string) error {
	if next.IsZero() {
		return refund.FieldError("next", "retry time is required")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.outboxRow(id)
	if err != nil {
		return err
	}
	if r.deliveredAt.IsZero() {
		r.availableAt, r.lastErr = normTime(next), lastErr
	}
	return nil
}
