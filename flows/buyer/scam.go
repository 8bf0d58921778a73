package buyer

import (
	"context"
	"strings"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// scam warns of a message that tells of someone asking the buyer to pay,
// unfreeze, give a code or move apps, and then answers whatever request the
// message also makes: a warning never swallows a request.
func (t *turn) scam(ctx context.Context) error {
	t.Say(locales.ScamWarning, nil)
	t.d.cfg.Desk.Flag(ctx, t.Turn)
	text := strings.TrimSpace(t.In.Text)
	switch {
	case t.In.Command != "":
		return t.command(ctx)
	case asksForPerson(text):
		return t.askPerson(ctx, refund.EscalateAsked)
	}
	switch t.Sess.State {
	case StateWritingStatement:
		t.statement().suspect(t.In.Text)
		return nil
	case StateIdle:
		if t.idle().makesRequest(text) {
			return t.typed(ctx)
		}
		return nil
	case StateAwaitingOrder:
		if _, ok := findOrderID(t.d.cfg.OrderIDPattern, text); ok {
			return t.typed(ctx)
		}
		return nil
	case StateAwaitingPhone:
		if isFourDigits(digitsAnswer(text)) {
			return t.typed(ctx)
		}
		return nil
	}
	return t.typed(ctx)
}
