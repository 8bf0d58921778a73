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

// prompt asks the question of the current step, with its buttons.
func (t *turn) prompt() {
	o := t.Sess.Order
	switch t.Sess.State {
	case StateAwaitingOrder:
		t.Say(locales.AskOrderID, nil, t.cancelRow())
	case StateAwaitingPhone:
		t.Say(locales.AskPhone, map[string]any{"OrderID": t.Sess.PendingOrderID}, t.navButtons()...)
	case StateChoosingReason:
		var rows [][]flows.Button
		for _, r := range refund.ReasonsFor(o.Category) {
			rows = append(rows, []flows.Button{{Text: t.Text(locales.ReasonLabel(r), nil), Data: t.step(actReason, string(r))}})
		}
		rows = append(rows, t.navButtons()...)
		t.Say(locales.AskReason, map[string]any{"OrderID": o.ID, "Product": o.Product, "Amount": flows.FormatMoney(o.AmountPaid, o.Currency)}, rows...)
	case StateWritingStatement:
		t.Say(locales.AskStatement, map[string]any{"Draft": t.draft()},
			append([][]flows.Button{{{Text: t.Text(locales.BtnUseDraft, nil), Data: t.step(actUseDraft, "")}}}, t.navButtons()...)...)
	case StateCollectingEvidence:
		text := t.Text(locales.AskEvidence, map[string]any{"Hint": t.Text(locales.EvidenceHint(o.Category), nil), "Max": refund.MaxEvidence})
		if n := len(t.Sess.Evidence); n > 0 {
			text += "\n" + t.Text(locales.EvidenceReceived, map[string]any{"Count": n, "Max": refund.MaxEvidence})
		}
		t.Out = append(t.Out, flows.Message{Text: text, Buttons: t.evidenceButtons()})
	case StateAddingEvidence, StateWritingAppeal, StateGivingAccount:
		t.followUpPrompt()
	case StateConfirming:
		text := t.Text(locales.Summary, map[string]any{
			"OrderID": o.ID, "Product": o.Product, "Amount": flows.FormatMoney(o.AmountPaid, o.Currency),
			"Reason": t.Text(locales.ReasonLabel(t.Sess.Reason), nil), "Statement": t.Sess.Statement,
			"Files": len(t.Sess.Evidence),
		})
		if len(t.Sess.Evidence) == 0 && t.policy().Reasons[t.Sess.Reason].EvidenceRequired {
			text += "\n" + t.Text(locales.EvidenceNoneNotice, nil)
		}
		t.Out = append(t.Out, flows.Message{Text: text, Buttons: [][]flows.Button{
			{{Text: t.Text(locales.BtnSubmit, nil), Data: t.step(actSubmit, "")}},
			{{Text: t.Text(locales.BtnEdit, nil), Data: t.step(actEdit, "")}},
			{t.backButton(), t.cancelButton()},
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

func (t *turn) step(action, arg string) string { return stepData(t.Sess.Nonce, action, arg) }

func (t *turn) backButton() flows.Button {
	return flows.Button{Text: t.Text(locales.BtnBack, nil), Data: t.step(actBack, "")}
}

func (t *turn) cancelButton() flows.Button {
	return flows.Button{Text: t.Text(locales.BtnCancel, nil), Data: t.step(actCancel, "")}
}

func (t *turn) cancelRow() []flows.Button { return []flows.Button{t.cancelButton()} }

// navButtons are Back and Cancel, or only Cancel where there is no step to
// go back to.
func (t *turn) navButtons() [][]flows.Button {
	if t.Sess.State == StateAwaitingOrder || t.Sess.State == StateIdle {
		return [][]flows.Button{t.cancelRow()}
	}
	return [][]flows.Button{{t.backButton(), t.cancelButton()}}
}

func (t *turn) evidenceButtons() [][]flows.Button {
	return append([][]flows.Button{{{Text: t.Text(locales.BtnDone, nil), Data: t.step(actEvidenceDone, "")}}}, t.navButtons()...)
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
		case actMenuOrder:
			return t.startRefund(ctx, p.arg)
		default:
			return t.followUp(ctx, p.action, p.arg)
		}
	}
	if p.nonce != t.Sess.Nonce {
		if t.Sess.State == StateIdle && t.Sess.Nonce == "" && t.Sess.Version == 0 {
			// No session at all: it expired or was lost with Redis.
			t.Say(locales.SessionExpired, map[string]any{"OrderID": ""}, t.menuButtons()...)
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
			return t.sendFollowUp(ctx)
		}
		return t.advance(ctx, EventEvidenceDone)
	case actSubmit:
		if t.Sess.State == StateWritingAppeal {
			return t.sendFollowUp(ctx)
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
			[]flows.Button{{Text: t.Text(locales.BtnEditReason, nil), Data: t.step(actEditReason, "")}},
			[]flows.Button{{Text: t.Text(locales.BtnEditStatement, nil), Data: t.step(actEditStatement, "")}},
			[]flows.Button{{Text: t.Text(locales.BtnEditEvidence, nil), Data: t.step(actEditEvidence, "")}},
			[]flows.Button{t.backButton(), t.cancelButton()})
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
		t.Say(locales.SubmitRetry, nil, []flows.Button{{Text: t.Text(locales.BtnSubmit, nil), Data: t.step(actSubmit, "")}})
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
	cases, err := t.d.cfg.Core.CasesByOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("cases of order %s: %w", orderID, err)
	}
	for _, c := range cases {
		if c.Status.Open() {
			t.reset()
			t.Say(locales.CaseExists, map[string]any{"OrderID": orderID, "Case": c.Number(),
				"Status": t.Text(locales.StatusLabel(c.Status), nil)})
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
		c, err := t.d.cfg.Core.Case(ctx, id)
		switch {
		case refund.ErrorCode(err) == refund.ENOTFOUND || (err == nil && c.BuyerUserID != t.In.UserID):
			t.Say(locales.StatusNotFound, map[string]any{"Query": refund.FormatCaseNumber(id)})
			return nil
		case err != nil:
			return fmt.Errorf("load case %d: %w", id, err)
		}
		return t.showCase(ctx, c)
	}
	orderID, ok := parseOrderAnswer(t.d.cfg.OrderIDPattern, query)
	if !ok {
		t.Say(locales.StatusAsk, nil)
		return nil
	}
	cases, err := t.d.cfg.Core.CasesByOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("cases of order %s: %w", orderID, err)
	}
	for _, c := range cases {
		if c.BuyerUserID == t.In.UserID {
			return t.showCase(ctx, c)
		}
	}
	t.Say(locales.StatusNoCase, map[string]any{"OrderID": orderID},
		[]flows.Button{{Text: t.Text(locales.BtnStartRefund, nil), Data: menuData(actMenuOrder, orderID)}})
	return nil
}

func (t *turn) showCase(ctx context.Context, c refund.Case) error {
	events, err := t.d.cfg.Core.Events(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("events of case %d: %w", c.ID, err)
	}
	last := c.UpdatedAt
	if n := len(events); n > 0 {
		last = events[n-1].At
	}
	data := map[string]any{
		"Time": t.formatTime(last), "Case": c.Number(), "OrderID": c.OrderID,
		"Amount": flows.FormatMoney(c.RequestedAmount, c.Currency), "Status": t.Text(locales.StatusLabel(c.Status), nil),
		"Next": t.Text(locales.StatusNext(c.Status), nil),
	}
	var b strings.Builder
	b.WriteString(t.Text(locales.StatusCase, data))
	b.WriteString("\n\n" + t.Text(locales.TimelineHeader, nil))
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
		b.WriteString("\n\n" + t.Text(locales.DecisionHeader, nil))
		b.WriteString(flows.Explain(t.d.cfg.Texts, t.Lang, rules, c.Decided, c.RequestedAmount, c.Currency, 0))
	}
	var buttons [][]flows.Button
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
		buttons = caseButtons(t.d.cfg.Texts, t.Lang, c.ID, c.Status, canAppeal, routes, map[string]any{
			"Method": t.Text(locales.MethodLabel(order.PaymentMethod), nil),
			"Days":   payoutDays(t.d.cfg.Core.Policy().PayoutDays[order.PaymentMethod]),
		})
	}
	t.Out = append(t.Out, flows.Message{Text: b.String(), Buttons: buttons})
	return nil
}

// timelineLabel names an event for the buyer; "" hides it.
func (t *turn) timelineLabel(e refund.Event, currency string) string {
	switch e.Type {
	case refund.EventStatusChanged:
		label := t.Text(locales.StatusLabel(e.Status), nil)
		if e.Amount > 0 && (e.Status == refund.StatusApproved || e.Status == refund.StatusRefunded) {
			label += " " + flows.FormatMoney(e.Amount, currency)
		}
		return label
	case refund.EventDeadlineDropped, refund.EventAgentNote, refund.EventAgentTook, refund.EventAgentReleased:
		// Internal: agents' notes and hand-overs are for the team's log.
		return ""
	}
	return t.Text(locales.TimelineEvent(e.Type), nil)
}

func (t *turn) formatTime(at time.Time) string {
	return at.In(t.d.cfg.Location).Format(t.Text(locales.DateTimeLayout, nil))
}
