package buyer

import (
	"context"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// press answers an inline button. A menu button works in any step; a step
// button only in the step whose nonce it carries, and only for an action
// that step has. Forged data changes nothing; a button of an earlier step
// says so and shows the current step again.
type press struct{ *turn }

// press is the turn answering a button.
func (t *turn) press() press { return press{t} }

// handle answers the button whose data cb carries.
func (t press) handle(ctx context.Context, cb flows.Callback) error {
	p, ok := parseButton(cb.Data)
	if !ok {
		t.Answer = t.Text(locales.InvalidButton, nil)
		return nil
	}
	t.RemoveKeyboard = true
	if p.menu {
		switch p.action {
		case actMenuRefund:
			return t.startRefund(ctx, "")
		case actMenuStatus:
			t.Say(locales.StatusAsk, nil)
			return nil
		case actMenuOrder:
			return t.startRefund(ctx, p.arg)
		default:
			return t.followUps().followUp(ctx, p.action, p.arg)
		}
	}
	if p.nonce != t.Sess.Nonce {
		if t.Sess.State == StateIdle && t.Sess.Nonce == "" && t.Sess.Version == 0 {
			// No session at all: it expired or was lost with Redis.
			t.Say(locales.SessionExpired, map[string]any{"OrderID": ""}, t.keys().menu()...)
			return nil
		}
		t.Answer = t.Text(locales.StaleButton, nil)
		t.prompt()
		return nil
	}
	switch p.action {
	case actReason:
		r := refund.Reason(p.arg)
		if t.Sess.State != StateChoosingReason || !r.Fits(t.Sess.Order.Category) {
			t.invalid()
			return nil
		}
		t.Sess.Reason = r
		return t.advance(ctx, EventReasonChosen)
	case actUseDraft:
		if t.Sess.State != StateWritingStatement {
			break
		}
		return t.statement().given(ctx, t.statement().draft())
	case actKeepStatement:
		if t.Sess.State != StateWritingStatement || t.Sess.PendingStatement == "" {
			break
		}
		return t.statement().given(ctx, t.Sess.PendingStatement)
	case actEvidenceDone:
		if t.Sess.State == StateAddingEvidence {
			return t.followUps().sendFollowUp(ctx)
		}
		return t.advance(ctx, EventEvidenceDone)
	case actSubmit:
		if t.Sess.State == StateWritingAppeal {
			return t.followUps().sendFollowUp(ctx)
		}
		if t.Sess.State != StateConfirming {
			break
		}
		return t.summary().submit(ctx)
	case actEdit:
		if t.Sess.State != StateConfirming {
			break
		}
		t.summary().offerEdits()
		return nil
	case actEditReason:
		return t.advance(ctx, EventEditReason)
	case actEditStatement:
		return t.advance(ctx, EventEditStatement)
	case actEditEvidence:
		return t.advance(ctx, EventEditEvidence)
	case actBack:
		return t.back(ctx)
	case actCancel:
		return t.cancel(ctx)
	case actSkipComment:
		if t.Sess.State != StateRatingComment {
			break
		}
		return t.comment().skip(ctx)
	}
	t.invalid()
	return nil
}

// invalid answers a button that does not fit the step like a forged one,
// and leaves its keyboard for the buttons that do.
func (t press) invalid() {
	t.Answer = t.Text(locales.InvalidButton, nil)
	t.RemoveKeyboard = false
}

// advance fires a button's event and shows the next step. An event that
// does not fit the step is answered like a forged button.
func (t press) advance(ctx context.Context, ev Event) error {
	if !can(t.Sess.State, ev) {
		t.invalid()
		return nil
	}
	if err := t.move(ctx, ev); err != nil {
		return err
	}
	t.prompt()
	return nil
}

// back goes one step back and forgets what the step left behind was about:
// the order waiting for its proof, or the proven order and its reason.
func (t press) back(ctx context.Context) error {
	from := t.Sess.State
	if !can(from, EventBack) {
		t.invalid()
		return nil
	}
	if err := t.move(ctx, EventBack); err != nil {
		return err
	}
	switch from {
	case StateAwaitingPhone:
		t.Sess.PendingOrderID = ""
	case StateChoosingReason:
		t.Sess.Order, t.Sess.Reason = nil, ""
	}
	t.prompt()
	return nil
}
