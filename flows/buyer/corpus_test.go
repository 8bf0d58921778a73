package buyer

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// The corpus's bars: what share of messages the dialog must handle as
// labelled, and how many false "refund made" claims and warnings that
// dropped a request it may make (none).
const minCorpusAccuracy = 0.97

var intents = []string{"refund", "status", "human", "scam", "other"}

type corpusRow struct {
	line                     int
	intent, lang, also, text string
}

func readCorpus(t *testing.T) []corpusRow {
	t.Helper()
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 4)
		if len(parts) != 4 {
			t.Fatalf("corpus.tsv:%d: want intent, lang, also, text separated by tabs: %q", n, line)
		}
		r := corpusRow{line: n, intent: parts[0], lang: parts[1], also: parts[2], text: parts[3]}
		if !oneOf(r.intent, intents) || (r.lang != "zh" && r.lang != "en") || (r.also != "-" && !oneOf(r.also, intents)) {
			t.Fatalf("corpus.tsv:%d: bad labels %q", n, line)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// outcome is what the dialog did with one message, read from its replies,
// its desk calls and the step it left the chat at.
type outcome struct {
	warned, escalated, status, refund, claimedRefund bool
	lang                                             string
}

// label is the intent the dialog acted on: a warning first (it is the
// one thing the buyer must see), then a person, a status, a request.
func (o outcome) label() string {
	switch {
	case o.warned:
		return "scam"
	case o.escalated:
		return "human"
	case o.status:
		return "status"
	case o.refund:
		return "refund"
	}
	return "other"
}

func (o outcome) served(intent string) bool {
	switch intent {
	case "human":
		return o.escalated
	case "status":
		return o.status
	case "refund":
		return o.refund
	}
	return true
}

// markers are fixed parts of the texts that tell what the dialog answered.
type markers map[string][]string

func (m markers) in(text, kind string) bool {
	for _, s := range m[kind] {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// fixedPart is the longest literal part of a key's text in lang.
func fixedPart(texts *locales.Bundle, lang string, key locales.Key) string {
	const hole = "\x00"
	data := map[string]any{}
	for _, f := range []string{"Query", "OrderID", "Case", "Status", "Time", "Amount", "Next", "Max", "Left", "Minutes",
		"Reason", "Product", "Hint", "Name", "Bot", "Command", "Len", "Count", "Method", "Days", "Paid", "Short"} {
		data[f] = hole
	}
	longest := ""
	for _, part := range strings.Split(texts.Text(lang, key, data), hole) {
		if len(part) > len(longest) {
			longest = part
		}
	}
	return strings.TrimSpace(longest)
}

func newMarkers(texts *locales.Bundle) markers {
	m := markers{}
	add := func(kind string, keys ...locales.Key) {
		for _, lang := range texts.Languages() {
			for _, k := range keys {
				m[kind] = append(m[kind], fixedPart(texts, lang, k))
			}
		}
	}
	add("scam", locales.ScamWarning)
	add("status", locales.StatusAsk, locales.StatusNotFound, locales.StatusNoCase, locales.TimelineHeader)
	add("human", locales.PersonStepKept)
	add("refund", locales.AskOrderID, locales.AskPhone, locales.AskReason, locales.CaseExists, locales.ReasonDetected)
	add("claim", locales.Submitted, locales.NoticeBody(refund.StatusRefunded), locales.NoticeRefundedBalance)
	return m
}

// answerLanguage tells the language of the replies by their letters.
func answerLanguage(text string) string {
	han, latin := 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case r < unicode.MaxASCII && unicode.IsLetter(r):
			latin++
		}
	}
	if han*3 > latin {
		return "zh"
	}
	return "en"
}

// TestCorpus runs every message of testdata/corpus.tsv through the real
// dialog, each in a chat of its own (half of them from a Telegram set to
// Chinese, half to English), and scores what the dialog did against the
// labels: precision and recall per intent, accuracy, false "refund made"
// claims, warnings that dropped a request, and answers in the wrong
// language. See the table with go test -v -run Corpus ./flows/buyer/.
func TestCorpus(t *testing.T) {
	rows := readCorpus(t)
	if len(rows) < 200 {
		t.Fatalf("the corpus has %d messages, want at least 200", len(rows))
	}
	e := newDialogEnv(t)
	mk := newMarkers(e.texts)
	casesBefore := countCases(t, e)
	confusion := map[[2]string]int{}
	right, claims, dropped, wrongLang := 0, 0, 0, 0
	var misses []string
	for i, r := range rows {
		tgLang := "zh-hans"
		if i%2 == 1 {
			tgLang = "en"
		}
		res := e.say(int64(100000+i), tgLang, r.text)
		text := res.text()
		o := outcome{
			warned:    mk.in(text, "scam") || res.flagged,
			escalated: res.escalated,
			status:    mk.in(text, "status"),
			refund:    mk.in(text, "refund") || (res.state != StateIdle && res.state != ""),
			lang:      answerLanguage(strings.ReplaceAll(text, r.text, "")),
		}
		o.claimedRefund = mk.in(text, "claim")
		got := o.label()
		confusion[[2]string{r.intent, got}]++
		ok := got == r.intent
		if ok {
			right++
		}
		if o.claimedRefund {
			claims++
			ok = false
		}
		if o.warned && r.also != "-" && !o.served(r.also) {
			dropped++
			ok = false
		}
		if textLanguage(r.text) != "" && o.lang != r.lang {
			wrongLang++
			ok = false
		}
		if !ok {
			misses = append(misses, fmt.Sprintf("corpus.tsv:%d %s/%s (also %s) %q -> %s, answered in %s:\n    %s",
				r.line, r.intent, r.lang, r.also, r.text, got, o.lang, strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n    ")))
		}
	}
	if n := countCases(t, e); n != casesBefore {
		claims += n - casesBefore
		t.Errorf("the corpus created %d cases; no single message may", n-casesBefore)
	}
	accuracy := float64(right) / float64(len(rows))
	var b strings.Builder
	fmt.Fprintf(&b, "corpus: %d messages\n%-8s %9s %7s %5s %5s %5s\n", len(rows), "intent", "precision", "recall", "n", "tp", "pred")
	for _, in := range intents {
		tp, actual, predicted := confusion[[2]string{in, in}], 0, 0
		for _, other := range intents {
			actual += confusion[[2]string{in, other}]
			predicted += confusion[[2]string{other, in}]
		}
		fmt.Fprintf(&b, "%-8s %9s %7s %5d %5d %5d\n", in, ratio(tp, predicted), ratio(tp, actual), actual, tp, predicted)
	}
	fmt.Fprintf(&b, "accuracy %.1f%% (%d/%d); false \"refund made\" claims %d; warnings that dropped a request %d; answers in the wrong language %d\n",
		100*accuracy, right, len(rows), claims, dropped, wrongLang)
	keys := make([]string, 0, len(confusion))
	for k, n := range confusion {
		if k[0] != k[1] {
			keys = append(keys, fmt.Sprintf("  %s taken as %s: %d", k[0], k[1], n))
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		b.WriteString("confusions:\n" + strings.Join(keys, "\n") + "\n")
	}
	t.Log("\n" + b.String())
	for _, m := range misses {
		t.Log(m)
	}
	switch {
	case accuracy < minCorpusAccuracy:
		t.Errorf("accuracy %.1f%%, want at least %.0f%%", 100*accuracy, 100*minCorpusAccuracy)
	case claims > 0:
		t.Errorf("%d false \"refund made\" claims", claims)
	case dropped > 0:
		t.Errorf("%d warnings dropped the request of their message", dropped)
	case wrongLang > 0:
		t.Errorf("%d answers in another language than the buyer wrote in", wrongLang)
	}
}

func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

func countCases(t *testing.T, e *dialogEnv) int {
	t.Helper()
	n := 0
	for _, id := range []string{openOrder, freeOrder, phoneOrdr, vipOrder} {
		cases, err := e.core.CasesByOrder(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		n += len(cases)
	}
	return n
}
