package flows

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// prompt asks the question of the current step, with its buttons.
func (t *turn) prompt() {
	o := t.sess.Order
	switch t.sess.State {
	case StateAwaitingOrder:
		t.say(locales.AskOrderID, nil, t.cancelRow())
	case StateAwaitingPhone:
		t.say(locales.AskPhone, map[string]any{"OrderID": t.sess.PendingOrderID}, t.navButtons()...)
	case StateChoosingReason:
		var rows [][]Button
		for _, r := range refund.ReasonsFor(o.Category) {
			rows = append(rows, []Button{{Text: t.text(locales.ReasonLabel(r), nil), Data: t.step(actReason, string(r))}})
		}
		rows = append(rows, t.navButtons()...)
		t.say(locales.AskReason, map[string]any{"OrderID": o.ID, "Product": o.Product, "Amount": formatMoney(o.AmountPaid, o.Currency)}, rows...)
	case StateWritingStatement:
		t.say(locales.AskStatement, map[string]any{"Draft": t.draft()},
			append([][]Button{{{Text: t.text(locales.BtnUseDraft, nil), Data: t.step(actUseDraft, "")}}}, t.navButtons()...)...)
	case StateCollectingEvidence:
		text := t.text(locales.AskEvidence, map[string]any{"Hint": t.text(locales.EvidenceHint(o.Category), nil), "Max": refund.MaxEvidence})
		if n := len(t.sess.Evidence); n > 0 {
			text += "\n" + t.text(locales.EvidenceReceived, map[string]any{"Count": n, "Max": refund.MaxEvidence})
		}
		t.out = append(t.out, Message{Text: text, Buttons: t.evidenceButtons()})
	case StateAddingEvidence, StateWritingAppeal, StateGivingAccount:
		t.followUpPrompt()
	case StateConfirming:
		text := t.text(locales.Summary, map[string]any{
			"OrderID": o.ID, "Product": o.Product, "Amount": formatMoney(o.AmountPaid, o.Currency),
			"Reason": t.text(locales.ReasonLabel(t.sess.Reason), nil), "Statement": t.sess.Statement,
			"Files": len(t.sess.Evidence),
		})
		if len(t.sess.Evidence) == 0 && t.policy().Reasons[t.sess.Reason].EvidenceRequired {
			text += "\n" + t.text(locales.EvidenceNoneNotice, nil)
		}
		t.out = append(t.out, Message{Text: text, Buttons: [][]Button{
			{{Text: t.text(locales.BtnSubmit, nil), Data: t.step(actSubmit, "")}},
			{{Text: t.text(locales.BtnEdit, nil), Data: t.step(actEdit, "")}},
			{t.backButton(), t.cancelButton()},
		}})
	}
}

// draft builds the statement offered to the buyer in the time + event +
// request form staff expect.
func (t *turn) draft() string {
	o := t.sess.Order
	return t.text(locales.DraftStatement, map[string]any{
		"Date":    o.PurchasedAt.In(t.d.cfg.Location).Format(t.text(locales.DateLayout, nil)),
		"Product": o.Product, "OrderID": o.ID, "Amount": formatMoney(o.AmountPaid, o.Currency),
		"Event":   t.text(locales.ReasonEvent(t.sess.Reason), nil),
		"Request": t.text(locales.RequestFull, nil),
	})
}

func (t *turn) step(action, arg string) string { return stepData(t.sess.Nonce, action, arg) }

func (t *turn) backButton() Button {
	return Button{Text: t.text(locales.BtnBack, nil), Data: t.step(actBack, "")}
}

func (t *turn) cancelButton() Button {
	return Button{Text: t.text(locales.BtnCancel, nil), Data: t.step(actCancel, "")}
}

func (t *turn) cancelRow() []Button { return []Button{t.cancelButton()} }

// navButtons are Back and Cancel, or only Cancel where there is no step to
// go back to.
func (t *turn) navButtons() [][]Button {
	if t.sess.State == StateAwaitingOrder || t.sess.State == StateIdle {
		return [][]Button{t.cancelRow()}
	}
	return [][]Button{{t.backButton(), t.cancelButton()}}
}

func (t *turn) evidenceButtons() [][]Button {
	return append([][]Button{{{Text: t.text(locales.BtnDone, nil), Data: t.step(actEvidenceDone, "")}}}, t.navButtons()...)
}

// pressed handles an inline button. Forged data changes nothing; a button
// of an earlier step says so and shows the current step again.
func (t *turn) pressed(ctx context.Context, cb Callback) error {
	p, ok := parseButton(cb.Data)
	if !ok {
		t.answer = t.text(locales.InvalidButton, nil)
		return nil
	}
	t.removeKeyboard = true
	if p.menu {
		switch p.action {
		case actMenuRefund:
			return t.startRefund(ctx, "")
		case actMenuStatus:
			t.say(locales.StatusAsk, nil)
		case actMenuOrder:
			return t.startRefund(ctx, p.arg)
		default:
			return t.followUp(ctx, p.action, p.arg)
		}
	}
	if p.nonce != t.sess.Nonce {
		if t.sess.State == StateIdle && t.sess.Nonce == "" && t.sess.Version == 0 {
			// No session at all: it expired or was lost with Redis.
			t.say(locales.SessionExpired, map[string]any{"OrderID": ""}, t.menuButtons()...)
			return nil
		}
		t.answer = t.text(locales.StaleButton, nil)
		t.prompt()
		return nil
	}
	switch p.action {
	case actReason:
		r := refund.Reason(p.arg)
		if t.sess.State != StateChoosingReason || !r.Fits(t.sess.Order.Category) {
			t.answer = t.text(locales.InvalidButton, nil)
			t.removeKeyboard = false
			return nil
		}
		t.sess.Reason = r
		return t.advance(ctx, EventReasonChosen)
	case actUseDraft:
		if t.sess.State != StateWritingStatement {
			break
		}
		return t.statementGiven(ctx, t.draft())
	case actKeepStatement:
		if t.sess.State != StateWritingStatement || t.sess.PendingStatement == "" {
			break
		}
		return t.statementGiven(ctx, t.sess.PendingStatement)
	case actEvidenceDone:
		if t.sess.State == StateAddingEvidence {
			return t.sendFollowUp(ctx)
		}
		return t.advance(ctx, EventEvidenceDone)
	case actSubmit:
		if t.sess.State == StateWritingAppeal {
			return t.sendFollowUp(ctx)
		}
		if t.sess.State != StateConfirming {
			break
		}
		return t.submit(ctx)
	case actEdit:
		if t.sess.State != StateConfirming {
			break
		}
		t.say(locales.EditWhat, nil,
			[]Button{{Text: t.text(locales.BtnEditReason, nil), Data: t.step(actEditReason, "")}},
			[]Button{{Text: t.text(locales.BtnEditStatement, nil), Data: t.step(actEditStatement, "")}},
			[]Button{{Text: t.text(locales.BtnEditEvidence, nil), Data: t.step(actEditEvidence, "")}},
			[]Button{t.backButton(), t.cancelButton()})
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
	t.answer = t.text(locales.InvalidButton, nil)
	t.removeKeyboard = false
	return nil
}

// advance fires a button's event and shows the next step. An event that
// does not fit the step is answered like a forged button.
func (t *turn) advance(ctx context.Context, ev Event) error {
	if !can(t.sess.State, ev) {
		t.answer = t.text(locales.InvalidButton, nil)
		t.removeKeyboard = false
		return nil
	}
	if err := t.move(ctx, ev); err != nil {
		return err
	}
	t.prompt()
	return nil
}

func (t *turn) back(ctx context.Context) error {
	from := t.sess.State
	if !can(from, EventBack) {
		t.answer = t.text(locales.InvalidButton, nil)
		t.removeKeyboard = false
		return nil
	}
	if err := t.move(ctx, EventBack); err != nil {
		return err
	}
	switch from {
	case StateAwaitingPhone:
		t.sess.PendingOrderID = ""
	case StateChoosingReason:
		t.sess.Order, t.sess.Reason = nil, ""
	}
	t.prompt()
	return nil
}

func (t *turn) submit(ctx context.Context) error {
	o := t.sess.Order
	c, err := t.createCase(ctx, refund.NewCase{
		OrderID: o.ID, BuyerUserID: t.in.UserID, ChatID: t.in.ChatID, Reason: t.sess.Reason,
		Statement: t.sess.Statement, RequestedAmount: o.AmountPaid, Currency: o.Currency, Language: t.lang,
		SubmissionKey: t.sess.SubmissionKey, Evidence: t.sess.Evidence,
	})
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		return t.alreadyOpen(ctx, o.ID)
	default:
		// The session keeps everything; the buyer presses Submit again and
		// the submission key makes a late success count once.
		t.d.cfg.Logger.ErrorContext(ctx, "create case", "chat_id", t.in.ChatID, "order_id", o.ID, "err", err)
		t.say(locales.SubmitRetry, nil, []Button{{Text: t.text(locales.BtnSubmit, nil), Data: t.step(actSubmit, "")}})
		return nil
	}
	if err := t.move(ctx, EventSubmitted); err != nil {
		return err
	}
	t.reset()
	t.submitted = true
	t.say(locales.Submitted, map[string]any{"Case": c.Number(), "Next": t.text(locales.StatusNext(c.Status), nil)})
	t.review(c)
	return nil
}

func (t *turn) alreadyOpen(ctx context.Context, orderID string) error {
	cases, err := t.d.cfg.Store.CasesByOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("cases of order %s: %w", orderID, err)
	}
	for _, c := range cases {
		if c.Status.Open() {
			t.reset()
			t.say(locales.CaseExists, map[string]any{"OrderID": orderID, "Case": c.Number(),
				"Status": t.text(locales.StatusLabel(c.Status), nil)})
			return nil
		}
	}
	return fmt.Errorf("order %s: conflict reported but no open case found", orderID)
}

// status answers "where is my refund?" for a case number or an order ID.
// Someone who is not the case's buyer gets the same answer as for a number
// that does not exist.
func (t *turn) status(ctx context.Context, query string) error {
	if id, ok := findCaseNumber(query); ok {
		c, err := t.d.cfg.Store.Case(ctx, id)
		switch {
		case refund.ErrorCode(err) == refund.ENOTFOUND || (err == nil && c.BuyerUserID != t.in.UserID):
			t.say(locales.StatusNotFound, map[string]any{"Query": refund.FormatCaseNumber(id)})
			return nil
		case err != nil:
			return fmt.Errorf("load case %d: %w", id, err)
		}
		return t.showCase(ctx, c)
	}
	orderID, ok := parseOrderAnswer(t.d.cfg.OrderIDPattern, query)
	if !ok {
		t.say(locales.StatusAsk, nil)
		return nil
	}
	cases, err := t.d.cfg.Store.CasesByOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("cases of order %s: %w", orderID, err)
	}
	for _, c := range cases {
		if c.BuyerUserID == t.in.UserID {
			return t.showCase(ctx, c)
		}
	}
	t.say(locales.StatusNoCase, map[string]any{"OrderID": orderID},
		[]Button{{Text: t.text(locales.BtnStartRefund, nil), Data: menuData(actMenuOrder, orderID)}})
	return nil
}

func (t *turn) showCase(ctx context.Context, c refund.Case) error {
	events, err := t.d.cfg.Store.Events(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("events of case %d: %w", c.ID, err)
	}
	last := c.UpdatedAt
	if n := len(events); n > 0 {
		last = events[n-1].At
	}
	data := map[string]any{
		"Time": t.formatTime(last), "Case": c.Number(), "OrderID": c.OrderID,
		"Amount": formatMoney(c.RequestedAmount, c.Currency), "Status": t.text(locales.StatusLabel(c.Status), nil),
		"Next": t.text(locales.StatusNext(c.Status), nil),
	}
	var b strings.Builder
	b.WriteString(t.text(locales.StatusCase, data))
	b.WriteString("\n\n" + t.text(locales.TimelineHeader, nil))
	var rules []refund.Rule
	for _, e := range events {
		if len(e.Rules) > 0 {
			rules = e.Rules
		}
		label := t.timelineLabel(e, c.Currency)
		if label == "" {
			continue
		}
		b.WriteString("\n" + t.formatTime(e.At) + "  " + label)
	}
	if len(rules) > 0 {
		b.WriteString("\n\n" + t.text(locales.DecisionHeader, nil))
		b.WriteString(explain(t.d.cfg.Texts, t.lang, rules, c.Decided, c.RequestedAmount, c.Currency, 0))
	}
	var buttons [][]Button
	if t.d.cfg.Core != nil {
		order, found, err := t.order(ctx, c.OrderID)
		if err != nil {
			return err
		}
		var routes []refund.PayoutRoute
		if found {
			routes = t.d.cfg.Core.Policy().Routes(order)
		}
		canAppeal := c.Appeals == 0 && c.Due.Kind == refund.DueAppeal && t.d.cfg.Now().Before(c.Due.At)
		buttons = caseButtons(t.d.cfg.Texts, t.lang, c.ID, c.Status, canAppeal, routes, map[string]any{
			"Method": t.text(locales.MethodLabel(order.PaymentMethod), nil),
			"Days":   payoutDays(t.d.cfg.Core.Policy().PayoutDays[order.PaymentMethod]),
		})
	}
	t.out = append(t.out, Message{Text: b.String(), Buttons: buttons})
	return nil
}

// timelineLabel names an event for the buyer; "" hides it.
func (t *turn) timelineLabel(e refund.Event, currency string) string {
	switch e.Type {
	case refund.EventStatusChanged:
		label := t.text(locales.StatusLabel(e.Status), nil)
		if e.Amount > 0 && (e.Status == refund.StatusApproved || e.Status == refund.StatusRefunded) {
			label += " " + formatMoney(e.Amount, currency)
		}
		return label
	case refund.EventDeadlineDropped, refund.EventAgentNote, refund.EventAgentTook, refund.EventAgentReleased:
		// Internal: agents' notes and hand-overs are for the team's log.
		return ""
	}
	return t.text(locales.TimelineEvent(e.Type), nil)
}

func (t *turn) formatTime(at time.Time) string {
	return at.In(t.d.cfg.Location).Format(t.text(locales.DateTimeLayout, nil))
}

// formatMoney shows an amount with the yuan sign for CNY and the ISO code
// otherwise.
func formatMoney(m refund.Money, currency string) string {
	if currency == "" || currency == "CNY" {
		return "¥" + m.String()
	}
	return m.String() + " " + currency
}
