package desk

import (
	"context"
	"fmt"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// What a buyer writes while their chat waits in the queue. The dialog has
// no use for it and no agent holds the chat yet to relay it to, so it is
// kept with the escalation and handed, as one message, to the agent who
// takes the chat: a buyer who keeps explaining while they wait is read,
// not dropped, and the team chat's budget pays for one message, not one
// per line.

// waitingWords is the Desk's part that keeps what queued buyers write and
// hands it to the agent who takes the chat.
type waitingWords struct{ *core }

// KeepForAgent implements buyer.Desk: the buyer's text, which the dialog
// could not place, is kept for the agent who takes their queued chat, and
// the buyer is told so. false means the chat is not waiting in the queue
// and the dialog answers as it would.
func (d *waitingWords) KeepForAgent(ctx context.Context, t *flows.Turn) (bool, error) {
	e := t.Escalation
	if e == nil || e.Status != refund.EscalationQueued {
		return false, nil
	}
	kept, err := d.cfg.Escalations.KeepWaiting(ctx, e.ID, t.In.Text)
	switch {
	case refund.ErrorCode(err) == refund.EINVALID:
		return false, nil // nothing left of it to keep
	case err != nil:
		return false, err
	case kept:
		t.Say(locales.WaitingKept, nil)
		return true, nil
	}
	// No room left, which the buyer is told; or taken since the turn
	// began, and then the dialog answers as for any held chat's buyer.
	now, err := d.cfg.Escalations.Escalation(ctx, e.ID)
	if err != nil || now.Status != refund.EscalationQueued {
		return false, err
	}
	t.Say(locales.WaitingFull, map[string]any{"Max": refund.MaxWaitingMessages})
	return true, nil
}

// waiting is what a buyer wrote while queued, shaped as one message for
// where the held chat is relayed now.
type waiting struct {
	to   int64
	msg  flows.Message
	link *flows.Link
	// through is the last message it holds, for ClearWaiting.
	through int64
}

// waitingFor gathers what the buyer of a just-taken escalation wrote
// while queued; ok is false when they wrote nothing.
func (d *waitingWords) waitingFor(ctx context.Context, e refund.Escalation) (w waiting, ok bool, err error) {
	ms, err := d.cfg.Escalations.Waiting(ctx, e.ID)
	if err != nil || len(ms) == 0 {
		return waiting{}, false, err
	}
	to, private, err := d.relayTarget(ctx, e)
	if err != nil {
		return waiting{}, false, err
	}
	team := d.cfg.Texts.Match(d.cfg.Lang)
	var b strings.Builder
	// Headed like a private relay ("#12 …"), so that an agent's reply to
	// it reaches the buyer there too.
	b.WriteString(d.cfg.Texts.Text(team, locales.DeskWaiting, map[string]any{"ID": e.ID, "Case": caseLabel(e),
		"Count": len(ms)}))
	for _, m := range ms {
		// The buyer's words as they wrote them, after the time: data in
		// a plain-text message, never markup.
		fmt.Fprintf(&b, "\n[%s] %s", m.At.In(d.cfg.Location).Format("15:04"), m.Text)
	}
	w = waiting{to: to, msg: flows.Message{Text: b.String()}, through: ms[len(ms)-1].Seq}
	if !private {
		w.msg.ReplyTo, w.msg.ThreadID = e.CardMessageID, e.ThreadID
		w.link = &flows.Link{Escalation: e.ID, Kind: flows.LinkRelay}
	}
	return w, true, nil
}

// handWaiting posts what the buyer wrote while queued to the agent who
// has just taken the chat, and forgets it once the turn is saved: a turn
// that fails before leaves it for the take's redelivery.
func (t *agentTurn) handWaiting(ctx context.Context, e refund.Escalation) error {
	w, ok, err := t.d.waitingFor(ctx, e)
	if err != nil || !ok {
		return err
	}
	t.Post(w.to, w.msg, w.link)
	t.AfterCommit = append(t.AfterCommit, func(ctx context.Context) { t.d.forgetWaiting(ctx, e.ID, w.through) })
	return nil
}

// sendWaiting is handWaiting for work outside a turn (auto-assignment
// from the agents' outbox), which sends itself.
func (d *waitingWords) sendWaiting(ctx context.Context, e refund.Escalation, send flows.Sender) error {
	w, ok, err := d.waitingFor(ctx, e)
	if err != nil || !ok {
		return err
	}
	id, err := send.Post(ctx, w.to, w.msg)
	if err != nil {
		return fmt.Errorf("hand escalation %d's waiting messages to its agent: %w", e.ID, err)
	}
	if w.link != nil {
		if err := d.cfg.Escalations.Link(ctx, e.ID, id, false); err != nil {
			return err
		}
	}
	d.forgetWaiting(ctx, e.ID, w.through)
	return nil
}

// forgetWaiting clears handed-on messages. A failure leaves them to be
// handed on again at the next take, which is better than losing them.
func (d *waitingWords) forgetWaiting(ctx context.Context, id, through int64) {
	if err := d.cfg.Escalations.ClearWaiting(ctx, id, through); err != nil {
		d.cfg.Logger.WarnContext(ctx, "forget waiting messages handed to the agent", "escalation", id, "err", err)
	}
}
