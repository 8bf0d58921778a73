package inmem

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// CaseWithOrder returns a case with its evidence and its order, both as
// of the same moment, or an ENOTFOUND error for an unknown case.
func (s *Store) CaseWithOrder(ctx context.Context, id int64) (refund.Case, refund.Order, error) {
	if err := ctx.Err(); err != nil {
		return refund.Case{}, refund.Order{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.caseWithOrder(id)
}

// caseWithOrder is CaseWithOrder with the store's lock held.
func (s *Store) caseWithOrder(id int64) (refund.Case, refund.Order, error) {
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

// Apply makes a change atomically: every check runs before anything is
// written, all under the store's lock, so a refused change leaves no
// trace. A case no longer in ch.From is an ECONFLICT error, and so is a
// payout that would refund the order beyond its amount paid or give the
// case a second live payout. It returns the case as the change left it.
func (s *Store) Apply(ctx context.Context, ch refund.Change) (refund.Case, error) {
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
func (s *Store) livePayout(caseID int64) bool {
	for _, id := range s.payoutsByCase[caseID] {
		if st := s.payouts[id].Status; st == refund.PayoutPending || st == refund.PayoutConfirmed {
			return true
		}
	}
	return false
}

// Facts returns what the first review needs around a case. It reads the
// case as given — its ID, order, buyer and files — rather than as stored,
// so that files a change is about to add are checked for reuse before
// they are. RefundedBefore counts payouts still live, pending or
// confirmed, because a pending payout's money is already promised.
func (s *Store) Facts(ctx context.Context, c refund.Case, since time.Time) (refund.CaseFacts, error) {
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
func (s *Store) CaseForReview(ctx context.Context, id int64, since time.Time) (refund.Case, refund.Order, refund.CaseFacts, error) {
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
func (s *Store) facts(c refund.Case, since time.Time) refund.CaseFacts {
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

// DueCases returns up to limit open cases whose deadline is at or before
// now, earliest first.
func (s *Store) DueCases(ctx context.Context, now time.Time, limit int) ([]refund.Case, error) {
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

// Payout returns a payout by ID, or an ENOTFOUND error.
func (s *Store) Payout(ctx context.Context, id string) (refund.Payout, error) {
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
func (s *Store) PayoutsByCase(ctx context.Context, caseID int64) ([]refund.Payout, error) {
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
func (s *Store) Balance(ctx context.Context, userID int64, currency string) (refund.Money, error) {
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

// ClaimOutbox leases up to limit undelivered items of a kind that are
// available at now, oldest first, until now+lease, counting an attempt on
// each. The lock makes claims one at a time, so two workers never get the
// same item; an item whose worker died comes back once its lease passed.
func (s *Store) ClaimOutbox(ctx context.Context, kind refund.OutboxKind, now time.Time, lease time.Duration, limit int) ([]refund.OutboxItem, error) {
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
func (s *Store) outboxRow(id int64) (*outboxRow, error) {
	if id <= 0 || id > int64(len(s.outbox)) {
		return nil, refund.Errorf(refund.ENOTFOUND, "outbox item %d not found", id)
	}
	return &s.outbox[id-1], nil
}

// CompleteOutbox marks an item delivered, or returns an ENOTFOUND error.
// Completing it again keeps the first delivery time.
func (s *Store) CompleteOutbox(ctx context.Context, id int64) error {
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
func (s *Store) RetryOutbox(ctx context.Context, id int64, next time.Time, lastErr string) error {
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
