package desk

import (
	"context"
	"fmt"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// DeliverAgentNotice takes one notice from the agents' outbox: a case sent
// to human review opens an escalation with its case card (and evidence)
// in the team chat and tells the buyer their place in the queue; a late
// review is announced on the card. Delivery is at least once, so a card
// already posted is not posted again.
func (d *Desk) DeliverAgentNotice(ctx context.Context, item refund.OutboxItem, send flows.Sender) error {
	n, err := refund.DecodeNotice(item.Payload)
	if err != nil {
		return fmt.Errorf("outbox item %d: %w", item.ID, err)
	}
	reason := refund.EscalateHumanReview
	if n.Kind == refund.NoticeReviewOverdue {
		reason = refund.EscalateOverdue
	}
	e, _, err := d.cfg.Escalations.Escalate(ctx, refund.Escalation{CaseID: n.CaseID, BuyerChatID: n.ChatID,
		BuyerUserID: n.UserID, Language: n.Language, Reason: reason, Due: n.Deadline})
	if err != nil {
		return fmt.Errorf("escalate case %s: %w", n.Number(), err)
	}
	team := d.cfg.Texts.Match(d.cfg.Lang)
	if e.CardMessageID != 0 {
		if n.Kind == refund.NoticeReviewOverdue {
			_, err := send.Post(ctx, d.cfg.ChatID, flows.Message{ReplyTo: e.CardMessageID, ThreadID: e.ThreadID,
				Text: d.cfg.Texts.Text(team, locales.DeskOverdue, map[string]any{"ID": e.ID, "Case": n.Number()})})
			return err
		}
		return nil
	}
	c, err := d.cfg.Cases.Case(ctx, n.CaseID)
	if err != nil {
		return fmt.Errorf("load case %s: %w", n.Number(), err)
	}
	if err := d.place(ctx, &e, topicName(e, d.cfg.Texts.Text(team, locales.EscalationLabel(reason), nil))); err != nil {
		return err
	}
	o, err := d.cfg.Cases.Order(ctx, c.OrderID)
	if err != nil {
		return fmt.Errorf("load order %s: %w", c.OrderID, err)
	}
	card := cardFor(d.cfg.Texts, d.cfg.Lang, d.cfg.Location, e, &c, &o, fmt.Sprintf("id %d", c.BuyerUserID), "")
	if len(n.Rules) > 0 {
		card.Text += "\n" + d.cfg.Texts.Text(team, locales.DecisionHeader, nil) +
			flows.Explain(d.cfg.Texts, team, n.Rules, c.Decided, o.AmountPaid, c.Currency, n.UsedPercent)
	}
	card.ThreadID = e.ThreadID
	cardID, err := send.Post(ctx, d.cfg.ChatID, card)
	if err != nil {
		return fmt.Errorf("post card of case %s: %w", n.Number(), err)
	}
	if err := d.cfg.Escalations.Link(ctx, e.ID, cardID, true); err != nil {
		return fmt.Errorf("link card of case %s: %w", n.Number(), err)
	}
	for _, f := range c.Evidence {
		file := f
		id, err := send.Post(ctx, d.cfg.ChatID, flows.Message{Text: f.Caption, File: &file, ReplyTo: cardID, ThreadID: e.ThreadID})
		if err != nil {
			return fmt.Errorf("post evidence of case %s: %w", n.Number(), err)
		}
		if err := d.cfg.Escalations.Link(ctx, e.ID, id, false); err != nil {
			return fmt.Errorf("link evidence of case %s: %w", n.Number(), err)
		}
	}
	pos, err := d.cfg.Escalations.QueuePosition(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("queue position of escalation %d: %w", e.ID, err)
	}
	buyer := d.cfg.Texts.Match(n.Language)
	return send.Send(ctx, n.ChatID, flows.Message{Text: d.cfg.Texts.Text(buyer, locales.QueuedForAgent,
		map[string]any{"Ahead": max(pos-1, 0)})})
}

// ReleaseStaleHolds returns to the queue every chat whose agent has not
// answered within the hold timeout, and says so on the card. It returns
// how many it released.
func (d *Desk) ReleaseStaleHolds(ctx context.Context, send flows.Sender) (int, error) {
	timeout := d.cfg.HoldTimeout
	released, err := d.cfg.Escalations.RequeueSilent(ctx, timeout)
	if err != nil {
		return 0, err
	}
	team := d.cfg.Texts.Match(d.cfg.Lang)
	for i, e := range released {
		if _, err := send.Post(ctx, d.cfg.ChatID, flows.Message{ReplyTo: e.CardMessageID, ThreadID: e.ThreadID,
			Text: d.cfg.Texts.Text(team, locales.DeskHoldExpired, map[string]any{"ID": e.ID,
				"Minutes": int(timeout.Minutes())})}); err != nil {
			return i, fmt.Errorf("announce release of escalation %d: %w", e.ID, err)
		}
	}
	return len(released), nil
}
