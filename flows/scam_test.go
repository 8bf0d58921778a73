package flows

import (
	"strings"
	"testing"
	"unicode"
)

// The scam check must not be dodged by what a phone keyboard or a
// copy-paste puts in for free: zero-width and other format characters
// (category Cf) between the characters, or full-width Latin, which Chinese
// input methods type in full-width mode ("加我ＱＱ", "Ｖ信").
func TestScamWordsSurviveInvisibleAndFullWidthDodges(t *testing.T) {
	for _, tt := range []struct{ name, plain, dodged string }{
		{"zero-width space", "交保证金才能退款", "交保\u200b证\u200b金才能退款"},
		{"word joiner", "把验证码发给我", "把验\u2060证\u2060码发给我"},
		{"soft hyphen", "需要解冻费", "需要解\u00ad冻费"},
		{"byte order mark", "先交钱再退款", "先\ufeff交钱再退款"},
		{"zero-width in English", "send me the verification code", "send me the verifi\u200bcation code"},
		{"full-width QQ", "客服让我加QQ", "客服让我加ＱＱ"},
		{"full-width V信", "加我V信", "加我Ｖ信"},
		{"full-width deposit", "pay a deposit first", "pay a ｄｅｐｏｓｉｔ first"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !LooksLikeScam(tt.plain) {
				t.Fatalf("LooksLikeScam(%q) = false: the plain form is not caught either", tt.plain)
			}
			if !LooksLikeScam(tt.dodged) {
				t.Errorf("LooksLikeScam(%q) = false, though %q is caught", tt.dodged, tt.plain)
			}
		})
	}
}

// FuzzScamWordsSpacedOut: the CJK scam words are matched without spaces,
// so writing "保 证 金" to get past a filter does not hide them.
func FuzzScamWordsSpacedOut(f *testing.F) {
	for _, seed := range []string{"交保证金才能退款", "加我的qq", "先交钱再退款", "hello"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		squeezed := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, strings.ToLower(text))
		var spaced strings.Builder
		for _, r := range text {
			spaced.WriteRune(r)
			spaced.WriteByte(' ')
		}
		if scamCJK.MatchString(squeezed) && !LooksLikeScam(spaced.String()) {
			t.Fatalf("LooksLikeScam(%q) holds but not with spaces between the characters", text)
		}
	})
}
