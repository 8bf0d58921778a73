package flows

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/refundbot/refundbot/refund"
)

// DefaultOrderIDPattern finds a shop order ID in free text: 2-4 letters and
// 6-24 digits, e.g. KM20261120001. Shops with other formats set their own.
const DefaultOrderIDPattern = `(?i)\b[A-Z]{2,4}\d{6,24}\b`

// caseNumberPattern finds a case number such as R-000123 in free text.
var caseNumberPattern = regexp.MustCompile(`(?i)\bR-?\d{6,18}\b`)

// refundIntent marks a message as a refund request.
var refundIntent = regexp.MustCompile(`(?i)退款|退钱|退货|\brefund|money back`)

// scamCJK and scamLatin are the tell-tales of refund-scam impersonators:
// fees to release money, codes and passwords, "turnover" tasks, and moving
// the talk to another app. scamCJK is matched on text without spaces (people
// write "保 证 金" to dodge filters), scamLatin on words.
var (
	scamCJK = regexp.MustCompile(`保证金|押金|解冻|冻结|激活费|认证费|刷流水|刷单|做流水|验证码|支付密码|付款密码|交易密码|银行卡密码|取款密码` +
		`|(先|需要|要求|让我|叫我)(交|缴|付|转|打)(钱|款|费|账)` +
		`|(加|添加|联系|私聊|下载)(我|客服|他|她|对方|官方)?的?(qq|微信|vx|v信|wx|weixin|wechat|钉钉|app)` +
		`|(qq|微信|vx|wx)(号|群)`)
	scamLatin = regexp.MustCompile(`\b(deposit|unfreeze|unfreezing|unlock fee|frozen|verification code|otp|sms code|password|pin code|turnover` +
		`|add (me|us|him|her|them) on (qq|wechat|whatsapp)|(qq|wechat|whatsapp) (id|group)` +
		`|contact (me |us |him |her |them )?on (qq|wechat|whatsapp))\b`)
)

// looksLikeScam reports whether a message mentions what only impersonators
// ask for. It errs on the side of warning: a needless warning costs a line
// of text, a missed one can cost the buyer's money.
func looksLikeScam(text string) bool {
	lower := strings.ToLower(unmask(text))
	squeezed := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, lower)
	return scamCJK.MatchString(squeezed) || scamLatin.MatchString(strings.Join(strings.Fields(lower), " "))
}

// unmask undoes the tricks that hide words from a filter but not from a
// reader: invisible format characters (zero-width space, soft hyphen,
// BOM) are dropped and full-width letters and digits (ＱＱ, ｄｅｐｏｓｉｔ)
// folded to ASCII.
func unmask(text string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Cf, r):
			return -1
		case r >= 0xFF01 && r <= 0xFF5E:
			return r - 0xFEE0
		case r == 0x3000:
			return ' '
		}
		return r
	}, text)
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
