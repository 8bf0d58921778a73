package refund

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Moving the money: the payout an approval starts, the buyer's choice of
// route and retry with another account, and the shop's settlement.

// MaxAccountRunes bounds the payout account a buyer may type.
const MaxAccountRunes = 100

// startPayout plans the payout of the decided amount: credited to the
// balance at once, or handed to the shop through the payout outbox.
func (p *plan) startPayout(ctx context.Context, route PayoutRoute, account string) error {
	amount := p.c.Decided.Refund
	if p.ch.Decided != nil {
		amount = p.ch.Decided.Refund
	}
	// A payout is only made by start_payout, which leaves the case
	// payout_pending, and no path leads from there back to approved
	// (TestLifecycleNoPayoutBeforeApproval holds the lifecycle to it). So
	// a payout that starts from approved is the case's first, and only a
	// retry after a failed payout needs the store to count. Apply refuses
	// the change if the case has left the status it was decided on, and
	// payout IDs are unique in the store, so a wrong count could not pay
	// twice.
	number := 1
	if p.status != StatusApproved {
		previous, err := p.s.store.PayoutsByCase(ctx, p.c.ID)
		if err != nil {
			return fmt.Errorf("payouts of case %d: %w", p.c.ID, err)
		}
		number = len(previous) + 1
	}
	payout := Payout{ID: fmt.Sprintf("P%06d-%d", p.c.ID, number), CaseID: p.c.ID, OrderID: p.c.OrderID,
		BuyerUserID: p.c.BuyerUserID, Route: route, Method: p.order.PaymentMethod, Amount: amount,
		Currency: p.c.Currency, Account: account, Status: PayoutPending, CreatedAt: p.ch.At}
	if err := p.move(CaseStartPayout, EventDraft{Amount: amount, Note: payout.ID}); err != nil {
		return err
	}
	p.ch.Route = route
	p.clearDue()
	if route == RouteBalance {
		payout.Status, payout.SettledAt = PayoutConfirmed, p.ch.At
		p.ch.Payout, p.ch.Credit = &payout, amount
		if err := p.move(CasePaid, EventDraft{Amount: amount, Note: payout.ID}); err != nil {
			return err
		}
		n := p.tell(NoticeStatus)
		n.Route = RouteBalance
		return nil
	}
	body, err := json.Marshal(PayoutRequest{PayoutID: payout.ID, Case: p.c.Number(), OrderID: p.c.OrderID,
		Amount: amount.String(), Currency: payout.Currency, Method: payout.Method, Account: account, CreatedAt: p.ch.At})
	if err != nil {
		return fmt.Errorf("encode payout %s: %w", payout.ID, err)
	}
	p.ch.Payout = &payout
	p.ch.Outbox = append(p.ch.Outbox, OutboxMessage{Kind: OutboxPayout, Key: payout.ID, Payload: body})
	n := p.tell(NoticeStatus)
	n.Route = RouteOriginal
	return nil
}

// ChooseRoute sends an approved refund (or one whose payout failed) the
// way the buyer chose, if the policy allows it.
func (s *Service) ChooseRoute(ctx context.Context, caseID, buyer int64, route PayoutRoute) (Case, error) {
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusApproved && c.Status != StatusPayoutFailed {
		return Case{}, Errorf(ECONFLICT, "case %s is %s; no payout to route", c.Number(), c.Status)
	}
	allowed := false
	for _, r := range s.policy.Routes(o) {
		allowed = allowed || r == route
	}
	if !allowed {
		return Case{}, FieldError("route", "route %s is not open to this order", route)
	}
	p := s.plan(c, o, ActorBuyer)
	p.note(EventRouteChosen, EventDraft{Note: string(route)})
	if err := p.startPayout(ctx, route, ""); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// RetryPayout sends a failed original-route payout again, to the account
// the buyer gives now.
func (s *Service) RetryPayout(ctx context.Context, caseID, buyer int64, account string) (Case, error) {
	account = strings.TrimSpace(account)
	if account == "" || utf8.RuneCountInString(account) > MaxAccountRunes {
		return Case{}, FieldError("account", "account must be 1-%d characters", MaxAccountRunes)
	}
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusPayoutFailed {
		return Case{}, Errorf(ECONFLICT, "case %s is %s; no failed payout to retry", c.Number(), c.Status)
	}
	p := s.plan(c, o, ActorBuyer)
	if err := p.startPayout(ctx, RouteOriginal, account); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// SettlePayout records the shop's answer about a payout. Repeating the
// same answer returns the payout unchanged, also when the repeat races the
// first answer; contradicting a settled payout is an ECONFLICT error.
func (s *Service) SettlePayout(ctx context.Context, st Settlement) (Payout, error) {
	pay, err := s.store.Payout(ctx, st.PayoutID)
	if err != nil {
		return Payout{}, fmt.Errorf("load payout %s: %w", st.PayoutID, err)
	}
	if settled, done, err := settledAlready(pay, st); done {
		return settled, err
	}
	if !st.OK && strings.TrimSpace(st.Error) == "" {
		return Payout{}, FieldError("reason", "a failed payout needs a reason")
	}
	pay, err = s.settle(ctx, pay, st)
	if ErrorCode(err) != ECONFLICT {
		return pay, err
	}
	// A conflict here means the case moved between reading the payout and
	// applying the change: most often a concurrent repeat of this very
	// answer (a shop retrying a confirmation whose reply it never saw)
	// won. The store refused the stale change, as it must; whether that
	// is the repeat the API promises to answer with the payout, or a
	// contradiction, only the payout as it is now can tell.
	now, rerr := s.store.Payout(ctx, st.PayoutID)
	if rerr != nil {
		return Payout{}, fmt.Errorf("load payout %s again after %w: %w", st.PayoutID, err, rerr)
	}
	if settled, done, serr := settledAlready(now, st); done {
		return settled, serr
	}
	return Payout{}, err
}

// settledAlready answers a settlement of a payout that is no longer
// pending: the payout itself when the answer repeats the one recorded, an
// ECONFLICT error when it contradicts it. done is false for a pending
// payout.
func settledAlready(pay Payout, st Settlement) (settled Payout, done bool, err error) {
	switch {
	case pay.Status == PayoutConfirmed && st.OK, pay.Status == PayoutFailed && !st.OK:
		return pay, true, nil
	case pay.Status != PayoutPending:
		return Payout{}, true, Errorf(ECONFLICT, "payout %s is already %s", pay.ID, pay.Status)
	}
	return Payout{}, false, nil
}

// settle applies a settlement to a payout read as pending.
func (s *Service) settle(ctx context.Context, pay Payout, st Settlement) (Payout, error) {
	c, o, err := s.load(ctx, pay.CaseID, 0)
	if err != nil {
		return Payout{}, err
	}
	p := s.plan(c, o, "shop")
	p.ch.Settle = &st
	if st.OK {
		err = p.move(CasePaid, EventDraft{Amount: pay.Amount, Note: pay.ID})
	} else {
		err = p.move(CasePayoutFail, EventDraft{Amount: pay.Amount, Note: st.Error})
	}
	if err != nil {
		return Payout{}, err
	}
	n := p.tell(NoticeStatus)
	n.Route, n.Amount, n.Note = pay.Route, pay.Amount, st.Error
	if _, err := p.apply(ctx); err != nil {
		return Payout{}, err
	}
	return s.store.Payout(ctx, pay.ID)
}
