package inmem

import (
	"cmp"
	"context"
	"slices"

	"github.com/refundbot/refundbot/refund"
)

// cases is the Store's part that creates and reads cases with their
// evidence and events (refund.CaseStore), lists them for the shop's API
// (case_list.go) and reads the facts their first review needs (facts.go).
// What changes a case is lifecycle's.
type cases struct{ *state }

// CreateCase stores a new case with its evidence and a "submitted" event.
// A retry with the same SubmissionKey returns the first case; a key already
// used by another buyer or for another order is an ECONFLICT error, so that
// a case is never handed to someone else. Another open case for the order
// is an ECONFLICT error and an unknown order an ENOTFOUND error.
func (s *cases) CreateCase(ctx context.Context, n refund.NewCase) (refund.Case, error) {
	if err := n.Validate(); err != nil {
		return refund.Case{}, err
	}
	if err := ctx.Err(); err != nil {
		return refund.Case{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byKey[n.SubmissionKey]; ok {
		c := s.cases[id]
		if c.OrderID != n.OrderID || c.BuyerUserID != n.BuyerUserID {
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "submission key already used for case %s", c.Number())
		}
		return copyCase(c), nil
	}
	if _, ok := s.orders[n.OrderID]; !ok {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "order %s not found", n.OrderID)
	}
	if s.openCase(n.OrderID, 0) {
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "order %s already has an open case", n.OrderID)
	}
	s.lastID++
	now := s.clock()
	c := refund.Case{
		ID:              s.lastID,
		OrderID:         n.OrderID,
		BuyerUserID:     n.BuyerUserID,
		ChatID:          n.ChatID,
		Reason:          n.Reason,
		Statement:       n.Statement,
		RequestedAmount: n.RequestedAmount,
		Currency:        n.Currency,
		Status:          refund.StatusSubmitted,
		Language:        n.Language,
		SubmissionKey:   n.SubmissionKey,
		Evidence:        n.Evidence,
		Due:             refund.Due{Kind: n.Due.Kind, At: normTime(n.Due.At)},
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	c = copyCase(c)
	s.cases[c.ID] = c
	s.byKey[c.SubmissionKey] = c.ID
	s.byOrder[c.OrderID] = append(s.byOrder[c.OrderID], c.ID)
	s.events[c.ID] = []refund.Event{{
		CaseID: c.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: now,
	}}
	return copyCase(c), nil
}

// openCase reports whether the order has an open case other than except.
func (s *state) openCase(orderID string, except int64) bool {
	for _, id := range s.byOrder[orderID] {
		if id != except && s.cases[id].Status.Open() {
			return true
		}
	}
	return false
}

// Case returns a case with its evidence, or an ENOTFOUND error.
func (s *cases) Case(ctx context.Context, id int64) (refund.Case, error) {
	if err := ctx.Err(); err != nil {
		return refund.Case{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.cases[id]
	if !ok {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(id))
	}
	return copyCase(c), nil
}

// CasesByOrder returns the order's cases, newest first. An order without
// cases, known or not, has an empty list.
func (s *cases) CasesByOrder(ctx context.Context, orderID string) ([]refund.Case, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var cases []refund.Case
	for _, id := range s.byOrder[orderID] {
		cases = append(cases, copyCase(s.cases[id]))
	}
	// The same order as the PostgreSQL store's ORDER BY, rather than
	// reversed insertion order, in case the wall clock stepped back.
	slices.SortFunc(cases, func(a, b refund.Case) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return cases, nil
}

// Events returns a case's history, oldest first, or an ENOTFOUND error.
func (s *cases) Events(ctx context.Context, caseID int64) ([]refund.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	events, ok := s.events[caseID]
	if !ok {
		return nil, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(caseID))
	}
	out := make([]refund.Event, len(events))
	for i, ev := range events {
		out[i] = copyEvent(ev)
	}
	return out, nil
}

// CaseWithOrder returns a case with its evidence and its order, both as
// of the same moment, or an ENOTFOUND error for an unknown case.
func (s *cases) CaseWithOrder(ctx context.Context, id int64) (refund.Case, refund.Order, error) {
	if err := ctx.Err(); err != nil {
		return refund.Case{}, refund.Order{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.caseWithOrder(id)
}

// caseWithOrder is CaseWithOrder with the store's lock held.
func (s *cases) caseWithOrder(id int64) (refund.Case, refund.Order, error) {
	c, ok := s.cases[id]
	if !ok {
		return refund.Case{}, refund.Order{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(id))
	}
	o, ok := s.orders[c.OrderID]
	if !ok {
		// CreateCase refuses a case for an unknown order, and orders are
		// never removed.
		return refund.Case{}, refund.Order{}, refund.Errorf(refund.EINTERNAL, "order %s of case %s is missing", c.OrderID, c.Number())
	}
	return copyCase(c), o, nil
}
