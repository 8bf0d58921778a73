package buyer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// startRefund begins a new request; free text may already name the order
// and the reason ("我要退款 订单号KM20261120001 卡密无效").
func (t *turn) startRefund(ctx context.Context, text string) error {
	lang, chosen := t.Sess.Lang, t.Sess.LangChosen
	if err := t.move(ctx, EventStart); err != nil {
		return err
	}
	t.Sess = flows.Session{State: t.Sess.State, Nonce: t.Sess.Nonce, Lang: lang, LangChosen: chosen,
		SubmissionKey: newNonce() + newNonce(), ReasonHint: t.d.reasonIn(text)}
	if id, ok := findOrderID(t.d.cfg.OrderIDPattern, text); ok {
		return t.orderGiven(ctx, id)
	}
	t.prompt()
	return nil
}

func (d *Dialog) reasonIn(text string) refund.Reason {
	lower := strings.ToLower(text)
	for _, r := range refund.AllReasons() {
		for _, w := range d.reasonWords[r] {
			if strings.Contains(lower, w) {
				return r
			}
		}
	}
	return ""
}

func (t *turn) orderGiven(ctx context.Context, id string) error {
	locked, err := t.d.cfg.Attempts.Locked(ctx, t.In.UserID, id, MaxOwnershipFailures)
	if err != nil {
		return fmt.Errorf("check lock of order %s: %w", id, err)
	}
	if locked > 0 {
		t.Say(locales.OwnershipLocked, map[string]any{"OrderID": id, "Minutes": minutesCeil(locked)}, t.keys().nav()...)
		return nil
	}
	order, found, err := t.d.findOrder(ctx, id)
	if err != nil {
		return err
	}
	if found && order.BoundTo(t.In.UserID) {
		return t.owned(ctx, order, EventOrderOwned)
	}
	// Unbound, someone else's and unknown orders all take the same path, so
	// that the answers do not tell which order IDs exist.
	t.Sess.PendingOrderID = id
	if err := t.move(ctx, EventOrderNeedsProof); err != nil {
		return err
	}
	t.prompt()
	return nil
}

// phoneGiven checks the phone digits. A failed answer keeps the buyer on
// this step with one answer for every cause (unknown order, someone else's,
// wrong digits), so that nothing can be learnt from it; an order ID sent
// here instead starts over with that order.
func (t *turn) phoneGiven(ctx context.Context, text string) error {
	text = digitsAnswer(text)
	if !isFourDigits(text) {
		if other, ok := findOrderID(t.d.cfg.OrderIDPattern, t.In.Text); ok {
			if err := t.move(ctx, EventBack); err != nil {
				return err
			}
			t.Sess.PendingOrderID = ""
			return t.orderGiven(ctx, other)
		}
		t.Say(locales.PhoneFormat, nil, t.keys().nav()...)
		return nil
	}
	id := t.Sess.PendingOrderID
	order, found, err := t.d.findOrder(ctx, id)
	if err != nil {
		return err
	}
	if found && order.BuyerTelegramID == 0 && order.PhoneLast4Matches(text) {
		return t.owned(ctx, order, EventPhoneOK)
	}
	failures, err := t.d.cfg.Attempts.Fail(ctx, t.In.UserID, id, MaxOwnershipFailures, OwnershipLockout)
	if err != nil {
		return fmt.Errorf("count failed proof for order %s: %w", id, err)
	}
	if failures >= MaxOwnershipFailures {
		if err := t.move(ctx, EventPhoneFailed); err != nil {
			return err
		}
		t.Sess.PendingOrderID = ""
		t.Say(locales.OwnershipLocked, map[string]any{"OrderID": id, "Minutes": minutesCeil(OwnershipLockout)}, t.keys().nav()...)
		return nil
	}
	t.Say(locales.OwnershipFailed, map[string]any{"Left": MaxOwnershipFailures - failures}, t.keys().nav()...)
	return nil
}

func minutesCeil(d time.Duration) int {
	return int((d + time.Minute - 1) / time.Minute)
}

// owned records the proven order and moves to the reason, or past it when
// the buyer's first message already named a reason that fits.
//
// An order that already has an open case is answered here, at the order
// step, with that case's status, rather than after every step at Submit.
func (t *turn) owned(ctx context.Context, o refund.Order, ev Event) error {
	open, err := t.openCase(ctx, o.ID)
	if err != nil {
		return err
	}
	if open != nil {
		t.caseExists(*open)
		return nil
	}
	t.Sess.PendingOrderID = ""
	t.Sess.Order = &flows.OrderSnapshot{ID: o.ID, Product: o.Product, Category: o.Category, AmountPaid: o.AmountPaid,
		Currency: o.Currency, PurchasedAt: o.PurchasedAt}
	if err := t.move(ctx, ev); err != nil {
		return err
	}
	hint := t.Sess.ReasonHint
	t.Sess.ReasonHint = ""
	if hint != "" && hint.Fits(o.Category) {
		t.Sess.Reason = hint
		if err := t.move(ctx, EventReasonChosen); err != nil {
			return err
		}
		t.Say(locales.ReasonDetected, map[string]any{"Reason": t.Text(locales.ReasonLabel(hint), nil)})
	}
	t.prompt()
	return nil
}

func (t *turn) statementGiven(ctx context.Context, text string) error {
	text = strings.TrimSpace(text)
	if n := len([]rune(text)); n > refund.MaxStatementRunes {
		t.Say(locales.StatementTooLong, map[string]any{"Len": n, "Max": refund.MaxStatementRunes}, t.keys().nav()...)
		return nil
	}
	t.Sess.Statement = text
	t.Sess.PendingStatement = ""
	if err := t.move(ctx, EventStatementSet); err != nil {
		return err
	}
	t.prompt()
	return nil
}

// openCase returns the order's open case, nil when it has none.
func (t *turn) openCase(ctx context.Context, orderID string) (*refund.Case, error) {
	cases, err := t.d.cfg.Core.CasesByOrder(ctx, orderID)
	if err != nil {
		return nil, fmt.Errorf("cases of order %s: %w", orderID, err)
	}
	for _, c := range cases {
		if c.Status.Open() {
			return &c, nil
		}
	}
	return nil, nil
}
