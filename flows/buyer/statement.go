package buyer

import (
	"context"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// statement is the step where the buyer says what happened, in their own
// words or by taking the draft written from the order and the reason.
type statement struct{ *turn }

// statement is the turn at the statement step.
func (t *turn) statement() statement { return statement{t} }

// ask asks for the statement and offers the draft.
func (t statement) ask() {
	t.Say(locales.AskStatement, map[string]any{"Draft": t.draft()},
		append([][]flows.Button{{{Text: t.Text(locales.BtnUseDraft, nil), Data: t.keys().data(actUseDraft, "")}}}, t.keys().nav()...)...)
}

// draft builds the statement offered to the buyer in the time + event +
// request form staff expect.
func (t statement) draft() string {
	o := t.Sess.Order
	return t.Text(locales.DraftStatement, map[string]any{
		"Date":    o.PurchasedAt.In(t.d.cfg.Location).Format(t.Text(locales.DateLayout, nil)),
		"Product": o.Product, "OrderID": o.ID, "Amount": flows.FormatMoney(o.AmountPaid, o.Currency),
		"Event":   t.Text(locales.ReasonEvent(t.Sess.Reason), nil),
		"Request": t.Text(locales.RequestFull, nil),
	})
}

// given takes text as the statement and moves on to the evidence.
func (t statement) given(ctx context.Context, text string) error {
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

// suspect holds text that smells of a scam: the buyer may be describing
// the scam they met, so the words are kept until they say whether this is
// their statement.
func (t statement) suspect(text string) {
	if len([]rune(text)) <= refund.MaxStatementRunes {
		t.Sess.PendingStatement = text
		t.Say(locales.StatementScam, nil,
			[]flows.Button{{Text: t.Text(locales.BtnKeepStatement, nil), Data: stepData(t.Sess.Nonce, actKeepStatement, "")}})
	}
}
