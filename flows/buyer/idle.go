package buyer

import (
	"context"
	"strings"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// idle reads free text typed outside a request, where nothing says what
// the words answer: they may ask about a case, start a refund, or be
// something the bot cannot place, which a person takes over when it comes
// again and again.
type idle struct{ *turn }

// idle reads the turn's text as idle free text.
func (t *turn) idle() idle { return idle{t} }

// read answers idle free text: a case number is always a question about
// that case; a question about progress or money is a status question even
// when it says 退款, unless it asks for a new refund in so many words; an
// order ID alone asks about that order. A buyer waiting in the queue for
// a person is talking to that person, unless they quote a number or ask
// for a new refund.
func (t idle) read(ctx context.Context, text string) error {
	_, hasCase := findCaseNumber(text)
	_, hasOrder := findOrderID(t.d.cfg.OrderIDPattern, text)
	refundWords := hasRefundIntent(text)
	statusQuestion := asksStatus(text) && !asksNewRefund(text)
	if e := t.Escalation; e != nil && e.Status == refund.EscalationQueued && !hasCase && !hasOrder && !asksNewRefund(text) {
		// Waiting for a person, who is who the words are for ("还没处理吗",
		// "卡密已被使用"): they are kept until one takes the chat. A number
		// to look up, or a new request in so many words, the dialog still
		// answers itself.
		if kept, err := t.d.cfg.Desk.KeepForAgent(ctx, t.Turn); err != nil || kept {
			return err
		}
	}
	switch {
	case hasCase, hasOrder && statusQuestion:
		return t.lookup().status(ctx, text)
	case statusQuestion:
		t.Say(locales.StatusAsk, nil)
		return nil
	case refundWords || asksNewRefund(text) || t.d.reasonIn(text) != "":
		// Naming what went wrong ("卡密提示已被使用") is asking for a refund.
		return t.startRefund(ctx, text)
	case hasOrder:
		return t.lookup().status(ctx, text)
	}
	if e := t.Escalation; e != nil && e.Open() {
		// Waiting for a person: say where they are rather than the menu.
		return t.askPerson(ctx, e.Reason)
	}
	if t.repeated(text) {
		return t.askPerson(ctx, refund.EscalateRepeated)
	}
	t.Say(locales.UnknownText, nil, t.keys().menu()...)
	return nil
}

// makesRequest reports whether idle free text that tells of a scam also
// asks for something the dialog answers: a refund in so many words ("才能退
// 款" is the scammer's line, not a request), a status, an order or a case.
func (t idle) makesRequest(text string) bool {
	if asksNewRefund(text) || asksStatus(text) {
		return true
	}
	if _, ok := findCaseNumber(text); ok {
		return true
	}
	_, ok := findOrderID(t.d.cfg.OrderIDPattern, text)
	return ok
}

// repeatLimit is how many times the same complaint the bot did not
// understand brings in a person.
const repeatLimit = 3

// repeated counts the buyer saying the same thing the bot cannot place.
func (t idle) repeated(text string) bool {
	norm := strings.Join(strings.Fields(strings.ToLower(text)), " ")
	if norm == t.Sess.RepeatText {
		t.Sess.RepeatCount++
	} else {
		t.Sess.RepeatText, t.Sess.RepeatCount = norm, 1
	}
	if t.Sess.RepeatCount >= repeatLimit && t.d.cfg.Desk.Enabled() {
		t.Sess.RepeatText, t.Sess.RepeatCount = "", 0
		return true
	}
	return false
}
