package desk

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Case cards and their buttons, and the forum topic an escalation gets
// in a team chat that is a forum.

// teamChat is the Desk's part that posts in the team chat outside a turn:
// an escalation's topic, its card and evidence (queue.go), the note of a
// hold that ran out, and the queue board.
type teamChat struct{ *core }

// openTopic gives an escalation its forum topic, when the team chat is a
// forum and it has none yet.
func (d *teamChat) openTopic(ctx context.Context, e *refund.Escalation, name string) error {
	if d.cfg.Topics == nil || e.ThreadID != 0 {
		return nil
	}
	id, err := d.cfg.Topics.CreateTopic(ctx, d.cfg.ChatID, name)
	if err != nil {
		return fmt.Errorf("open topic for escalation %d: %w", e.ID, err)
	}
	if err := d.cfg.Escalations.SetThread(ctx, e.ID, id); err != nil {
		return err
	}
	e.ThreadID = id
	return nil
}

// topicName names an escalation's topic so the forum's list reads as a
// queue: number, case and reason.
func topicName(e refund.Escalation, reason string) string {
	name := fmt.Sprintf("#%d", e.ID)
	if e.CaseID != 0 {
		name += " " + refund.FormatCaseNumber(e.CaseID)
	}
	return name + " " + reason
}

// caseLabel names an escalation's case, or nothing when it has none.
func caseLabel(e refund.Escalation) string {
	if e.CaseID == 0 {
		return ""
	}
	return refund.FormatCaseNumber(e.CaseID)
}

func buyerName(in flows.Input) string {
	name := strings.TrimSpace(in.FirstName + " " + in.LastName)
	if in.Username != "" {
		name += " @" + in.Username
	}
	return fmt.Sprintf("%s (id %d)", name, in.UserID)
}

// Desk button actions ("a:<action>:<escalation id>"), for agents only.
const (
	deskTake    = "take"
	deskApprove = "approve"
	deskReject  = "reject"
	deskInfo    = "info"
)

func deskData(action string, escalationID int64) string {
	return "a:" + action + ":" + strconv.FormatInt(escalationID, 10)
}

func parseDeskData(data string) (action string, id int64, ok bool) {
	parts := strings.Split(data, ":")
	if len(parts) != 3 || parts[0] != "a" {
		return "", 0, false
	}
	switch parts[1] {
	case deskTake, deskApprove, deskReject, deskInfo:
	default:
		return "", 0, false
	}
	id, ok = flows.ParseID(parts[2])
	return parts[1], id, ok
}

// cardFor renders an escalation's case card for the team.
func cardFor(texts *locales.Bundle, lang string, loc *time.Location, e refund.Escalation, c *refund.Case,
	o *refund.Order, buyer, said string) flows.Message {
	lang = texts.Match(lang)
	text := func(k locales.Key, data map[string]any) string { return texts.Text(lang, k, data) }
	var b strings.Builder
	b.WriteString(text(locales.DeskCardHeader, map[string]any{"ID": e.ID, "Reason": text(locales.EscalationLabel(e.Reason), nil),
		"Buyer": buyer}))
	if c != nil {
		data := map[string]any{"Case": c.Number(), "OrderID": c.OrderID, "Amount": flows.FormatMoney(c.RequestedAmount, c.Currency),
			"Proposal": flows.FormatMoney(c.Decided.Refund, c.Currency), "Reason": text(locales.ReasonLabel(c.Reason), nil),
			"Statement": c.Statement, "Files": len(c.Evidence), "Status": text(locales.StatusLabel(c.Status), nil),
			"Product": "", "Method": ""}
		if o != nil {
			data["Product"], data["Method"] = o.Product, text(locales.MethodLabel(o.PaymentMethod), nil)
		}
		b.WriteString("\n" + text(locales.DeskCardCase, data))
	}
	if said != "" {
		b.WriteString("\n" + text(locales.DeskCardSaid, map[string]any{"Text": said}))
	}
	if !e.Due.IsZero() {
		b.WriteString("\n" + text(locales.DeskCardDue, map[string]any{
			"Due": e.Due.In(loc).Format(text(locales.DateTimeLayout, nil))}))
	}
	rows := [][]flows.Button{{{Text: text(locales.BtnDeskTake, nil), Data: deskData(deskTake, e.ID)}}}
	if c != nil {
		rows = append(rows, []flows.Button{
			{Text: text(locales.BtnDeskApprove, nil), Data: deskData(deskApprove, e.ID)},
			{Text: text(locales.BtnDeskReject, nil), Data: deskData(deskReject, e.ID)},
			{Text: text(locales.BtnDeskInfo, nil), Data: deskData(deskInfo, e.ID)},
		})
	}
	return flows.Message{Text: b.String(), Buttons: rows}
}
