// Package policyfile reads the shop's refund rulebook from a YAML file.
//
// The file overrides refund.DefaultPolicy key by key, so that a shop writes
// down only where it departs from common practice. The person who edits it
// is a shop operator reading errors in a container log, not a Go programmer:
// every mistake therefore names the line and column it is on, and a misspelt
// key is an error rather than a silently kept default. deploy/policy.example.yaml
// documents the format; a test keeps it equal to the defaults.
package policyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/refund"
)

// Error is a mistake in a policy file, placed where the operator can find
// it: "policy.yaml:12:5: categories.topup.window: ...".
type Error struct {
	// File is the path Load read; Parse leaves it empty.
	File string
	// Line and Column are 1-based. Both are zero when the value at fault is
	// a built-in default the file did not set, so there is no line to show.
	// Column is zero for YAML syntax errors: the library reports only a
	// line, and for some errors that line is one off (go-yaml/yaml#542).
	Line, Column int
	// Field is the dotted key path as the file spells it, e.g.
	// "categories.topup.window"; empty when the fault is the file as a whole.
	Field string
	// Err carries code EINVALID so that callers can treat a bad policy like
	// any other invalid input. When Policy.Validate found the fault, Err is
	// Validate's own error, whose Field may be spelt differently from Field.
	Err *refund.Error
}

// Error formats the mistake the way compilers do, so editors and log
// viewers can jump to it.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, "%d:", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Message)
	}
	return b.String()
}

// Unwrap exposes the application error, for refund.ErrorCode and friends.
func (e *Error) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// Load reads and parses the policy file at path. The error names the path,
// since the operator may not know which file the bot was pointed at.
func Load(path string) (refund.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The *fs.PathError already names the path.
		return refund.Policy{}, fmt.Errorf("read policy file: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			fe.File = path
			return refund.Policy{}, fe
		}
		return refund.Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse applies a policy file's settings over refund.DefaultPolicy and
// validates the result. An empty file yields the defaults. On failure the
// error is an *Error and the returned policy is the zero value, so that a
// half-applied rulebook is never used by mistake.
func Parse(data []byte) (refund.Policy, error) {
	root, err := document(data)
	if err != nil {
		return refund.Policy{}, err
	}
	p := refund.DefaultPolicy()
	d := &decoder{at: map[string]*yaml.Node{}}
	if root != nil {
		if err := d.policy(entry{val: root}, &p); err != nil {
			return refund.Policy{}, err
		}
	}
	if err := p.Validate(); err != nil {
		return refund.Policy{}, d.validateError(err)
	}
	return p, nil
}

// document returns the root node of the file's single YAML document, or nil
// when the file holds nothing but comments.
func document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err)
	}
	// A second document would otherwise be ignored without a word.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(err)
		}
		return nil, errorAt(&extra, "", "the file holds more than one YAML document (a second ---); keep one")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return nil, nil
	}
	return root, nil
}

// syntaxError turns the YAML library's "yaml: line 3: ..." into an *Error
// with a line and no column, since that is all the library gives.
func syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				e.Line, msg = n, text
			}
		}
	}
	e.Err = refund.FieldError("", "not valid YAML: %s", msg)
	return e
}

// decoder walks the file's nodes by hand rather than unmarshalling into a
// struct, because only the nodes know where in the file a value was written.
type decoder struct {
	// at records the value node of every key the file set, by dotted path,
	// so that a Validate failure, which names only the field, can still
	// point at a line.
	at map[string]*yaml.Node
}

// entry is one key: value pair on its way into the policy.
type entry struct {
	path string     // dotted, as the file spells it
	name string     // the last element of path
	key  *yaml.Node // nil for list items and the document root
	val  *yaml.Node // aliases resolved
}

var topKeys = []string{
	"fast_lane_limit", "frequent_refunds", "needs_info_timeout", "appeal_window",
	"payout_choice_timeout", "review_business_days", "payout_days", "holidays",
	"extra_workdays", "categories", "reasons",
}

func (d *decoder) policy(e entry, p *refund.Policy) error {
	return d.mapping(e, func(f entry) error {
		var err error
		switch f.name {
		case "fast_lane_limit":
			p.FastLaneLimit, err = money(f)
		case "frequent_refunds":
			err = d.mapping(f, func(g entry) error {
				var err error
				switch g.name {
				case "limit":
					p.FrequentRefundLimit, err = count(g)
				case "period":
					p.FrequentRefundPeriod, err = duration(g)
				default:
					err = unknownKey(g, "setting", []string{"limit", "period"})
				}
				return err
			})
		case "needs_info_timeout":
			p.NeedsInfoTimeout, err = duration(f)
		case "appeal_window":
			p.AppealWindow, err = duration(f)
		case "payout_choice_timeout":
			p.PayoutChoiceTimeout, err = duration(f)
		case "review_business_days":
			p.ReviewBusinessDays, err = count(f)
		case "payout_days":
			err = d.payoutDays(f, p)
		case "holidays":
			p.Calendar.Holidays, err = d.dates(f)
		case "extra_workdays":
			p.Calendar.ExtraWorkdays, err = d.dates(f)
		case "categories":
			err = d.categories(f, p)
		case "reasons":
			err = d.reasons(f, p)
		default:
			err = unknownKey(f, "setting", topKeys)
		}
		return err
	})
}

func (d *decoder) payoutDays(e entry, p *refund.Policy) error {
	methods := []string{string(refund.PayAlipay), string(refund.PayWechat), string(refund.PayBankCard), string(refund.PayBalance)}
	return d.mapping(e, func(f entry) error {
		m := refund.PaymentMethod(f.name)
		if !m.Valid() {
			return unknownKey(f, "payment method", methods)
		}
		if f.val.Kind != yaml.SequenceNode || len(f.val.Content) != 2 {
			return errorAt(f.val, f.path, "want [min, max] business days, e.g. [1, 2]")
		}
		var days [2]int
		for i, n := range f.val.Content {
			v, err := count(entry{path: f.path, val: resolve(n)})
			if err != nil {
				return err
			}
			days[i] = v
		}
		p.PayoutDays[m] = days
		return nil
	})
}

func (d *decoder) categories(e entry, p *refund.Policy) error {
	return d.mapping(e, func(f entry) error {
		c := refund.Category(f.name)
		if !c.Valid() {
			return unknownKey(f, "category", names(refund.Categories()))
		}
		cp := p.Categories[c]
		err := d.mapping(f, func(g entry) error {
			var err error
			switch g.name {
			case "window":
				cp.Window, err = duration(g)
			case "buyer_side":
				cp.BuyerSideRefused, cp.BuyerSideFeeBP, err = buyerSide(g, cp.BuyerSideFeeBP)
			case "payout":
				var s string
				s, err = oneOf(g, string(refund.PayoutEither), string(refund.PayoutOriginalOnly), string(refund.PayoutBalanceOnly))
				cp.Payout = refund.PayoutChoice(s)
			default:
				err = unknownKey(g, "setting", []string{"window", "buyer_side", "payout"})
			}
			return err
		})
		p.Categories[c] = cp
		return err
	})
}

func (d *decoder) reasons(e entry, p *refund.Policy) error {
	return d.mapping(e, func(f entry) error {
		r := refund.Reason(f.name)
		if !slices.Contains(refund.AllReasons(), r) {
			return unknownKey(f, "reason", names(refund.AllReasons()))
		}
		rp := p.Reasons[r]
		err := d.mapping(f, func(g entry) error {
			var err error
			switch g.name {
			case "fault":
				var s string
				s, err = oneOf(g, string(refund.FaultPlatform), string(refund.FaultBuyer))
				rp.Fault = refund.Fault(s)
			case "evidence_required":
				rp.EvidenceRequired, err = boolean(g)
			default:
				err = unknownKey(g, "setting", []string{"fault", "evidence_required"})
			}
			return err
		})
		p.Reasons[r] = rp
		return err
	})
}

// dates reads a list of days. The list replaces the default one; an empty
// list is nil, which is what the default holds.
func (d *decoder) dates(e entry) ([]refund.Date, error) {
	if isNull(e.val) {
		return nil, nil
	}
	if e.val.Kind != yaml.SequenceNode {
		return nil, errorAt(e.val, e.path, "want a list of dates such as [\"2026-10-01\"], got %s", describe(e.val))
	}
	var out []refund.Date
	for _, n := range e.val.Content {
		n = resolve(n)
		if n.Kind != yaml.ScalarNode || isNull(n) {
			return nil, errorAt(n, e.path, "want a date such as \"2026-10-01\", got %s", describe(n))
		}
		if _, err := time.Parse(time.DateOnly, n.Value); err != nil {
			return nil, errorAt(n, e.path, "%q is not a date (use YYYY-MM-DD, e.g. \"2026-10-01\")", n.Value)
		}
		out = append(out, refund.Date(n.Value))
	}
	return out, nil
}

// mapping calls fn for each key of a mapping node, in file order. A key
// with no value under it (null) means "no overrides", so that an operator
// can comment out every line of a block without deleting its header.
func (d *decoder) mapping(e entry, fn func(entry) error) error {
	if isNull(e.val) {
		return nil
	}
	if e.val.Kind != yaml.MappingNode {
		what := "key: value pairs"
		if e.path != "" {
			what += " under " + e.path
		}
		return errorAt(e.val, e.path, "want %s, got %s", what, describe(e.val))
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(e.val.Content); i += 2 {
		k := resolve(e.val.Content[i])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			return errorAt(k, e.path, "a key must be a plain name, got %s", describe(k))
		}
		if k.ShortTag() == "!!merge" {
			return errorAt(k, e.path, "merge keys (<<) are not supported; write the settings out")
		}
		if first, ok := seen[k.Value]; ok {
			return errorAt(k, join(e.path, k.Value), "set twice (first on line %d); keep one", first.Line)
		}
		seen[k.Value] = k
		f := entry{path: join(e.path, k.Value), name: k.Value, key: k, val: resolve(e.val.Content[i+1])}
		d.at[f.path] = f.val
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// validateError places a Validate failure on the line of the key it names,
// when the file set that key.
func (d *decoder) validateError(err error) error {
	var re *refund.Error
	if !errors.As(err, &re) {
		re = refund.Errorf(refund.EINVALID, "%s", err)
	}
	field := re.Field
	e := &Error{Field: field, Err: re}
	if n := d.at[field]; n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

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

func unknownKey(e entry, what string, known []string) error {
	parent, _ := strings.CutSuffix(e.path, e.name)
	parent = strings.TrimSuffix(parent, ".")
	return errorAt(e.key, parent, "unknown %s %q (want one of %s)", what, e.name, strings.Join(known, ", "))
}

func errorAt(n *yaml.Node, field, format string, args ...any) *Error {
	return &Error{Line: n.Line, Column: n.Column, Field: field, Err: refund.FieldError(field, format, args...)}
}

// resolve follows an alias (*name) to its anchor, so that shared settings
// written once with &name work, and errors point at the written value.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "key: value pairs"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func names[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
