package flows

import (
	"strings"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// FormatMoney shows an amount with the yuan sign for CNY and the ISO code
// otherwise.
func FormatMoney(m refund.Money, currency string) string {
	if currency == "" || currency == "CNY" {
		return "¥" + m.String()
	}
	return m.String() + " " + currency
}

// Explain lists the rules behind a decision, a line each, with the amounts
// they speak of; the status view, notices and case cards share it.
func Explain(texts *locales.Bundle, lang string, rules []refund.Rule, a refund.Amounts, paid refund.Money,
	currency string, usedPercent int) string {
	data := map[string]any{"Amount": FormatMoney(a.Refund, currency), "Paid": FormatMoney(paid, currency),
		"Fee": FormatMoney(a.Fee, currency), "Deduction": FormatMoney(a.Deduction, currency), "UsedPercent": usedPercent}
	var b strings.Builder
	for _, r := range rules {
		b.WriteString("\n• " + texts.Text(lang, locales.RuleText(r), data))
	}
	return b.String()
}
