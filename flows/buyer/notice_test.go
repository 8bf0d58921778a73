package buyer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// TestRenderNoticeGolden renders one notice of each kind in each language
// and compares them with testdata/notices.<lang>.golden (refresh with
// -update and review the diff).
func TestRenderNoticeGolden(t *testing.T) {
	texts, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 6, 5, 0, 0, time.UTC) // 14:05 in Shanghai
	base := refund.Notice{Kind: refund.NoticeStatus, CaseID: 123, OrderID: "KM20261120001", ChatID: 1, UserID: 1,
		Amount: 9500, Paid: 9500, Currency: "CNY", Method: refund.PayAlipay, PayoutDays: [2]int{1, 2},
		Routes: []refund.PayoutRoute{refund.RouteOriginal, refund.RouteBalance}, At: at}
	with := func(f func(*refund.Notice)) refund.Notice {
		n := base
		f(&n)
		return n
	}
	notices := []struct {
		name string
		n    refund.Notice
	}{
		{"approved, route to choose", with(func(n *refund.Notice) {
			n.Status, n.Rules, n.Deadline = refund.StatusApproved, []refund.Rule{refund.RuleFullRefund, refund.RuleFastLane}, at.Add(24*time.Hour)
		})},
		{"payout pending", with(func(n *refund.Notice) {
			n.Status, n.Route, n.Rules = refund.StatusPayoutPending, refund.RouteOriginal, []refund.Rule{refund.RuleAdvanceCompensation}
		})},
		{"refunded to balance", with(func(n *refund.Notice) { n.Status, n.Route = refund.StatusRefunded, refund.RouteBalance })},
		{"refunded", with(func(n *refund.Notice) { n.Status, n.Route = refund.StatusRefunded, refund.RouteOriginal })},
		{"fee deducted", with(func(n *refund.Notice) {
			n.Status, n.Amount, n.Fee, n.Route = refund.StatusPayoutPending, 9025, 475, refund.RouteOriginal
			n.Rules = []refund.Rule{refund.RuleBuyerSideFee, refund.RuleAutoApproved}
		})},
		{"pro-rata membership", with(func(n *refund.Notice) {
			n.Status, n.Amount, n.UsedPercent, n.Deadline = refund.StatusApproved, 1666, 33, at.Add(24*time.Hour)
			n.Rules = []refund.Rule{refund.RuleProRataMembership, refund.RuleFastLane}
		})},
		{"rejected, appeal open", with(func(n *refund.Notice) {
			n.Status, n.Amount, n.CanAppeal, n.Deadline = refund.StatusRejected, 0, true, at.Add(7*24*time.Hour)
			n.Rules = []refund.Rule{refund.RuleWindowExpired}
		})},
		{"rejected by a reviewer, no appeal left", with(func(n *refund.Notice) {
			n.Status, n.Amount, n.Note = refund.StatusRejected, 0, "卡密已于11月20日被兑换"
		})},
		{"needs info", with(func(n *refund.Notice) {
			n.Status, n.Deadline, n.Rules = refund.StatusNeedsInfo, at.Add(24*time.Hour), []refund.Rule{refund.RuleEvidenceMissing}
		})},
		{"reminder", with(func(n *refund.Notice) {
			n.Kind, n.Status, n.Deadline = refund.NoticeReminder, refund.StatusNeedsInfo, at.Add(12*time.Hour)
		})},
		{"human review", with(func(n *refund.Notice) {
			n.Status, n.Deadline, n.Rules = refund.StatusHumanReview, at.Add(72*time.Hour), []refund.Rule{refund.RuleOverThreshold}
		})},
		{"payout failed", with(func(n *refund.Notice) { n.Status, n.Note = refund.StatusPayoutFailed, "账户已注销" })},
		{"refunded in part by a reviewer", with(func(n *refund.Notice) {
			n.Status, n.Amount, n.Route = refund.StatusRefunded, 6000, refund.RouteOriginal
		})},
		{"closed without info", with(func(n *refund.Notice) { n.Status, n.Note = refund.StatusClosed, string(refund.DueClose) })},
		{"closed after appeal window", with(func(n *refund.Notice) { n.Status, n.Note = refund.StatusClosed, string(refund.DueAppeal) })},
	}
	for _, lang := range texts.Languages() {
		t.Run(lang, func(t *testing.T) {
			var b strings.Builder
			for _, tt := range notices {
				n := tt.n
				n.Language = lang
				msg := RenderNotice(texts, loc, n)
				fmt.Fprintf(&b, "## %s\n%s\n", tt.name, msg.Text)
				for _, row := range msg.Buttons {
					for _, btn := range row {
						fmt.Fprintf(&b, "[%s] -> %s\n", btn.Text, btn.Data)
						if _, ok := parseButton(btn.Data); !ok {
							t.Errorf("%s: button %q carries data the dialog refuses: %q", tt.name, btn.Text, btn.Data)
						}
					}
				}
				if strings.Contains(msg.Text, string(locales.NoticeHeader)) || strings.Contains(msg.Text, "rule.") {
					t.Errorf("%s: a key leaked into the text: %s", tt.name, msg.Text)
				}
				b.WriteString("\n")
			}
			path := filepath.Join("testdata", "notices."+lang+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./flows -run Notice -update)", err)
			}
			if b.String() != string(want) {
				t.Fatalf("notices changed; run go test ./flows -run Notice -update and review:\n%s", b.String())
			}
		})
	}
}

// TestEveryShortfallIsExplained: a notice that names an amount below what
// was paid says what was paid and why less comes back, whether or not its
// decision's rules travel with it.
func TestEveryShortfallIsExplained(t *testing.T) {
	texts, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	paid := map[string]string{"zh-CN": "实付 ¥95.00", "en": "You paid ¥95.00"}
	for _, lang := range texts.Languages() {
		for _, st := range []refund.Status{refund.StatusApproved, refund.StatusPayoutPending, refund.StatusRefunded, refund.StatusPayoutFailed} {
			for _, rules := range [][]refund.Rule{nil, {refund.RuleProRataMembership, refund.RuleFastLane}, {refund.RuleBuyerSideFee}} {
				n := refund.Notice{Kind: refund.NoticeStatus, CaseID: 7, OrderID: "VIP20261120001", Status: st, Amount: 1666,
					Paid: 9500, Fee: 0, Currency: "CNY", Method: refund.PayAlipay, UsedPercent: 33, Rules: rules,
					Routes: []refund.PayoutRoute{refund.RouteOriginal}, Language: lang, At: time.Unix(0, 0)}
				text := RenderNotice(texts, time.UTC, n).Text
				if !strings.Contains(text, paid[lang]) || !strings.Contains(text, "¥78.34") {
					t.Errorf("%s %s %v: the notice does not say why ¥16.66 of ¥95.00 comes back:\n%s", lang, st, rules, text)
				}
			}
		}
		full := refund.Notice{Kind: refund.NoticeStatus, CaseID: 7, Status: refund.StatusRefunded, Amount: 9500, Paid: 9500,
			Currency: "CNY", Language: lang, At: time.Unix(0, 0)}
		if text := RenderNotice(texts, time.UTC, full).Text; strings.Contains(text, paid[lang]) {
			t.Errorf("%s: a full refund explains a shortfall: %s", lang, text)
		}
	}
}
