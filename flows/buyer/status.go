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

// lookup answers "where is my refund?": it finds the buyer's case by its
// number or its order and shows it with its history and what the buyer
// can do next. It changes no session.
type lookup struct {
	*flows.Turn
	d *Dialog
}

func (t *turn) lookup() lookup { return lookup{Turn: t.Turn, d: t.d} }

// status answers "where is my refund?" for a case number or an order ID.
// Someone who is not the case's buyer gets the same answer as for a number
// that does not exist.
func (t lookup) status(ctx context.Context, query string) error {
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

func (t lookup) showCase(ctx context.Context, c refund.Case) error {
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
	order, found, err := t.d.findOrder(ctx, c.OrderID)
	if err != nil {
		return err
	}
	var routes []refund.PayoutRoute
	if found {
		routes = t.d.cfg.Core.Policy().Routes(order)
	}
	canAppeal := c.Appeals == 0 && c.Due.Kind == refund.DueAppeal && t.d.cfg.Now().Before(c.Due.At)
	buttons := caseButtons(t.d.cfg.Texts, t.Lang, c.ID, c.Status, canAppeal, routes, map[string]any{
		"Method": t.Text(locales.MethodLabel(order.PaymentMethod), nil),
		"Days":   payoutDays(t.d.cfg.Core.Policy().PayoutDays[order.PaymentMethod]),
	})
	t.Out = append(t.Out, flows.Message{Text: b.String(), Buttons: buttons})
	return nil
}

// timelineLabel names an event for the buyer; "" hides it.
func (t lookup) timelineLabel(e refund.Event, currency string) string {
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
	case refund.EventRatingComment:
		// The buyer's own words, which the rating before it stands for.
		return ""
	}
	return t.Text(locales.TimelineEvent(e.Type), nil)
}

func (t lookup) formatTime(at time.Time) string {
	return at.In(t.d.cfg.Location).Format(t.Text(locales.DateTimeLayout, nil))
}
