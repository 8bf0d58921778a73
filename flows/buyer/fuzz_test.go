package buyer

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Fuzz tests of what buyers and Telegram clients can put in front of the
// dialog: free text (order IDs, case numbers, refund intent, reasons, scam
// words) and callback data, which a modified client can forge at will.
// Their seeds are committed in testdata/fuzz/<FuzzName>; run one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzFreeText$' -fuzztime 60s -fuzzminimizetime 5s ./flows/buyer/
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

// stubCore and stubAttempts satisfy New's checks; reasonIn reads neither.
type (
	stubCore     struct{ Core }
	stubAttempts struct{ flows.OwnershipAttempts }
)

var fuzzDialog = sync.OnceValues(func() (*Dialog, error) {
	texts, err := locales.Load()
	if err != nil {
		return nil, err
	}
	return New(Config{Core: stubCore{}, Desk: NoDesk{}, Attempts: stubAttempts{}, Texts: texts})
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
	_ = flows.LooksLikeScam(text)
	_ = flows.SmellsOfScam(text)
	_ = asksForPerson(text)
	_ = hasRefundIntent(text)
	_ = asksStatus(text)
	_ = asksNewRefund(text)
	_ = textLanguage(text)
	_ = digitsAnswer(text)
	_, _ = findCaseNumber(text)
	_, _ = findOrderID(fuzzOrderPattern, text)
	_, _ = parseOrderAnswer(fuzzOrderPattern, text)
	_ = isFourDigits(text)
	_ = d.reasonIn(text)
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
	if r := d.reasonIn(text); r != "" && !isReason(r) {
		t.Fatalf("reasonIn(%q) = %q, not a reason", text, r)
	}
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
// positive decimal without leading zeros that flows.ParseID's 18 digits hold.
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
// the buyer's parsers: no panic, and whatever they accept
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
				_, valid = flows.ParseID(p.arg)
			case !p.menu:
				valid = validNonce(p.nonce) && wellFormed(false, p.nonce, p.action, p.arg)
			}
			if !valid {
				t.Fatalf("parseButton accepted %q as %+v", data, p)
			}
		}
		if id, ok := flows.ParseID(data); ok {
			if id <= 0 || strconv.FormatInt(id, 10) != strings.TrimLeft(data, "0") {
				t.Fatalf("flows.ParseID(%q) = %d", data, id)
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
