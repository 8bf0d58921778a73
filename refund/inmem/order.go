package inmem

import (
	"context"

	"github.com/refundbot/refundbot/refund"
)

// orders is the Store's part that keeps the shop's orders
// (refund.OrderStore).
type orders struct{ *state }

// UpsertOrder inserts or replaces an order. UpdatedAt is set to the time of
// the write, as the PostgreSQL store does. An amount paid below what
// refunds already took back from the order is an ECONFLICT error.
func (s *orders) UpsertOrder(ctx context.Context, o refund.Order) (created bool, err error) {
	if err := o.Validate(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	o.PurchasedAt, o.DeliveredAt = normTime(o.PurchasedAt), normTime(o.DeliveredAt)
	o.Usage.ActivatedAt = normTime(o.Usage.ActivatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.AmountPaid < s.refunded[o.ID] {
		return false, refund.Errorf(refund.ECONFLICT, "order %s: amount paid %s is less than already refunded", o.ID, o.AmountPaid)
	}
	o.UpdatedAt = s.clock()
	_, exists := s.orders[o.ID]
	s.orders[o.ID] = o
	return !exists, nil
}

// Order returns the order with this ID, or an ENOTFOUND error.
func (s *orders) Order(ctx context.Context, id string) (refund.Order, error) {
	if err := ctx.Err(); err != nil {
		return refund.Order{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.orders[id]
	if !ok {
		return refund.Order{}, refund.Errorf(refund.ENOTFOUND, "order %s not found", id)
	}
	return o, nil
}
