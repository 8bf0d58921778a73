package buyer

import (
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
		t.statement().ask()
	case StateCollectingEvidence:
		t.evidence().ask()
	case StateAddingEvidence, StateWritingAppeal, StateGivingAccount:
		t.followUps().followUpPrompt()
	case StateConfirming:
		t.summary().show()
	}
}
