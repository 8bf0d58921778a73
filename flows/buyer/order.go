package buyer

import (
	"context"
	"fmt"
	"strings"

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
		return t.ownership().orderGiven(ctx, id)
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

// caseExists ends the request: its order has an open case already.
func (t *turn) caseExists(c refund.Case) {
	t.reset()
	t.Say(locales.CaseExists, map[string]any{"OrderID": c.OrderID, "Case": c.Number(),
		"Status": t.Text(locales.StatusLabel(c.Status), nil)})
}

// findOrder loads an order; found is false for an unknown one.
func (d *Dialog) findOrder(ctx context.Context, id string) (o refund.Order, found bool, err error) {
	order, err := d.cfg.Core.Order(ctx, id)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		return refund.Order{}, false, nil
	case err != nil:
		return refund.Order{}, false, fmt.Errorf("load order %s: %w", id, err)
	}
	return order, true, nil
}

// openCase returns the order's open case, nil when it has none.
func (d *Dialog) openCase(ctx context.Context, orderID string) (*refund.Case, error) {
	cases, err := d.cfg.Core.CasesByOrder(ctx, orderID)
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
