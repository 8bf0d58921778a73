package refund

import (
	"math/bits"
	"time"
)

// Rule is the machine-readable code of one reason behind a decision. The
// words explaining it live in locales under "rule.<code>".
type Rule string

// The rules a decision can cite.
const (
	RuleDuplicateOrder      Rule = "duplicate_order"      // the order was already refunded
	RuleWindowExpired       Rule = "window_expired"       // asked after the request window
	RuleKeyActivated        Rule = "key_activated"        // a software key was activated: the vendor supports it
	RuleUsedNoFault         Rule = "used_no_fault"        // redeemed or consumed, nobody else at fault
	RuleBuyerSideRefused    Rule = "buyer_side_refused"   // the category refunds no change of mind
	RuleFullRefund          Rule = "full_refund"          // platform fault, unused: everything paid back
	RulePromotionPaid       Rule = "promotion_paid"       // a discounted order refunds what was paid
	RuleGiftDeducted        Rule = "gift_deducted"        // a promotion's gift was not returned
	RuleBuyerSideFee        Rule = "buyer_side_fee"       // a change of mind costs a fee
	RuleProRataMembership   Rule = "pro_rata_membership"  // refund the days left
	RuleProRataTopup        Rule = "pro_rata_topup"       // refund the unspent value
	RuleProRataService      Rule = "pro_rata_service"     // refund the share not done
	RuleFullyUsed           Rule = "fully_used"           // nothing left to refund
	RuleAdvanceCompensation Rule = "advance_compensation" // 先行赔付: paid before any evidence
	RuleFastLane            Rule = "fast_lane"            // small, clear, complete: approved at once
	RuleAutoApproved        Rule = "auto_approved"        // the policy's amount, without a human
	RuleOverThreshold       Rule = "over_threshold"       // too large to approve without a human
	RuleEvidenceMissing     Rule = "evidence_missing"     // a screenshot or file is needed
	RuleRiskFrequent        Rule = "risk_frequent_refunds"
	RuleRiskRedeemed        Rule = "risk_redeemed"        // the shop says the card was redeemed
	RuleRiskEvidenceReused  Rule = "risk_evidence_reused" // the same file backs another case
	RuleDisputeDelivered    Rule = "dispute_delivered"    // the shop says it delivered
)

// Rules returns every rule, for locale checks.
func Rules() []Rule {
	return []Rule{RuleDuplicateOrder, RuleWindowExpired, RuleKeyActivated, RuleUsedNoFault, RuleBuyerSideRefused,
		RuleFullRefund, RulePromotionPaid, RuleGiftDeducted, RuleBuyerSideFee, RuleProRataMembership,
		RuleProRataTopup, RuleProRataService, RuleFullyUsed, RuleAdvanceCompensation, RuleFastLane,
		RuleAutoApproved, RuleOverThreshold, RuleEvidenceMissing, RuleRiskFrequent, RuleRiskRedeemed,
		RuleRiskEvidenceReused, RuleDisputeDelivered}
}

// Outcome is where the first review sends a case.
type Outcome string

// The outcomes of an assessment.
const (
	OutcomeApprove     Outcome = "approve"
	OutcomeReject      Outcome = "reject"
	OutcomeNeedsInfo   Outcome = "needs_info"
	OutcomeHumanReview Outcome = "human_review"
)

// Facts is everything the first review looks at. The service gathers them;
// Assess only reads them, so it can be tested as a pure function.
type Facts struct {
	Order Order
	// Reason, Evidence and AskedAt come from the case.
	Reason   Reason
	Evidence int
	AskedAt  time.Time
	// RefundedBefore is what earlier cases already paid back on the order.
	RefundedBefore Money
	// BuyerRefunds counts the buyer's refunds in the policy's period.
	BuyerRefunds int
	// ReusedEvidence counts files of this case found in other cases.
	ReusedEvidence int
}

// Decision is the first review's verdict and the amounts behind it.
type Decision struct {
	Outcome Outcome
	// Amount is what would be paid back: the refund if approved, the
	// policy's proposal for a human reviewer otherwise, 0 when refused.
	Amount Money
	// Base is what the amounts are computed from: the amount paid.
	Base Money
	// Fee and Deduction are what the policy kept back from Base, besides
	// pro-rata use: the buyer-side fee and an unreturned gift.
	Fee       Money
	Deduction Money
	// UsedPercent is the share of a membership, top-up or service already
	// used, 0-100, for the explanation.
	UsedPercent int
	Rules       []Rule
}

// Has reports whether the decision cites rule r.
func (d Decision) Has(r Rule) bool {
	for _, k := range d.Rules {
		if k == r {
			return true
		}
	}
	return false
}

// Assess applies the policy to a case's facts. It is the whole automatic
// first review: deterministic, with no I/O, and never proposing more than
// what is left of the amount paid.
func (p Policy) Assess(f Facts) Decision {
	o := f.Order
	d := Decision{Base: o.AmountPaid}
	// A refusal cites only why it refuses: the amount rules gathered
	// before it (promotion_paid, gift_deducted) explain sums it zeroes.
	refuse := func(r ...Rule) Decision {
		d.Outcome, d.Amount, d.Fee, d.Deduction = OutcomeReject, 0, 0, 0
		d.Rules = r
		return d
	}
	if f.RefundedBefore > 0 {
		return refuse(RuleDuplicateOrder)
	}
	fault := p.Fault(f.Reason)
	notDelivered := o.DeliveredAt.IsZero()
	// A duplicate charge is about the payment, not the goods, so no window
	// from delivery applies to it; nor can a window run on goods never
	// delivered.
	if f.Reason != ReasonDuplicateCharge && !notDelivered {
		window := p.Category(o.Category).Window
		// A membership that stops working is the platform's fault on any
		// day of its term, not only in the first days: the days left are
		// refunded pro rata for as long as the term runs.
		if term := time.Duration(o.Usage.TermDays) * 24 * time.Hour; o.Category == CategoryMembership && fault == FaultPlatform {
			window = max(window, term)
		}
		if f.AskedAt.Sub(o.DeliveredAt) > window {
			return refuse(RuleWindowExpired)
		}
	}
	if o.Category == CategorySoftwareKey && o.Used && f.Reason != ReasonDuplicateCharge {
		return refuse(RuleKeyActivated)
	}

	var risks []Rule
	if f.BuyerRefunds >= p.FrequentRefundLimit {
		risks = append(risks, RuleRiskFrequent)
	}
	if f.ReusedEvidence > 0 {
		risks = append(risks, RuleRiskEvidenceReused)
	}
	advance := f.Reason == ReasonDuplicateCharge ||
		(notDelivered && (f.Reason == ReasonNotDelivered || f.Reason == ReasonNotArrived))
	if f.Reason == ReasonNotDelivered && !notDelivered {
		risks = append(risks, RuleDisputeDelivered)
	}

	// Amounts. A duplicate charge refunds the extra payment whatever
	// happened to the goods.
	amount := o.AmountPaid
	if o.ListPrice > o.AmountPaid {
		d.Rules = append(d.Rules, RulePromotionPaid)
	}
	if f.Reason != ReasonDuplicateCharge {
		left, used, rule, partial := remaining(o, f.AskedAt)
		switch {
		case partial && left == 0:
			return refuse(rule, RuleFullyUsed)
		case partial:
			amount = prorate(amount, left, used+left)
			d.UsedPercent = int(used * 100 / (used + left))
			d.Rules = append(d.Rules, rule)
		case o.Used && fault == FaultPlatform:
			// The buyer says the code failed, the shop says it was
			// redeemed: someone has to look.
			risks = append(risks, RuleRiskRedeemed)
		case o.Used:
			return refuse(RuleUsedNoFault)
		}
		if o.GiftValue > 0 && !o.GiftReturned {
			d.Deduction = min(o.GiftValue, amount)
			amount -= d.Deduction
			d.Rules = append(d.Rules, RuleGiftDeducted)
		}
	}
	if fault == FaultBuyer {
		cp := p.Category(o.Category)
		if cp.BuyerSideRefused {
			return refuse(RuleBuyerSideRefused)
		}
		d.Fee = FeeOf(amount, cp.BuyerSideFeeBP)
		amount -= d.Fee
		d.Rules = append(d.Rules, RuleBuyerSideFee)
	} else if len(d.Rules) == 0 || (len(d.Rules) == 1 && d.Rules[0] == RulePromotionPaid) {
		d.Rules = append(d.Rules, RuleFullRefund)
	}
	d.Amount = min(max(amount, 0), max(o.AmountPaid-f.RefundedBefore, 0))
	if d.Amount == 0 {
		// Use or deductions left nothing to pay, so nothing to approve;
		// the pro-rata rule, if any, says why.
		var why []Rule
		for _, r := range d.Rules {
			if r == RuleProRataMembership || r == RuleProRataTopup || r == RuleProRataService {
				why = append(why, r)
			}
		}
		return refuse(append(why, RuleFullyUsed)...)
	}

	switch {
	case len(risks) > 0:
		d.Outcome = OutcomeHumanReview
		d.Rules = append(d.Rules, risks...)
	case advance && d.Amount <= p.FastLaneLimit:
		d.Outcome = OutcomeApprove
		d.Rules = append(d.Rules, RuleAdvanceCompensation)
	case p.Reasons[f.Reason].EvidenceRequired && f.Evidence == 0:
		// Ask before anyone reviews: a human needs the screenshot too.
		d.Outcome = OutcomeNeedsInfo
		d.Rules = append(d.Rules, RuleEvidenceMissing)
	case d.Amount > p.FastLaneLimit:
		d.Outcome = OutcomeHumanReview
		d.Rules = append(d.Rules, RuleOverThreshold)
	case fault == FaultPlatform:
		d.Outcome = OutcomeApprove
		d.Rules = append(d.Rules, RuleFastLane)
	default:
		d.Outcome = OutcomeApprove
		d.Rules = append(d.Rules, RuleAutoApproved)
	}
	return d
}

// remaining measures partial use: how much is left and how much was used,
// in the category's unit (days, cents of face value, percent). partial is
// false when the shop reported no partial use.
func remaining(o Order, at time.Time) (left, used int64, rule Rule, partial bool) {
	u := o.Usage
	switch o.Category {
	case CategoryMembership:
		if u.TermDays == 0 || u.ActivatedAt.IsZero() {
			return 0, 0, "", false
		}
		elapsed := at.Sub(u.ActivatedAt)
		days := int64(0)
		if elapsed > 0 {
			// A started day is a used day.
			days = int64((elapsed + 24*time.Hour - 1) / (24 * time.Hour))
		}
		days = min(days, int64(u.TermDays))
		return int64(u.TermDays) - days, days, RuleProRataMembership, true
	case CategoryTopup:
		if u.ConsumedValue == 0 {
			return 0, 0, "", false
		}
		face := int64(o.ListPrice)
		if face == 0 {
			face = int64(o.AmountPaid)
		}
		spent := min(int64(u.ConsumedValue), face)
		return face - spent, spent, RuleProRataTopup, true
	case CategoryService:
		if u.ProgressPercent == 0 {
			return 0, 0, "", false
		}
		done := int64(min(u.ProgressPercent, 100))
		return 100 - done, done, RuleProRataService, true
	}
	return 0, 0, "", false
}

// prorate returns amount × part / whole, rounded down to the cent so that
// a pro-rata refund never exceeds the exact share.
func prorate(amount Money, part, whole int64) Money {
	if whole <= 0 || part <= 0 {
		return 0
	}
	if part >= whole {
		return amount
	}
	// A 128-bit product: part may be cents of face value, and amount × part
	// can pass 2^63 even though the result cannot.
	hi, lo := bits.Mul64(uint64(amount), uint64(part))
	q, _ := bits.Div64(hi, lo, uint64(whole))
	return Money(q)
}

// FeeOf returns bp basis points of amount, rounded half up to the cent,
// never more than amount.
func FeeOf(amount Money, bp int) Money {
	if amount <= 0 || bp <= 0 {
		return 0
	}
	if bp >= 10000 {
		return amount
	}
	// A 128-bit product, as in prorate: amount × bp passes 2^63 from
	// about ¥9 trillion on, which would make the fee negative.
	hi, lo := bits.Mul64(uint64(amount), uint64(bp))
	lo, carry := bits.Add64(lo, 5000, 0)
	q, _ := bits.Div64(hi+carry, lo, 10000)
	return Money(q)
}
