package buyer

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

// DefaultOrderIDPattern finds a shop order ID in free text: 2-4 letters and
// 6-24 digits, e.g. KM20261120001. Shops with other formats set their own.
const DefaultOrderIDPattern = `(?i)\b[A-Z]{2,4}\d{6,24}\b`

// caseNumberPattern finds a case number such as R-000123 in free text.
var caseNumberPattern = regexp.MustCompile(`(?i)\bR-?\d{6,18}\b`)

// refundIntent marks a message as a refund request.
var refundIntent = regexp.MustCompile(`(?i)退\s*(款|钱|货|费|回|我|一笔|一个|一下|下款|掉)|钱退|\bre-?funds?\b|\brefun(d|ded|ding)?\b|\b(refnud|refudn|rfund|refunf|reufnd)\b|money back|\breturn (my|the) money\b|\bchargeback\b`)

// personRequest finds a buyer asking for a person, or complaining in a way
// only a person can answer (投诉, a manager, 12315, going public).
var personRequest = regexp.MustCompile(`(?i)转人工|人工客服|找人工|要人工|接人工|^\s*人工\s*$|真人|活人|客服在吗|客服呢|有人吗|投诉|举报你们|(你们|找|叫|让)(你们)?的?(负责人|领导|老板|经理|主管)|12315|消协|消费者协会|工商局|曝光|报警|律师|起诉` +
	`|\bhuman\b|\breal person\b|\blive (agent|person|chat)\b|^\W*agent\b|\bagent\W*(please|pls|plz)?\W*$|\b(need|want|get|give me|call) (an? |the |your |real |human |live )*(agent|person|manager|supervisor)\b` +
	`|\bcomplain|\bcomplaint|\bmanager\b|\bsupervisor\b|\b(speak|talk|chat) (to|with) (someone|somebody|an? (person|agent|human))\b|\bcustomer (service|support)\b|\blawyer\b|\bsue\b|\bconsumer protection\b`)

// statusIntent finds a question about an existing request's progress or
// its money ("退款现在什么进度了", "钱什么时候能回来", "how is my refund
// going").
var statusIntent = regexp.MustCompile(`(?i)进度|进展|到哪|怎么样了|咋样了|如何了|什么时候|啥时候|几时|多久|多长时间|几天(能|才|可以)|` +
	`(退款|钱|款)[^，。,.!?！？]{0,6}(还没|没有?|未)(到|收到|回|退|下来|动静)|没收到(退款|退的钱|钱|款)|还没(退|审|处理|动静|消息|批)|` +
	`审核(了|得)?(吗|没|怎么样|通过了)|审(完|好)了|(审核|处理)结果|结果(呢|如何|怎么样|出来)|什么状态|状态(呢|如何|怎么样)|` +
	`查(一下|询|查)|处理(好|完)?了?(吗|没)|(回来|到账|退了|批了|通过)(吗|没)|有消息|有结果` +
	`|\bstatus\b|\bprogress\b|\bany (update|news)\b|\bupdate on\b|\bwhere('?s| is) (my |the )?(refund|money|case|request)\b` +
	`|\bhow('?s| is| are)\b.{0,30}\b(going|coming|doing|progressing)\b|\bwhen (will|do|does|can|is|am)\b|\bhow long\b|\bstill waiting\b` +
	`|\b(refund|money)\b.{0,20}(\bnot|n't|\bnever) (yet )?(received|arrived|come|came|got|shown)\b|(\bnot|n't) (yet )?(received|got|gotten|seen) (my |the |any )?(refund|money)\b` +
	`|\b(is|was|has) (it|my refund|the refund|my case) (been )?(approved|done|processed|paid)\b|\bcheck (on )?my (refund|case|request)\b`)

// newRequest finds words that ask for a new refund rather than about one
// ("我要退款", "I want a refund"): with them a sentence that also asks
// when the money comes is still a request.
var newRequest = regexp.MustCompile(`(?i)我要退|要退款|想退|申请退|帮我退|给我退|请退|能退(吗|不)|可以退(吗|不)|退(了|掉)吧|不想要|\bi want (a |my )?refund\b|\bi('d| would) like (a |to get a )?refund\b|\brequest (a )?refund\b|\bplease refund\b|\brefund (it|this|me|please)\b|\bcan i (get|have) (a )?refund\b|\bwant (my )?money back\b`)

// normalize folds what phones and filters make of text into the plain
// characters the readers match: NFKC (full-width letters and digits, the
// full-width hyphen), the other dashes to '-', invisible format characters
// dropped.
func normalize(text string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Cf, r):
			return -1
		case r == '\u2010' || r == '\u2011' || r == '\u2012' || r == '\u2013' || r == '\u2014' || r == '\u2015' ||
			r == '\u2212' || r == '\u30FC' || r == '\uFE63':
			return '-'
		}
		return r
	}, norm.NFKC.String(text))
}

// compactIDs normalises text and joins what buyers split an identifier
// with: spaces inside a run of digits ("KM2026 1120 001") and between a
// short letter prefix and its digits ("R 000123", "r- 000123").
func compactIDs(text string) string {
	rs := []rune(normalize(text))
	out := make([]rune, 0, len(rs))
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r != ' ' && r != '\t' && r != '-' {
			out = append(out, r)
			continue
		}
		// The separator run [i, j) and what follows it.
		j := i
		for j < len(rs) && (rs[j] == ' ' || rs[j] == '\t' || rs[j] == '-') {
			j++
		}
		if len(out) > 0 && j < len(rs) && isDigit(rs[j]) && joinable(out, rs[i:j]) {
			if hasDash(rs[i:j]) && isLetter(out[len(out)-1]) {
				out = append(out, '-')
			}
			i = j - 1
			continue
		}
		out = append(out, rs[i:j]...)
		i = j - 1
	}
	return string(out)
}

// joinable reports whether the separator sep after before may be dropped
// ahead of a digit: after a digit (spaces only), or after a 1-4 letter word.
func joinable(before, sep []rune) bool {
	last := before[len(before)-1]
	if isDigit(last) {
		return !hasDash(sep) && len(sep) <= 2
	}
	if !isLetter(last) {
		return false
	}
	n := 0
	for k := len(before) - 1; k >= 0 && isLetter(before[k]); k-- {
		n++
	}
	return n <= 4 && len(sep) <= 3
}

func hasDash(rs []rune) bool {
	for _, r := range rs {
		if r == '-' {
			return true
		}
	}
	return false
}

func isDigit(r rune) bool  { return r >= '0' && r <= '9' }
func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// asksForPerson reports whether free text asks for a person.
func asksForPerson(text string) bool {
	return text != "" && personRequest.MatchString(normalize(flows.Unmask(text)))
}

// hasRefundIntent reports whether free text asks for a refund.
func hasRefundIntent(text string) bool {
	return refundIntent.MatchString(normalize(text))
}

// asksStatus reports whether free text asks how an existing request is
// going.
func asksStatus(text string) bool {
	return statusIntent.MatchString(normalize(text))
}

// asksNewRefund reports whether free text asks for a new refund in so many
// words.
func asksNewRefund(text string) bool {
	return newRequest.MatchString(normalize(text))
}

// findCaseNumber returns the case ID quoted in text, if any.
func findCaseNumber(text string) (int64, bool) {
	m := caseNumberPattern.FindString(normalize(text))
	if m == "" {
		// Only when nothing is found as written: joining the digits after
		// an ID to it would make another ID.
		m = caseNumberPattern.FindString(compactIDs(text))
	}
	if m == "" {
		return 0, false
	}
	return refund.ParseCaseNumber(m)
}

// findOrderID returns the first order ID in text that the pattern finds.
func findOrderID(pattern *regexp.Regexp, text string) (string, bool) {
	m := pattern.FindString(normalize(text))
	if m == "" {
		m = pattern.FindString(compactIDs(text))
	}
	if m == "" {
		return "", false
	}
	id := refund.NormalizeOrderID(m)
	return id, refund.ValidOrderID(id)
}

// parseOrderAnswer reads the answer to "which order?": an order ID the
// shop's pattern finds, and nothing else, so that digits alone (a phone's
// last four, say) are never taken for an order.
func parseOrderAnswer(pattern *regexp.Regexp, text string) (string, bool) {
	return findOrderID(pattern, text)
}

// digitsAnswer reads an answer of digits as typed on a phone: full-width,
// with spaces or dashes between them.
func digitsAnswer(text string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, normalize(strings.TrimSpace(text)))
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

// textLanguage tells the language a buyer wrote in, "" when the text does
// not say: Chinese characters make it zh, a sentence of English words en.
func textLanguage(text string) string {
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			return "zh"
		}
	}
	// Words are lower-cased into buf, not into new strings: a message of
	// thousands of words is read without an allocation per word.
	var buf [16]byte
	words, english, n := 0, 0, 0
	word := func() {
		if n >= 2 {
			words++
			if n <= len(buf) && englishWords[string(buf[:n])] {
				english++
			}
		}
		n = 0
	}
	for _, r := range normalize(text) {
		if !isLetter(r) && r != '\'' {
			word()
			continue
		}
		if n < len(buf) {
			buf[n] = byte(unicode.ToLower(r))
		}
		n++
	}
	word()
	if words >= 2 && english >= 1 {
		return "en"
	}
	return ""
}

// englishWords are common words of buyers' English: a sentence with one of
// them is English, not an ID or a brand.
var englishWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`i i'm im my me we our you your it it's is are was be been the an and or but not no
		to for of on in at with from this that what when where why how who which can could will would should
		please pls plz want need help hi hello hey thanks thank refund money back order paid pay got get
		still yet did didn't don't doesn't isn't haven't hasn't wrong card code account charged twice never
		received arrived status agent human person talk speak someone complain ok okay yes do does have has`) {
		englishWords[w] = true
	}
}
