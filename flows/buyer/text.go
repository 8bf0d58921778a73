package buyer

import (
	"regexp"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

// DefaultOrderIDPattern finds a shop order ID in free text: 2-4 letters and
// 6-24 digits, e.g. KM20261120001. Shops with other formats set their own.
const DefaultOrderIDPattern = `(?i)\b[A-Z]{2,4}\d{6,24}\b`

// caseNumberPattern finds a case number such as R-000123 in free text.
var caseNumberPattern = regexp.MustCompile(`(?i)\bR-?\d{6,18}\b`)

// refundIntent marks a message as a refund request.
var refundIntent = regexp.MustCompile(`(?i)退款|退钱|退货|\brefund|money back`)

// personRequest finds a buyer asking for a person, or complaining in a way
// only a person can answer (投诉, a manager, 12315, going public).
var personRequest = regexp.MustCompile(`(?i)转人工|人工客服|找人工|要人工|^\s*人工\s*$|真人|客服在吗|投诉|找(你们)?(的)?(负责人|领导|经理|主管)|12315|消协|曝光` +
	`|\bhuman\b|\breal person\b|\bagent\b|\bcomplain|\bmanager\b|\bsupervisor\b`)

// asksForPerson reports whether free text asks for a person.
func asksForPerson(text string) bool {
	return text != "" && personRequest.MatchString(flows.Unmask(text))
}

// hasRefundIntent reports whether free text asks for a refund.
func hasRefundIntent(text string) bool {
	return refundIntent.MatchString(text)
}

// findCaseNumber returns the case ID quoted in text, if any.
func findCaseNumber(text string) (int64, bool) {
	m := caseNumberPattern.FindString(text)
	if m == "" {
		return 0, false
	}
	return refund.ParseCaseNumber(m)
}

// findOrderID returns the first order ID in text that the pattern finds.
func findOrderID(pattern *regexp.Regexp, text string) (string, bool) {
	m := pattern.FindString(text)
	if m == "" {
		return "", false
	}
	id := refund.NormalizeOrderID(m)
	return id, refund.ValidOrderID(id)
}

// parseOrderAnswer reads the answer to "which order?": an order ID found by
// the pattern, or else the whole message if it is shaped like an order ID.
func parseOrderAnswer(pattern *regexp.Regexp, text string) (string, bool) {
	if id, ok := findOrderID(pattern, text); ok {
		return id, true
	}
	id := refund.NormalizeOrderID(text)
	if refund.ValidOrderID(id) && strings.ContainsAny(id, "0123456789") {
		return id, true
	}
	return "", false
}

// isFourDigits reports whether s is exactly four ASCII digits.
func isFourDigits(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
