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
func LooksLikeScam(text string) bool { return MatchWords(text, scamCJK, scamLatin) }

// MatchWords reports whether text, unmasked and lower-cased, holds a match
// of cjk with every space taken out (people write "保 证 金" to get past
// filters) or of latin on its words.
func MatchWords(text string, cjk, latin *regexp.Regexp) bool {
	lower := strings.ToLower(Unmask(text))
	squeezed := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, lower)
	return cjk.MatchString(squeezed) || latin.MatchString(strings.Join(strings.Fields(lower), " "))
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

// Stricter tell-tales for a buyer's own message: what someone asked the
// buyer to pay, unlock, tell or where to move. A buyer mentions QQ, WeChat
// or a frozen account innocently ("充错了QQ号", "paid with WeChat"); the
// buyer's dialog warns only when the words say somebody asked for one of
// these, and answers the request in the message either way.
var (
	buyerScamCJK = regexp.MustCompile(`保证金|押金|解冻费|解冻金|激活费|认证费|刷流水|刷单|做流水|做任务|垫付` +
		`|(先|需要|要求|让我|叫我|要我|得)(交|缴|付|转|打|充)(钱|款|费|账|一笔|\d)` +
		`|(交|缴|付|转)[^，。,.!?！？]{0,8}(才能|就能|才可以|才会)(退|解冻|到账|提现)` +
		`|(让我?|叫我|问我要|找我要|要求我?|要我|索要|索取)[^，。,.!?！？]{0,8}(验证码|密码)` +
		`|(发|给|报|告诉)(他|她|对方|客服|你们?)(我的)?(短信)?(验证码|支付密码|付款密码|交易密码|银行卡密码|密码)` +
		`|(加|添加|联系|私聊|下载)(我|客服|他|她|对方|官方|你们)?的?(一个|个)?(qq|微信|vx|v信|wx|weixin|wechat|钉钉|app|软件)` +
		`|(qq|微信|vx|wx)群`)
	buyerScamLatin = regexp.MustCompile(`\b(deposit|unfreeze|unfreezing|unlock fee|activation fee|turnover|security fee` +
		`|(asked|asks|asking|wants?|told|tells|need|needs|must|have to|pay) .{0,30}\b(verification code|otp|sms code|password|pin|fee)` +
		`|(send|give|tell) (me|him|her|them|you|the agent) .{0,20}(code|otp|password|pin)` +
		`|add (me|us|him|her|them) on (qq|wechat|whatsapp)|(qq|wechat|whatsapp) group` +
		`|(move|switch|talk|chat|contact|message) .{0,20}\bon (qq|wechat|whatsapp))\b`)
)

// SmellsOfScam reports whether a buyer's message tells of somebody asking
// them to pay, unfreeze, give a code or move to QQ/WeChat. It is stricter
// than LooksLikeScam, which checks agents' replies and must err on the side
// of holding one back.
func SmellsOfScam(text string) bool { return MatchWords(text, buyerScamCJK, buyerScamLatin) }
