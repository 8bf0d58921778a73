package buyer

import (
	"context"
	"fmt"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// prompt asks the question of the current step, with its buttons.
func (t *turn) prompt() {
	o := t.Sess.Order
	switch t.Sess.State {
	case StateAwaitingOrder:
		t.Say(locales.AskOrderID, nil, t.keys().cancelRow())
	case StateAwaitingPhone:
		t.Say(locales.AskPhone, map[string]any{"OrderID": t.Sess.PendingOrderID}, t.keys().nav()...)
	case StateChoosingReason:
		var rows [][]flows.Button
		for _, r := range refund.ReasonsFor(o.Category) {
			rows = append(rows, []flows.Button{{Text: t.Text(locales.ReasonLabel(r), nil), Data: t.keys().data(actReason, string(r))}})
		}
		rows = append(rows, t.keys().nav()...)
		t.Say(locales.AskReason, map[string]any{"OrderID": o.ID, "Product": o.Product, "Amount": flows.FormatMoney(o.AmountPaid, o.Currency)}, rows...)
	case StateWritingStatement:
		t.Say(locales.AskStatement, map[string]any{"Draft": t.draft()},
			append([][]flows.Button{{{Text: t.Text(locales.BtnUseDraft, nil), Data: t.keys().data(actUseDraft, "")}}}, t.keys().nav()...)...)
	case StateCollectingEvidence:
		// Each reason says what evidence it needs, if any: without a
		// requirement the step is optional ("no upload needed").
		ask := locales.AskEvidence
		if !t.d.policy().Reasons[t.Sess.Reason].EvidenceRequired {
			ask = locales.AskEvidenceOptional
		}
		text := t.Text(ask, map[string]any{"Hint": t.Text(locales.EvidenceHint(t.Sess.Reason), nil), "Max": refund.MaxEvidence})
		if n := len(t.Sess.Evidence); n > 0 {
			text += "\n" + t.Text(locales.EvidenceReceived, map[string]any{"Count": n, "Max": refund.MaxEvidence})
		}
		t.Out = append(t.Out, flows.Message{Text: text, Buttons: t.keys().evidence()})
	case StateAddingEvidence, StateWritingAppeal, StateGivingAccount:
		t.followUps().followUpPrompt()
	case StateConfirming:
		text := t.Text(locales.Summary, map[string]any{
			"OrderID": o.ID, "Product": o.Product, "Amount": flows.FormatMoney(o.AmountPaid, o.Currency),
			"Reason": t.Text(locales.ReasonLabel(t.Sess.Reason), nil), "Statement": t.Sess.Statement,
			"Files": len(t.Sess.Evidence),
		})
		if len(t.Sess.Evidence) == 0 && t.d.policy().Reasons[t.Sess.Reason].EvidenceRequired {
			text += "\n" + t.Text(locales.EvidenceNoneNotice, nil)
		}
		t.Out = append(t.Out, flows.Message{Text: text, Buttons: [][]flows.Button{
			{{Text: t.Text(locales.BtnSubmit, nil), Data: t.keys().data(actSubmit, "")}},
			{{Text: t.Text(locales.BtnEdit, nil), Data: t.keys().data(actEdit, "")}},
			{t.keys().back(), t.keys().cancel()},
		}})
	}
}

// draft builds the statement offered to the buyer in the time + event +
// request form staff expect.
func (t *turn) draft() string {
	o := t.Sess.Order
	return t.Text(locales.DraftStatement, map[string]any{
		"Date":    o.PurchasedAt.In(t.d.cfg.Location).Format(t.Text(locales.DateLayout, nil)),
		"Product": o.Product, "OrderID": o.ID, "Amount": flows.FormatMoney(o.AmountPaid, o.Currency),
		"Event":   t.Text(locales.ReasonEvent(t.Sess.Reason), nil),
		"Request": t.Text(locales.RequestFull, nil),
	})
}

// pressed handles an inline button. Forged data changes nothing; a button
// of an earlier step says so and shows the current step again.
func (t *turn) pressed(ctx context.Context, cb flows.Callback) error {
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
			t.Answer = t.Text(locales.InvalidButton, nil)
			t.RemoveKeyboard = false
			return nil
		}
		t.Sess.Reason = r
		return t.advance(ctx, EventReasonChosen)
	case actUseDraft:
		if t.Sess.State != StateWritingStatement {
			break
		}
		return t.statementGiven(ctx, t.draft())
	case actKeepStatement:
		if t.Sess.State != StateWritingStatement || t.Sess.PendingStatement == "" {
			break
		}
		return t.statementGiven(ctx, t.Sess.PendingStatement)
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
		return t.submit(ctx)
	case actEdit:
		if t.Sess.State != StateConfirming {
			break
		}
		t.Say(locales.EditWhat, nil,
			[]flows.Button{{Text: t.Text(locales.BtnEditReason, nil), Data: t.keys().data(actEditReason, "")}},
			[]flows.Button{{Text: t.Text(locales.BtnEditStatement, nil), Data: t.keys().data(actEditStatement, "")}},
			[]flows.Button{{Text: t.Text(locales.BtnEditEvidence, nil), Data: t.keys().data(actEditEvidence, "")}},
			[]flows.Button{t.keys().back(), t.keys().cancel()})
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
	}
	t.Answer = t.Text(locales.InvalidButton, nil)
	t.RemoveKeyboard = false
	return nil
}

// advance fires a button's event and shows the next step. An event that
// does not fit the step is answered like a forged button.
func (t *turn) advance(ctx context.Context, ev Event) error {
	if !can(t.Sess.State, ev) {
		t.Answer = t.Text(locales.InvalidButton, nil)
		t.RemoveKeyboard = false
		return nil
	}
	if err := t.move(ctx, ev); err != nil {
		return err
	}
	t.prompt()
	return nil
}

func (t *turn) back(ctx context.Context) error {
	from := t.Sess.State
	if !can(from, EventBack) {
		t.Answer = t.Text(locales.InvalidButton, nil)
		t.RemoveKeyboard = false
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

func (t *turn) submit(ctx context.Context) error {
	o := t.Sess.Order
	c, err := t.d.cfg.Core.Submit(ctx, refund.NewCase{
		OrderID: o.ID, BuyerUserID: t.In.UserID, ChatID: t.In.ChatID, Reason: t.Sess.Reason,
		Statement: t.Sess.Statement, RequestedAmount: o.AmountPaid, Currency: o.Currency, Language: t.Lang,
		SubmissionKey: t.Sess.SubmissionKey, Evidence: t.Sess.Evidence,
	})
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		return t.alreadyOpen(ctx, o.ID)
	default:
		// The session keeps everything; the buyer presses Submit again and
		// the submission key makes a late success count once.
		t.d.cfg.Logger.ErrorContext(ctx, "create case", "chat_id", t.In.ChatID, "order_id", o.ID, "err", err)
		t.Say(locales.SubmitRetry, nil, []flows.Button{{Text: t.Text(locales.BtnSubmit, nil), Data: t.keys().data(actSubmit, "")}})
		return nil
	}
	if err := t.move(ctx, EventSubmitted); err != nil {
		return err
	}
	t.reset()
	t.submitted = true
	t.Say(locales.Submitted, map[string]any{"Case": c.Number(), "Next": t.Text(locales.StatusNext(c.Status), nil)})
	t.review(c)
	return nil
}

func (t *turn) alreadyOpen(ctx context.Context, orderID string) error {
	c, err := t.openCase(ctx, orderID)
	switch {
	case err != nil:
		return err
	case c == nil:
		return fmt.Errorf("order %s: conflict reported but no open case found", orderID)
	}
	t.caseExists(*c)
	return nil
}

// caseExists ends the request: its order has an open case already.
func (t *turn) caseExists(c refund.Case) {
	t.reset()
	t.Say(locales.CaseExists, map[string]any{"OrderID": c.OrderID, "Case": c.Number(),
		"Status": t.Text(locales.StatusLabel(c.Status), nil)})
}
