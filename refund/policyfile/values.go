package policyfile

import (
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/refund"
)

// One value each: the scalars a policy is made of (durations, money,
// counts, switches, choices, the buyer's side of a fee), read from an
// entry with the error an operator can act on.

// scalar returns a single value's text. A key left empty is an error rather
// than a default: the operator meant to write something there.
func scalar(e entry, want string) (string, error) {
	if isNull(e.val) {
		at := e.val
		if e.key != nil {
			at = e.key
		}
		return "", errorAt(at, e.path, "no value; want %s, or delete the line to keep the default", want)
	}
	if e.val.Kind != yaml.ScalarNode {
		return "", errorAt(e.val, e.path, "want %s, got %s", want, describe(e.val))
	}
	return strings.TrimSpace(e.val.Value), nil
}

// maxDays keeps day counts clear of time.Duration's overflow.
const maxDays = math.MaxInt64 / int64(24*time.Hour)

// duration accepts Go durations ("36h", "90m") plus whole days ("7d"),
// which Go lacks but shop rules are written in.
func duration(e entry) (time.Duration, error) {
	s, err := scalar(e, "a duration such as 24h or 7d")
	if err != nil {
		return 0, err
	}
	var d time.Duration
	if num, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > maxDays || n < -maxDays {
			return 0, errorAt(e.val, e.path, "%q is not a duration (use e.g. 24h, 72h, 7d)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, errorAt(e.val, e.path, "%q is not a duration (use e.g. 24h, 72h, 7d)", s)
	}
	if d < 0 {
		return 0, errorAt(e.val, e.path, "%q must not be negative", s)
	}
	return d, nil
}

// money takes the text as written, never a float, so "0.1" is ten cents.
func money(e entry) (refund.Money, error) {
	s, err := scalar(e, "an amount such as \"200.00\"")
	if err != nil {
		return 0, err
	}
	if strings.HasPrefix(s, "-") {
		return 0, errorAt(e.val, e.path, "%q must not be negative", s)
	}
	m, err := refund.ParseMoney(s)
	if err != nil {
		return 0, errorAt(e.val, e.path, "%q is not an amount (use e.g. \"200\" or \"200.00\", at most two decimals)", s)
	}
	return m, nil
}

// count reads a whole number of things or days; none of them can be
// negative. It reads the text, so a quoted "3" is as good as 3.
func count(e entry) (int, error) {
	s, err := scalar(e, "a whole number")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, errorAt(e.val, e.path, "%q is not a whole number", s)
	}
	if n < 0 {
		return 0, errorAt(e.val, e.path, "%q must not be negative", s)
	}
	return int(n), nil
}

func boolean(e entry) (bool, error) {
	s, err := scalar(e, "true or false")
	if err != nil {
		return false, err
	}
	// Only the two words: YAML 1.1's yes/no/on/off read differently in
	// different tools, and an operator should not have to know which.
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errorAt(e.val, e.path, "%q is not true or false", s)
}

func oneOf(e entry, choices ...string) (string, error) {
	want := strings.Join(choices, ", ")
	s, err := scalar(e, "one of "+want)
	if err != nil {
		return "", err
	}
	for _, c := range choices {
		if s == c {
			return s, nil
		}
	}
	return "", errorAt(e.val, e.path, "%q is not one of %s", s, want)
}

// buyerSide reads what happens to a buyer-side reason (误购, 不想要了):
// "refuse", or "fee 5%" for a refund minus a 5% fee. Refusing keeps the
// previous fee, so switching a category between the two changes one word.
func buyerSide(e entry, fee int) (refused bool, feeBP int, err error) {
	s, err := scalar(e, "refuse, or a fee such as \"fee 5%\"")
	if err != nil {
		return false, 0, err
	}
	if s == "refuse" {
		return true, fee, nil
	}
	bad := errorAt(e.val, e.path, "%q is not a buyer-side rule (use refuse, or e.g. \"fee 5%%\" to refund minus a 5%% fee)", s)
	pct, ok := strings.CutPrefix(s, "fee ")
	if !ok {
		return false, 0, bad
	}
	pct, ok = strings.CutSuffix(strings.TrimSpace(pct), "%")
	if !ok {
		return false, 0, bad
	}
	bp, ok := basisPoints(strings.TrimSpace(pct))
	if !ok {
		return false, 0, bad
	}
	if bp > 10000 {
		return false, 0, errorAt(e.val, e.path, "fee %s%% is over 100%%", pct)
	}
	return false, bp, nil
}

// basisPoints parses a percentage with at most two decimals ("5", "2.5",
// "0.25") into hundredths of a percent, without going through a float.
func basisPoints(s string) (int, bool) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 5 || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, false
	}
	frac += strings.Repeat("0", 2-len(frac))
	bp := 0
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, false
		}
		bp = bp*10 + int(r-'0')
	}
	return bp, true
}
