package buyer

import (
	"context"
	"fmt"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// summary is the last step of a new request: it shows what the case will
// say, lets the buyer change a part of it, and submits it to the refund
// core, which gives it its first review once the buyer has been told.
type summary struct{ *turn }

// summary is the turn at the confirming step.
func (t *turn) summary() summary { return summary{t} }

// show shows the request as it will be submitted.
func (t summary) show() {
	o := t.Sess.Order
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

// offerEdits asks which part of the request to change.
func (t summary) offerEdits() {
	t.Say(locales.EditWhat, nil,
		[]flows.Button{{Text: t.Text(locales.BtnEditReason, nil), Data: t.keys().data(actEditReason, "")}},
		[]flows.Button{{Text: t.Text(locales.BtnEditStatement, nil), Data: t.keys().data(actEditStatement, "")}},
		[]flows.Button{{Text: t.Text(locales.BtnEditEvidence, nil), Data: t.keys().data(actEditEvidence, "")}},
		[]flows.Button{t.keys().back(), t.keys().cancel()})
}

// submit creates the case and ends the dialog.
func (t summary) submit(ctx context.Context) error {
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

// alreadyOpen answers a submit the core refused because the order got an
// open case meanwhile (in another chat, or by a double press).
func (t summary) alreadyOpen(ctx context.Context, orderID string) error {
	c, err := t.d.openCase(ctx, orderID)
	switch {
	case err != nil:
		return err
	case c == nil:
		return fmt.Errorf("order %s: conflict reported but no open case found", orderID)
	}
	t.caseExists(*c)
	return nil
}

// review runs the case's first review once the turn's replies are out. A
// failed review is only logged: the sweeper runs it later, so the buyer
// is not told of an error.
func (t summary) review(c refund.Case) {
	if t.d.cfg.Core == nil {
		return
	}
	// After delivery, so that "submitted" reaches the buyer before the
	// verdict's notice does.
	t.AfterCommit = append(t.AfterCommit, func(ctx context.Context) {
		if _, err := t.d.cfg.Core.Review(ctx, c.ID); err != nil {
			t.d.cfg.Logger.ErrorContext(ctx, "first review", "case", c.Number(), "err", err)
		}
	})
}
