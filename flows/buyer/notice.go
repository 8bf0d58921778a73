package buyer

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

// Notifier tells buyers about their cases: it renders the refund core's
// notices in the buyer's language and sends them. It is the consumer of the
// notice outbox.
type Notifier struct {
	texts *locales.Bundle
	loc   *time.Location
	send  flows.Sender
}

// NewNotifier returns a Notifier that shows times in loc.
func NewNotifier(texts *locales.Bundle, loc *time.Location, send flows.Sender) *Notifier {
	if loc == nil {
		loc = time.UTC
	}
	return &Notifier{texts: texts, loc: loc, send: send}
}

// Deliver sends one notice from the outbox.
func (n *Notifier) Deliver(ctx context.Context, item refund.OutboxItem) error {
	notice, err := refund.DecodeNotice(item.Payload)
	if err != nil {
		return fmt.Errorf("outbox item %d: %w", item.ID, err)
	}
	msg := RenderNotice(n.texts, n.loc, notice)
	if err := n.send.Send(ctx, notice.ChatID, msg); err != nil {
		return fmt.Errorf("notify chat %d of case %s: %w", notice.ChatID, notice.Number(), err)
	}
	return nil
}

// RenderNotice turns a notice into a message in the time + event + request
// form: when, what happened to which case, and what the buyer can do now,
// with the buttons to do it.
func RenderNotice(texts *locales.Bundle, loc *time.Location, n refund.Notice) flows.Message {
	lang := texts.Match(n.Language)
	text := func(k locales.Key, data map[string]any) string { return texts.Text(lang, k, data) }
	data := noticeData(texts, lang, loc, n)
	var b strings.Builder
	b.WriteString(text(locales.NoticeHeader, data))
	switch {
	case n.Kind == refund.NoticeReminder:
		b.WriteString(text(locales.NoticeReminder, data))
	case n.Status == refund.StatusApproved && len(n.Routes) > 1:
		b.WriteString(text(locales.NoticeAwaitRoute, data))
	case n.Status == refund.StatusRefunded && n.Route == refund.RouteBalance:
		b.WriteString(text(locales.NoticeRefundedBalance, data))
	case n.Status == refund.StatusClosed && n.Note == string(refund.DueAppeal):
		b.WriteString(text(locales.NoticeClosedNoAppeal, data))
	default:
		b.WriteString(text(locales.NoticeBody(n.Status), data))
	}
	b.WriteString(flows.Explain(texts, lang, n.Rules,
		refund.Amounts{Refund: n.Amount, Fee: n.Fee, Deduction: n.Deduction}, n.Paid, n.Currency, n.UsedPercent))
	b.WriteString(shortfall(texts, lang, n, data))
	if n.Note != "" && n.Status != refund.StatusClosed && n.Status != refund.StatusPayoutFailed {
		b.WriteString("\n" + text(locales.ReviewerNote, data))
	}
	return flows.Message{Text: b.String(), Buttons: caseButtons(texts, lang, n.CaseID, n.Status, n.CanAppeal, n.Routes, data)}
}

func noticeData(texts *locales.Bundle, lang string, loc *time.Location, n refund.Notice) map[string]any {
	at := func(t time.Time) string {
		return t.In(loc).Format(texts.Text(lang, locales.DateTimeLayout, nil))
	}
	data := map[string]any{
		"Time": at(n.At), "Case": n.Number(), "OrderID": n.OrderID,
		"Amount": flows.FormatMoney(n.Amount, n.Currency), "Paid": flows.FormatMoney(n.Paid, n.Currency),
		"Fee": flows.FormatMoney(n.Fee, n.Currency), "Deduction": flows.FormatMoney(n.Deduction, n.Currency),
		"UsedPercent": n.UsedPercent, "Method": texts.Text(lang, locales.MethodLabel(n.Method), nil),
		"Days": payoutDays(n.PayoutDays), "Deadline": "", "Note": n.Note,
	}
	if !n.Deadline.IsZero() {
		data["Deadline"] = at(n.Deadline)
	}
	return data
}

// payoutDays shows a payout window, e.g. "1-2".
func payoutDays(d [2]int) string {
	if d[0] == d[1] {
		return strconv.Itoa(d[0])
	}
	return fmt.Sprintf("%d-%d", d[0], d[1])
}

// caseButtons are what a buyer can do about a case in its status.
func caseButtons(texts *locales.Bundle, lang string, caseID int64, status refund.Status, canAppeal bool,
	routes []refund.PayoutRoute, data map[string]any) [][]flows.Button {
	id := strconv.FormatInt(caseID, 10)
	btn := func(k locales.Key, action string) []flows.Button {
		return []flows.Button{{Text: texts.Text(lang, k, data), Data: menuData(action, id)}}
	}
	var rows [][]flows.Button
	switch status {
	case refund.StatusNeedsInfo:
		rows = append(rows, btn(locales.BtnAddInfo, actMenuInfo))
	case refund.StatusRejected:
		if canAppeal {
			rows = append(rows, btn(locales.BtnAppeal, actMenuAppeal))
		}
	case refund.StatusApproved:
		for _, r := range routes {
			if r == refund.RouteOriginal {
				rows = append(rows, btn(locales.BtnRouteOriginal, actMenuOriginal))
			} else {
				rows = append(rows, btn(locales.BtnRouteBalance, actMenuBalance))
			}
		}
	case refund.StatusPayoutFailed:
		rows = append(rows, btn(locales.BtnNewAccount, actMenuAccount))
		if len(routes) > 1 {
			rows = append(rows, btn(locales.BtnRouteBalance, actMenuBalance))
		}
	}
	return rows
}

// shortfallRules are the rules that say why a refund is less than paid.
var shortfallRules = map[refund.Rule]bool{refund.RuleBuyerSideFee: true, refund.RuleGiftDeducted: true,
	refund.RulePromotionPaid: true, refund.RuleProRataMembership: true, refund.RuleProRataTopup: true,
	refund.RuleProRataService: true}

// shortfall explains a refund amount below what was paid: every notice
// that names such an amount says why, with the rule above it or, when the
// notice carries none (a payout after the approval, a reviewer's partial
// refund), where to read it.
func shortfall(texts *locales.Bundle, lang string, n refund.Notice, data map[string]any) string {
	if n.Kind == refund.NoticeReminder || n.Amount <= 0 || n.Amount >= n.Paid {
		return ""
	}
	switch n.Status {
	case refund.StatusApproved, refund.StatusPayoutPending, refund.StatusRefunded, refund.StatusPayoutFailed:
	default:
		return ""
	}
	with := map[string]any{"Short": flows.FormatMoney(n.Paid-n.Amount, n.Currency)}
	for k, v := range data {
		with[k] = v
	}
	for _, r := range n.Rules {
		if shortfallRules[r] {
			return texts.Text(lang, locales.NoticeShortfall, with)
		}
	}
	return texts.Text(lang, locales.NoticeShortfallOther, with)
}
