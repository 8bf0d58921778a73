package locales_test

import (
	"strings"
	"testing"

	"github.com/refundbot/refundbot/locales"
)

// sample holds every field any template may use; with missingkey=error a
// template that names anything else fails to render.
var sample = map[string]any{
	"Name": "Alice", "OrderID": "KM20261120001", "Product": "王者荣耀点卡 100元", "Amount": "¥95.00",
	"Case": "R-000123", "Status": "已提交", "Next": "下一步", "Time": "11月22日 14:05", "Left": 2,
	"Minutes": 60, "Max": 10, "Len": 4000, "Count": 3, "Ignored": 1, "Reason": "卡密无效",
	"Statement": "陈述", "Files": 2, "Hint": "截图", "Event": "卡密无效", "Date": "11月20日",
	"Request": "申请全额退款", "Command": "foo", "Bot": "refund_bot", "Query": "R-000999",
	"Draft": "草稿", "Paid": "¥95.00", "Fee": "¥4.75", "Deduction": "¥10.00", "UsedPercent": 33, "Short": "¥4.75",
	"Method": "支付宝", "Days": "1-2", "Deadline": "11月23日 14:05", "Note": "备注",
	"Kind": "sticker", "Buyer": "Alice @alice (id 1)", "Text": "你好", "Who": "@cs_017", "Staff": "K017", "Username": "cs_017",
	"ID": 12, "Proposal": "¥95.00", "Due": "11月25日 23:59", "Problem": "amount", "Mine": true, "Ahead": 2,
	"Cap": 5, "Hours": "周一至周五 09:00-21:00", "Opens": "明天 09:00", "Rating": 5, "Queued": 3, "Held": 2, "Overdue": 1, "Oldest": 12,
}

func TestEveryKeyInEveryLocaleRenders(t *testing.T) {
	b, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Languages(); len(got) != 2 || got[0] != "en" || got[1] != "zh-CN" {
		t.Fatalf("languages = %v, want [en zh-CN]", got)
	}
	want := map[locales.Key]bool{}
	for _, k := range locales.AllKeys() {
		want[k] = true
	}
	for _, lang := range b.Languages() {
		t.Run(lang, func(t *testing.T) {
			for _, k := range locales.AllKeys() {
				if !b.Has(lang, k) {
					t.Errorf("%s: missing key %q", lang, k)
					continue
				}
				s, err := b.Render(lang, k, sample)
				if err != nil {
					t.Errorf("%s: %v", lang, err)
				}
				if strings.TrimSpace(s) == "" {
					t.Errorf("%s: key %q renders empty", lang, k)
				}
			}
			for _, k := range b.Keys(lang) {
				if !want[k] {
					t.Errorf("%s: key %q is defined but no code uses it", lang, k)
				}
			}
		})
	}
}

func TestMissingFieldFails(t *testing.T) {
	b, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Render("en", locales.AskPhone, map[string]any{}); err == nil {
		t.Fatal("rendering without OrderID succeeded; templates must fail on missing fields")
	}
	if got := b.Text("en", locales.AskPhone, map[string]any{}); got != string(locales.AskPhone) {
		t.Fatalf("Text on failure = %q, want the key", got)
	}
}

func TestMatch(t *testing.T) {
	b, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ code, want string }{
		{"en", "en"}, {"en-US", "en"}, {"zh-hans", "zh-CN"}, {"zh", "zh-CN"}, {"", "zh-CN"}, {"fr", "zh-CN"},
	}
	for _, tt := range tests {
		if got := b.Match(tt.code); got != tt.want {
			t.Errorf("Match(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestFallbackToDefaultLanguage(t *testing.T) {
	b, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	zh, _ := b.Render(locales.Default, locales.Cancelled, nil)
	fr, err := b.Render("fr", locales.Cancelled, nil)
	if err != nil || fr != zh {
		t.Fatalf("unknown language rendered %q, %v; want the zh-CN text", fr, err)
	}
}
