package desk

import (
	"context"
	"errors"
	"fmt"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// DeliverAgentNotice takes one notice from the agents' outbox: a case sent
// to human review opens an escalation with its case card and evidence in
// the team chat and tells the buyer their place in the queue; a late review
// is announced on the card. Delivery is at least once and goes on where an
// earlier try stopped: the card is posted once, each evidence file once,
// and the item is done only when every part is out. The buyer's message
// does not wait for the team side: a team chat that refuses the card still
// leaves the buyer told.
func (d *Desk) DeliverAgentNotice(ctx context.Context, item refund.OutboxItem, send flows.Sender) error {
	n, err := refund.DecodeNotice(item.Payload)
	if err != nil {
		return fmt.Errorf("outbox item %d: %w", item.ID, err)
	}
	reason := refund.EscalateHumanReview
	if n.Kind == refund.NoticeReviewOverdue {
		reason = refund.EscalateOverdue
	}
	if err := d.cfg.Marks.MarkEscalated(ctx, n.ChatID); err != nil {
		return err
	}
	e, _, err := d.cfg.Escalations.Escalate(ctx, refund.Escalation{CaseID: n.CaseID, BuyerChatID: n.ChatID,
		BuyerUserID: n.UserID, Language: n.Language, Reason: reason, Due: n.Deadline})
	if err != nil {
		return fmt.Errorf("escalate case %s: %w", n.Number(), err)
	}
	if n.Kind == refund.NoticeReviewOverdue && e.CardMessageID != 0 {
		team := d.cfg.Texts.Match(d.cfg.Lang)
		_, err := send.Post(ctx, d.cfg.ChatID, flows.Message{ReplyTo: e.CardMessageID, ThreadID: e.ThreadID,
			Text: d.cfg.Texts.Text(team, locales.DeskOverdue, map[string]any{"ID": e.ID, "Case": n.Number()})})
		return err
	}
	var told error
	if !e.BuyerTold {
		told = d.tellPlace(ctx, e, n, send)
	}
	if err := d.postCard(ctx, &e, n, send); err != nil {
		return errors.Join(told, err)
	}
	if e.Status == refund.EscalationQueued {
		return errors.Join(told, d.assign(ctx, e, send))
	}
	return told
}

// postCard posts what of the case card and its evidence is not in the
// team chat yet, recording each part as it goes out.
func (d *teamChat) postCard(ctx context.Context, e *refund.Escalation, n refund.Notice, send flows.Sender) error {
	c, err := d.cfg.Cases.Case(ctx, n.CaseID)
	if err != nil {
		return fmt.Errorf("load case %s: %w", n.Number(), err)
	}
	if e.CardMessageID == 0 {
		team := d.cfg.Texts.Match(d.cfg.Lang)
		if err := d.openTopic(ctx, e, topicName(*e, d.cfg.Texts.Text(team, locales.EscalationLabel(e.Reason), nil))); err != nil {
			return err
		}
		o, err := d.cfg.Cases.Order(ctx, c.OrderID)
		if err != nil {
			return fmt.Errorf("load order %s: %w", c.OrderID, err)
		}
		card := cardFor(d.cfg.Texts, d.cfg.Lang, d.cfg.Location, *e, &c, &o, fmt.Sprintf("id %d", c.BuyerUserID), "")
		if len(n.Rules) > 0 {
			card.Text += "\n" + d.cfg.Texts.Text(team, locales.DecisionHeader, nil) +
				flows.Explain(d.cfg.Texts, team, n.Rules, c.Decided, o.AmountPaid, c.Currency, n.UsedPercent)
		}
		card.ThreadID = e.ThreadID
		if e.CardMessageID, err = send.Post(ctx, d.cfg.ChatID, card); err != nil {
			return fmt.Errorf("post card of case %s: %w", n.Number(), err)
		}
		if err := d.cfg.Escalations.Link(ctx, e.ID, e.CardMessageID, true); err != nil {
			return fmt.Errorf("link card of case %s: %w", n.Number(), err)
		}
	}
	posted := min(e.EvidencePosted, len(c.Evidence))
	for _, batch := range albums(c.Evidence[posted:]) {
		under := flows.Message{ReplyTo: e.CardMessageID, ThreadID: e.ThreadID}
		var ids []int
		if len(batch) == 1 {
			m := under
			m.Text, m.File = batch[0].Caption, &batch[0]
			id, err := send.Post(ctx, d.cfg.ChatID, m)
			if err != nil {
				return fmt.Errorf("post evidence %d of case %s: %w", posted+1, n.Number(), err)
			}
			ids = []int{id}
		} else if ids, err = send.PostAlbum(ctx, d.cfg.ChatID, batch, under); err != nil {
			return fmt.Errorf("post evidence %d-%d of case %s: %w", posted+1, posted+len(batch), n.Number(), err)
		}
		for _, id := range ids {
			if err := d.cfg.Escalations.Link(ctx, e.ID, id, false); err != nil {
				return fmt.Errorf("link evidence of case %s: %w", n.Number(), err)
			}
		}
		posted += len(batch)
		if err := d.cfg.Escalations.RecordDelivery(ctx, e.ID, posted, false); err != nil {
			return err
		}
	}
	return nil
}

// maxAlbum is the most files Telegram puts in one album.
const maxAlbum = 10

// albums cuts evidence into what goes out in one call each, in upload
// order: runs of files of one kind as albums of up to maxAlbum (Telegram
// does not mix documents with photos), a file alone by itself.
func albums(files []refund.Evidence) [][]refund.Evidence {
	var out [][]refund.Evidence
	for start := 0; start < len(files); {
		end := start + 1
		for end < len(files) && end-start < maxAlbum && files[end].Kind == files[start].Kind {
			end++
		}
		out = append(out, files[start:end])
		start = end
	}
	return out
}

// ReleaseStaleHolds returns to the queue every chat whose agent has not
// answered within the hold timeout, and says so on the card. It returns
// how many it released.
func (d *teamChat) ReleaseStaleHolds(ctx context.Context, send flows.Sender) (int, error) {
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

// RefreshBoard keeps the team chat's one queue board current: posted once,
// then edited in place when what it shows changed, so that a busy desk
// costs the group's 20 messages a minute one edit a refresh at most.
func (d *teamChat) RefreshBoard(ctx context.Context, send flows.Sender) error {
	q, err := d.cfg.Escalations.Stats(ctx, d.cfg.Now())
	if err != nil {
		return err
	}
	team := d.cfg.Texts.Match(d.cfg.Lang)
	text := d.cfg.Texts.Text(team, locales.DeskBoard, map[string]any{"Queued": q.Queued, "Held": q.Held,
		"Overdue": q.Overdue, "Oldest": int(q.OldestWait.Minutes())})
	b, found, err := d.cfg.Escalations.Board(ctx, d.cfg.ChatID)
	switch {
	case err != nil:
		return err
	case found && b.Text == text:
		return nil
	case found:
		if err := send.Edit(ctx, d.cfg.ChatID, b.MessageID, flows.Message{Text: text}); err != nil {
			return fmt.Errorf("edit the queue board: %w", err)
		}
	default:
		claimed, err := d.cfg.Escalations.ClaimBoard(ctx, d.cfg.ChatID)
		if err != nil || !claimed {
			return err
		}
		if b.MessageID, err = send.Post(ctx, d.cfg.ChatID, flows.Message{Text: text}); err != nil {
			return fmt.Errorf("post the queue board: %w", err)
		}
	}
	b.ChatID, b.Text = d.cfg.ChatID, text
	return d.cfg.Escalations.SaveBoard(ctx, b)
}
