package inmem

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// lifecycle is the Store's part that moves cases through their lifecycle:
// Apply makes a planned refund.Change atomically, and DueCases finds the
// cases whose deadline passed.
type lifecycle struct{ *state }

// Apply makes a change atomically: every check runs before anything is
// written, all under the store's lock, so a refused change leaves no
// trace. A case no longer in ch.From is an ECONFLICT error, and so is a
// payout that would refund the order beyond its amount paid or give the
// case a second live payout. It returns the case as the change left it.
func (s *lifecycle) Apply(ctx context.Context, ch refund.Change) (refund.Case, error) {
	if err := ch.Validate(); err != nil {
		return refund.Case{}, err
	}
	if err := ctx.Err(); err != nil {
		return refund.Case{}, err
	}
	at := normTime(ch.At)
	number := refund.FormatCaseNumber(ch.CaseID)
	s.mu.Lock()
	defer s.mu.Unlock()

	// Checks, in the order the PostgreSQL store meets them.
	c, ok := s.cases[ch.CaseID]
	switch {
	case !ok:
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", number)
	case c.Status != ch.From:
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "case %s is %s, not %s", number, c.Status, ch.From)
	case len(c.Evidence)+len(ch.Evidence) > refund.MaxEvidence:
		return refund.Case{}, refund.FieldError("evidence", "at most %d files per case", refund.MaxEvidence)
	}
	var payout refund.Payout
	if ch.Payout != nil {
		var err error
		if payout, err = newPayout(*ch.Payout, ch, c, at); err != nil {
			return refund.Case{}, err
		}
	}
	if ch.To.Open() && s.openCase(c.OrderID, c.ID) {
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "case %s cannot reopen: its order has another open case", number)
	}
	// refunded and live follow the settlement, so that a failed payout
	// frees its amount and its slot for a payout in the same change.
	refunded, live := s.refunded[c.OrderID], s.livePayout(c.ID)
	var settled refund.Payout
	if st := ch.Settle; st != nil {
		p, ok := s.payouts[st.PayoutID]
		switch {
		case !ok:
			return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "payout %s not found", st.PayoutID)
		case p.CaseID != ch.CaseID:
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "payout %s belongs to case %s, not %s", st.PayoutID,
				refund.FormatCaseNumber(p.CaseID), number)
		case p.Status != refund.PayoutPending:
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "payout %s is already %s", st.PayoutID, p.Status)
		}
		p.SettledAt = at
		if st.OK {
			p.Status = refund.PayoutConfirmed
		} else {
			p.Status, p.Error = refund.PayoutFailed, st.Error
			refunded -= p.Amount
			live = false
		}
		settled = p
	}
	if ch.Payout != nil {
		_, taken := s.payouts[payout.ID]
		switch {
		case refunded+payout.Amount > s.orders[c.OrderID].AmountPaid:
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "payout %s of %s would refund order %s more than was paid",
				payout.ID, payout.Amount, c.OrderID)
		case live:
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "case %s already has a payout on its way or paid", number)
		case taken:
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "payout id %s is already used", payout.ID)
		}
		refunded += payout.Amount
	}
	ref := creditRef{caseID: c.ID}
	switch {
	case ch.Payout != nil:
		ref = creditRef{payoutID: ch.Payout.ID}
	case ch.Settle != nil:
		ref = creditRef{payoutID: ch.Settle.PayoutID}
	}
	if ch.Credit > 0 && s.credited[ref] {
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "case %s was already credited", number)
	}

	// Writes, none of which can fail.
	c.Status, c.UpdatedAt = ch.To, at
	if ch.Decided != nil {
		c.Decided = *ch.Decided
	}
	if ch.Route != "" {
		c.Route = ch.Route
	}
	if ch.Due != nil {
		c.Due = refund.Due{Kind: ch.Due.Kind, At: normTime(ch.Due.At)}
	}
	if ch.Appeal {
		c.Appeals++
	}
	c.ReviewOverdue = c.ReviewOverdue || ch.ReviewOverdue
	c.Evidence = append(slices.Clone(c.Evidence), ch.Evidence...)
	c = copyCase(c)
	s.cases[c.ID] = c
	for _, d := range ch.Events {
		s.events[c.ID] = append(s.events[c.ID], copyEvent(refund.Event{
			CaseID: c.ID, Seq: len(s.events[c.ID]) + 1, Type: d.Type, Actor: ch.Actor, Status: d.Status,
			Rules: d.Rules, Amount: d.Amount, Note: d.Note, At: at,
		}))
	}
	if ch.Settle != nil {
		s.payouts[settled.ID] = settled
	}
	if ch.Payout != nil {
		s.payouts[payout.ID] = payout
		s.payoutsByCase[c.ID] = append(s.payoutsByCase[c.ID], payout.ID)
	}
	s.refunded[c.OrderID] = refunded
	if ch.Credit > 0 {
		s.ledger = append(s.ledger, ledgerEntry{userID: c.BuyerUserID, currency: c.Currency, amount: ch.Credit})
		s.credited[ref] = true
	}
	for _, m := range ch.Outbox {
		k := outboxKey{m.Kind, m.Key}
		if s.outboxKeys[k] {
			continue
		}
		s.outboxKeys[k] = true
		m.Payload = cloneOrNil(m.Payload)
		s.outbox = append(s.outbox, outboxRow{
			item:        refund.OutboxItem{ID: int64(len(s.outbox) + 1), OutboxMessage: m, CreatedAt: at},
			availableAt: at,
		})
	}
	return copyCase(c), nil
}

// newPayout completes a change's payout from its case, refusing one that
// names another case, order, buyer or currency.
func newPayout(p refund.Payout, ch refund.Change, c refund.Case, at time.Time) (refund.Payout, error) {
	switch {
	case p.CaseID != 0 && p.CaseID != c.ID,
		p.OrderID != "" && p.OrderID != c.OrderID,
		p.BuyerUserID != 0 && p.BuyerUserID != c.BuyerUserID,
		p.Currency != "" && p.Currency != c.Currency:
		return refund.Payout{}, refund.FieldError("payout", "payout %s does not match case %s", p.ID, c.Number())
	}
	p.CaseID, p.OrderID, p.BuyerUserID, p.Currency = c.ID, c.OrderID, c.BuyerUserID, c.Currency
	p.CreatedAt, p.Error, p.SettledAt = at, "", time.Time{}
	if p.Status == refund.PayoutConfirmed {
		p.SettledAt = at
	} else {
		p.Status = refund.PayoutPending
	}
	return p, nil
}

// livePayout reports whether a case has a payout pending or confirmed.
func (s *lifecycle) livePayout(caseID int64) bool {
	for _, id := range s.payoutsByCase[caseID] {
		if st := s.payouts[id].Status; st == refund.PayoutPending || st == refund.PayoutConfirmed {
			return true
		}
	}
	return false
}

// DueCases returns up to limit open cases whose deadline is at or before
// now, earliest first.
func (s *lifecycle) DueCases(ctx context.Context, now time.Time, limit int) ([]refund.Case, error) {
	if limit <= 0 {
		return nil, refund.FieldError("limit", "limit must be positive")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var due []refund.Case
	for _, c := range s.cases {
		if !c.Due.At.IsZero() && !c.Due.At.After(now) && c.Status.Open() {
			due = append(due, c)
		}
	}
	slices.SortFunc(due, func(a, b refund.Case) int {
		return cmp.Or(a.Due.At.Compare(b.Due.At), cmp.Compare(a.ID, b.ID))
	})
	if len(due) > limit {
		due = due[:limit]
	}
	for i := range due {
		due[i] = copyCase(due[i])
	}
	return due, nil
}
