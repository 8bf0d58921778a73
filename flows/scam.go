package flows

import (
	"regexp"
	"strings"
	"unicode"
)

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

// LooksLikeScam reports whether a message mentions what only impersonators
// ask for. It errs on the side of warning: a needless warning costs a line
// of text, a missed one can cost the buyer's money. Both dialogs use it:
// the buyer's to warn, the desk's to hold back an agent's reply.
func LooksLikeScam(text string) bool {
	lower := strings.ToLower(Unmask(text))
	squeezed := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, lower)
	return scamCJK.MatchString(squeezed) || scamLatin.MatchString(strings.Join(strings.Fields(lower), " "))
}

// Unmask undoes the tricks that hide words from a filter but not from a
// reader: invisible format characters (zero-width space, soft hyphen,
// BOM) are dropped and full-width letters and digits (ＱＱ, ｄｅｐｏｓｉｔ)
// folded to ASCII.
func Unmask(text string) string {
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
