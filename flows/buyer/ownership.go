package buyer

import (
	"context"
	"fmt"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Ownership proof limits: three wrong phone-digit answers lock the order
// for the user for an hour, which makes guessing 10,000 combinations useless.
const (
	MaxOwnershipFailures = 3
	OwnershipLockout     = time.Hour
)

// maxAnswerRunes bounds one-line answers (order IDs, phone digits); longer
// text in those steps is answered with a clear "too long".
const maxAnswerRunes = 200

// ownership proves that the buyer owns the order they name: an order bound
// to their Telegram account is theirs at once, any other order asks for the
// last four digits of the phone it was bought with. Every failure looks the
// same, so that the answers do not tell which order IDs exist.
type ownership struct{ *turn }

// ownership is the turn proving ownership of an order.
func (t *turn) ownership() ownership { return ownership{t} }

// orderTyped reads the answer to "which order?".
func (t ownership) orderTyped(ctx context.Context, text string) error {
	if n := len([]rune(text)); n > maxAnswerRunes {
		t.Say(locales.TextTooLong, map[string]any{"Len": n, "Max": maxAnswerRunes}, t.keys().nav()...)
		return nil
	}
	id, ok := parseOrderAnswer(t.d.cfg.OrderIDPattern, text)
	switch {
	case !ok && isFourDigits(digitsAnswer(text)):
		t.Say(locales.OrderIDLooksLikePhone, nil, t.keys().nav()...)
		return nil
	case !ok:
		t.Say(locales.OrderIDInvalid, map[string]any{"Max": refund.MaxOrderIDLength}, t.keys().nav()...)
		return nil
	}
	return t.orderGiven(ctx, id)
}

// orderGiven takes the order the buyer named: theirs already, or on to the
// phone digits.
func (t ownership) orderGiven(ctx context.Context, id string) error {
	if locked := t.OwnershipLocks[id]; locked > 0 {
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
func (t ownership) phoneGiven(ctx context.Context, text string) error {
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
func (t ownership) owned(ctx context.Context, o refund.Order, ev Event) error {
	open, err := t.d.openCase(ctx, o.ID)
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
		return t.reasonFromWords(ctx, hint)
	}
	t.prompt()
	return nil
}
