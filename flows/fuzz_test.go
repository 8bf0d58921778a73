package flows

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Fuzz tests of what buyers and Telegram clients can put in front of the
// dialog: free text (order IDs, case numbers, refund intent, reasons, scam
// words) and callback data, which a modified client can forge at will.
// Their seeds are committed in testdata/fuzz/<FuzzName>; run one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzFreeText$' -fuzztime 60s -fuzzminimizetime 5s ./flows/
//
// (FuzzFreeText measures inputs of a thousand characters and more; the
// default minimizer spends a minute on each such input it finds.)

// maxFuzzText bounds a fuzzed message to what Telegram can deliver: 4096
// UTF-16 units, so at most 4 bytes of UTF-8 each.
const maxFuzzText = 4 * 4096

// longRunes is the length long inputs are grown to: a message near
// Telegram's limit.
const longRunes = 4000

// maxExtractAllocs bounds the allocations of reading one message with every
// free-text reader, however long it is. The readers allocate a handful of
// copies of the text and the regexp machines (more under -race, which
// empties sync.Pools at random); anything that allocates per character or
// per match attempt blows through it on a 4,000-character input. This is
// the bound on their work that does not depend on the machine's speed.
const maxExtractAllocs = 500

var fuzzOrderPattern = regexp.MustCompile(DefaultOrderIDPattern)

// stubStore and friends satisfy New's checks; reasonIn reads none of them.
type (
	stubStore    struct{ refund.Store }
	stubSessions struct{ SessionStore }
	stubAttempts struct{ OwnershipAttempts }
)

var fuzzDialog = sync.OnceValues(func() (*Dialog, error) {
	texts, err := locales.Load()
	if err != nil {
		return nil, err
	}
	return New(Config{Store: stubStore{}, Sessions: stubSessions{}, Attempts: stubAttempts{}, Texts: texts})
})

func dialogForFuzz(tb testing.TB) *Dialog {
	tb.Helper()
	d, err := fuzzDialog()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// readText runs every free-text reader on text, as a buyer's or an agent's
// message meets them.
func readText(d *Dialog, text string) {
	t := &turn{d: d}
	_ = looksLikeScam(text)
	_ = looksLikeStaffScam(text)
	_ = askedForPerson.MatchString(text)
	_ = hasRefundIntent(text)
	_, _ = findCaseNumber(text)
	_, _ = findOrderID(fuzzOrderPattern, text)
	_, _ = parseOrderAnswer(fuzzOrderPattern, text)
	_ = isFourDigits(text)
	_ = t.reasonIn(text)
}

// grow repeats s up to about longRunes runes, so that every fuzzed input is
// also tried at the size of the longest message.
func grow(s string) string {
	n := utf8.RuneCountInString(s)
	if n == 0 || n >= longRunes {
		return s
	}
	return strings.Repeat(s, longRunes/n)
}

// spaceOut puts a space after every rune, the way people write "保 证 金" to
// get past filters.
func spaceOut(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
		b.WriteByte(' ')
	}
	return b.String()
}

var fourDigits = regexp.MustCompile(`^[0-9]{4}$`)

// checkText checks what the readers promise about one text.
func checkText(t *testing.T, d *Dialog, text string) {
	t.Helper()
	if id, ok := findCaseNumber(text); ok {
		if id <= 0 {
			t.Fatalf("findCaseNumber(%q) = %d, ok", text, id)
		}
		if back, ok := refund.ParseCaseNumber(refund.FormatCaseNumber(id)); !ok || back != id {
			t.Fatalf("case %d from %q does not survive FormatCaseNumber: %d, %v", id, text, back, ok)
		}
		if again, ok := findCaseNumber(refund.FormatCaseNumber(id)); !ok || again != id {
			t.Fatalf("case %d from %q is not found again in %q", id, text, refund.FormatCaseNumber(id))
		}
	}
	if id, ok := findOrderID(fuzzOrderPattern, text); ok {
		if !refund.ValidOrderID(id) || refund.NormalizeOrderID(id) != id {
			t.Fatalf("findOrderID(%q) = %q: not a valid, normalised order ID", text, id)
		}
		if again, ok := findOrderID(fuzzOrderPattern, id); !ok || again != id {
			t.Fatalf("order ID %q from %q is not found again in itself: %q, %v", id, text, again, ok)
		}
	}
	if id, ok := parseOrderAnswer(fuzzOrderPattern, text); ok {
		if !refund.ValidOrderID(id) || refund.NormalizeOrderID(id) != id {
			t.Fatalf("parseOrderAnswer(%q) = %q: not a valid, normalised order ID", text, id)
		}
	}
	if got, want := isFourDigits(text), fourDigits.MatchString(text); got != want {
		t.Fatalf("isFourDigits(%q) = %v, want %v", text, got, want)
	}
	if r := (&turn{d: d}).reasonIn(text); r != "" && !isReason(r) {
		t.Fatalf("reasonIn(%q) = %q, not a reason", text, r)
	}
	// The CJK scam words are matched without spaces: spacing them out
	// must not hide them.
	if scamCJK.MatchString(squeeze(strings.ToLower(text))) && !looksLikeScam(spaceOut(text)) {
		t.Fatalf("looksLikeScam(%q) holds but not with spaces between the characters", text)
	}
	if looksLikeScam(text) && !looksLikeStaffScam(text) {
		t.Fatalf("looksLikeStaffScam(%q) misses what looksLikeScam finds", text)
	}
}

func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func isReason(r refund.Reason) bool {
	for _, x := range refund.AllReasons() {
		if x == r {
			return true
		}
	}
	return false
}

// FuzzFreeText feeds buyers' and agents' messages to the free-text
// readers: no panic, their results valid and consistent, and, for messages
// of a thousand characters and more (the long seeds and what the fuzzer
// makes of them), a bounded amount of work.
func FuzzFreeText(f *testing.F) {
	d := dialogForFuzz(f)
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > maxFuzzText {
			text = text[:maxFuzzText]
		}
		checkText(t, d, text)
		if utf8.RuneCountInString(text) >= minMeasuredRunes {
			checkAllocs(t, d, text)
		}
	})
}

// minMeasuredRunes is the shortest text whose allocations are bounded:
// from there on, allocating per character exceeds maxExtractAllocs.
const minMeasuredRunes = 1000

func checkAllocs(t *testing.T, d *Dialog, text string) {
	t.Helper()
	if n := testing.AllocsPerRun(1, func() { readText(d, text) }); n > maxExtractAllocs {
		t.Errorf("reading a %d-rune message made %.0f allocations, want at most %d: %.40q…",
			utf8.RuneCountInString(text), n, maxExtractAllocs, text)
	}
}

// TestLongMessagesAreReadInBoundedWork runs the readers on messages of
// Telegram's maximum size built to make a backtracking matcher or a
// per-character loop work hard: long runs of almost-matches.
func TestLongMessagesAreReadInBoundedWork(t *testing.T) {
	d := dialogForFuzz(t)
	for _, unit := range []string{
		"KM2026112000", "R-00000", "1", "保证", "加我的q", "add me on ", "contact them on ", "\u3000", "ref",
		"\xff", strings.Repeat("A", 4) + strings.Repeat("9", 25),
	} {
		long := grow(unit)
		checkText(t, d, long)
		checkAllocs(t, d, long)
	}
}

// KNOWN FAILING (found while writing these tests): the scam check can be
// dodged by what a phone keyboard or a copy-paste puts in for free.
// looksLikeScam removes only unicode.IsSpace, so zero-width and other
// format characters (U+200B, U+2060, U+00AD, U+FEFF: category Cf) between
// the characters hide the word; and full-width Latin, which Chinese input
// methods type in full-width mode ("加我ＱＱ", "Ｖ信", "ｄｅｐｏｓｉｔ"), is not
// folded to ASCII. Both dodge looksLikeStaffScam too, which is what holds
// back a stolen staff account's "请先交保证金". Proposed fix, in
// looksLikeScam (and the text looksLikeStaffScam's staffAsk sees): before
// matching, drop runes with unicode.Is(unicode.Cf, r) along with spaces,
// and map U+FF01-U+FF5E to U+0021-U+007E (r - 0xFEE0) and U+3000 to a
// space.
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
			if !looksLikeScam(tt.plain) {
				t.Fatalf("looksLikeScam(%q) = false: the plain form is not caught either", tt.plain)
			}
			if !looksLikeScam(tt.dodged) {
				t.Errorf("looksLikeScam(%q) = false, though %q is caught", tt.dodged, tt.plain)
			}
			if !looksLikeStaffScam(tt.dodged) {
				t.Errorf("looksLikeStaffScam(%q) = false: an agent's message would reach the buyer", tt.dodged)
			}
		})
	}
}

// encodeButton rebuilds callback data from its parts.
func encodeButton(p buttonPress) string {
	if p.menu {
		return menuData(p.action, p.arg)
	}
	return stepData(p.nonce, p.action, p.arg)
}

var (
	menuNoArg   = []string{actMenuRefund, actMenuStatus}
	menuCaseArg = []string{actMenuInfo, actMenuAppeal, actMenuAccount, actMenuOriginal, actMenuBalance, actMenuCase}
	stepNoArg   = []string{actUseDraft, actKeepStatement, actEvidenceDone, actSubmit, actEdit, actEditReason,
		actEditStatement, actEditEvidence, actBack, actCancel}
	deskActions = []string{deskTake, deskApprove, deskReject, deskInfo}
)

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

// canonicalID reports whether s is how the bot writes an ID in a button: a
// positive decimal without leading zeros that caseArg's 18 digits hold.
func canonicalID(s string) bool {
	id, err := strconv.ParseInt(s, 10, 64)
	return err == nil && id > 0 && strconv.FormatInt(id, 10) == s && len(s) <= 18
}

// wellFormed is the specification of a button the bot makes: known action,
// argument of the action's kind, a nonce of the right shape on step buttons.
func wellFormed(menu bool, nonce, action, arg string) bool {
	if menu {
		switch {
		case oneOf(action, menuNoArg):
			return arg == ""
		case action == actMenuOrder:
			return refund.ValidOrderID(arg)
		case oneOf(action, menuCaseArg):
			return canonicalID(arg)
		}
		return false
	}
	if !validNonce(nonce) {
		return false
	}
	switch {
	case action == actReason:
		return isReason(refund.Reason(arg))
	case oneOf(action, stepNoArg):
		return arg == ""
	}
	return false
}

// FuzzParseButton feeds raw callback data, as a forged client sends it, to
// the buyer's and the agents' parsers: no panic, and whatever they accept
// is what the bot itself would have written.
func FuzzParseButton(f *testing.F) {
	f.Fuzz(func(t *testing.T, data string) {
		if p, ok := parseButton(data); ok {
			if len(data) > maxCallbackDataSz {
				t.Fatalf("parseButton accepted %d bytes, Telegram allows %d: %q", len(data), maxCallbackDataSz, data)
			}
			// parseButton also takes an empty last part, "m:refund:" or
			// "s:<nonce>:submit:", which the bot never writes: harmless (it
			// means the same button) and reported; drop the second clause
			// once parseButton refuses it.
			if again := encodeButton(p); again != data && again+":" != data {
				t.Fatalf("parseButton(%q) = %+v, which encodes as %q", data, p, again)
			}
			valid := false
			switch {
			case p.menu && oneOf(p.action, menuNoArg):
				valid = p.arg == ""
			case p.menu && p.action == actMenuOrder:
				valid = refund.ValidOrderID(p.arg)
			case p.menu && oneOf(p.action, menuCaseArg):
				_, valid = caseArg(p.arg)
			case !p.menu:
				valid = validNonce(p.nonce) && wellFormed(false, p.nonce, p.action, p.arg)
			}
			if !valid {
				t.Fatalf("parseButton accepted %q as %+v", data, p)
			}
		}
		if action, id, ok := parseDeskData(data); ok {
			if id <= 0 || !oneOf(action, deskActions) {
				t.Fatalf("parseDeskData(%q) = %q, %d", data, action, id)
			}
			if a, again, ok := parseDeskData(deskData(action, id)); !ok || a != action || again != id {
				t.Fatalf("parseDeskData(%q) = %q, %d, which does not survive deskData", data, action, id)
			}
		}
		if id, ok := caseArg(data); ok {
			if id <= 0 || strconv.FormatInt(id, 10) != strings.TrimLeft(data, "0") {
				t.Fatalf("caseArg(%q) = %d", data, id)
			}
		}
	})
}

// FuzzButtonRoundTrip builds buttons from parts: parseButton gives back the
// parts of anything menuData and stepData make, and accepts, within
// Telegram's 64 bytes, every button of the bot's own shape.
func FuzzButtonRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, menu bool, nonce, action, arg string) {
		data := stepData(nonce, action, arg)
		if menu {
			data = menuData(action, arg)
		}
		p, ok := parseButton(data)
		if ok && !strings.Contains(nonce+action+arg, ":") {
			want := buttonPress{menu: menu, nonce: nonce, action: action, arg: arg}
			if menu {
				want.nonce = ""
			}
			if p != want {
				t.Fatalf("parseButton(%q) = %+v, want %+v", data, p, want)
			}
		}
		if wellFormed(menu, nonce, action, arg) {
			if len(data) > maxCallbackDataSz {
				t.Fatalf("the bot's own button %q is %d bytes, Telegram allows %d", data, len(data), maxCallbackDataSz)
			}
			if !ok {
				t.Fatalf("parseButton refuses the bot's own button %q", data)
			}
		}
	})
}

// FuzzDeskRoundTrip: parseDeskData gives back the action and escalation
// ID of every card button deskData makes.
func FuzzDeskRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, action string, id int64) {
		data := deskData(action, id)
		a, got, ok := parseDeskData(data)
		if ok && (a != action || got != id) {
			t.Fatalf("parseDeskData(%q) = %q, %d; made from %q, %d", data, a, got, action, id)
		}
		if oneOf(action, deskActions) && id > 0 && len(strconv.FormatInt(id, 10)) <= 18 && !ok {
			t.Fatalf("parseDeskData refuses the card button %q", data)
		}
	})
}
