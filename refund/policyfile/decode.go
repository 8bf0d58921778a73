package policyfile

import (
	"errors"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/refund"
)

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
