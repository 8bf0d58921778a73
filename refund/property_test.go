package refund

import (
	"math"
	"math/big"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The properties below hold for any order a shop can report (amounts up to
// maxMoney, as ParseMoney allows), any facts and any valid policy.

var propEpoch = time.Date(2026, 3, 6, 6, 0, 0, 0, time.UTC)

// genMoney draws an amount, mostly of a realistic size.
func genMoney(t *rapid.T, label string) Money {
	return Money(rapid.OneOf(
		rapid.Int64Range(0, 100_000),
		rapid.Int64Range(0, int64(maxMoney)),
		rapid.SampledFrom([]int64{0, 1, 99, 100, 20000, 20001, int64(maxMoney)}),
	).Draw(t, label))
}

// genOffset draws a duration in [0, limit], with the edges likely.
func genOffset(t *rapid.T, limit time.Duration, label string) time.Duration {
	return time.Duration(rapid.OneOf(
		rapid.Int64Range(0, int64(limit)),
		rapid.SampledFrom([]int64{0, int64(time.Second), int64(24 * time.Hour), int64(72 * time.Hour), int64(limit)}),
	).Draw(t, label))
}

func genPolicy(t *rapid.T) Policy {
	p := DefaultPolicy()
	if rapid.Bool().Draw(t, "default policy") {
		return p
	}
	for _, c := range Categories() {
		p.Categories[c] = CategoryPolicy{
			Window:           time.Duration(rapid.Int64Range(1, int64(400*24*time.Hour)).Draw(t, "window."+string(c))),
			BuyerSideRefused: rapid.Bool().Draw(t, "buyer side refused."+string(c)),
			BuyerSideFeeBP:   rapid.IntRange(0, 10000).Draw(t, "fee bp."+string(c)),
			Payout:           rapid.SampledFrom([]PayoutChoice{PayoutEither, PayoutOriginalOnly, PayoutBalanceOnly}).Draw(t, "payout."+string(c)),
		}
	}
	for _, r := range AllReasons() {
		p.Reasons[r] = ReasonPolicy{
			Fault:            rapid.SampledFrom([]Fault{FaultPlatform, FaultBuyer}).Draw(t, "fault."+string(r)),
			EvidenceRequired: rapid.Bool().Draw(t, "evidence required."+string(r)),
		}
	}
	p.FastLaneLimit = genMoney(t, "fast lane limit")
	p.FrequentRefundLimit = rapid.IntRange(1, 10).Draw(t, "frequent refund limit")
	if err := p.Validate(); err != nil {
		t.Fatalf("generated an invalid policy: %v", err)
	}
	return p
}

func genOrder(t *rapid.T) Order {
	o := Order{
		ID: "KM-PROP-1", BuyerTelegramID: 424242, ContactPhone: "13800138000", Product: "王者荣耀点卡",
		Category:      rapid.SampledFrom(Categories()).Draw(t, "category"),
		AmountPaid:    genMoney(t, "amount paid"),
		Currency:      "CNY",
		PaymentMethod: rapid.SampledFrom([]PaymentMethod{PayAlipay, PayWechat, PayBankCard, PayBalance}).Draw(t, "payment method"),
		PurchasedAt:   propEpoch,
		Used:          rapid.Bool().Draw(t, "used"),
	}
	switch rapid.IntRange(0, 3).Draw(t, "list price kind") {
	case 0: // no list price
	case 1:
		o.ListPrice = o.AmountPaid
	case 2: // a promotion
		o.ListPrice = o.AmountPaid + genMoney(t, "discount")
	default:
		o.ListPrice = genMoney(t, "list price")
	}
	if rapid.Bool().Draw(t, "delivered") {
		o.DeliveredAt = o.PurchasedAt.Add(genOffset(t, 10*24*time.Hour, "delivery delay"))
	}
	if rapid.Bool().Draw(t, "term") {
		o.Usage.TermDays = rapid.IntRange(0, MaxTermDays).Draw(t, "term days")
		o.Usage.ActivatedAt = o.PurchasedAt.Add(genOffset(t, 10*24*time.Hour, "activation delay"))
	}
	if rapid.Bool().Draw(t, "consumed") {
		o.Usage.ConsumedValue = genMoney(t, "consumed value")
	}
	o.Usage.ProgressPercent = rapid.SampledFrom([]int{0, 0, 1, 33, 50, 99, 100}).Draw(t, "progress")
	if rapid.Bool().Draw(t, "gift") {
		o.GiftValue = genMoney(t, "gift value")
		o.GiftReturned = rapid.Bool().Draw(t, "gift returned")
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("generated an invalid order: %v", err)
	}
	return o
}

// genFacts draws a case on o; refundedBefore is what earlier cases took.
func genFacts(t *rapid.T, o Order, refundedBefore Money) Facts {
	return Facts{
		Order:          o,
		Reason:         rapid.SampledFrom(AllReasons()).Draw(t, "reason"),
		Evidence:       rapid.IntRange(0, MaxEvidence).Draw(t, "evidence"),
		AskedAt:        o.PurchasedAt.Add(genOffset(t, 400*24*time.Hour, "asked after")).Add(-time.Hour),
		RefundedBefore: refundedBefore,
		BuyerRefunds:   rapid.IntRange(0, 6).Draw(t, "buyer refunds"),
		ReusedEvidence: rapid.SampledFrom([]int{0, 0, 0, 1, 3}).Draw(t, "reused evidence"),
	}
}

// checkDecision asserts what must hold of every decision.
func checkDecision(t *rapid.T, p Policy, f Facts, d Decision) {
	t.Helper()
	o := f.Order
	if d.Amount < 0 || d.Fee < 0 || d.Deduction < 0 {
		t.Fatalf("negative amounts: %+v", d)
	}
	if d.Amount > o.AmountPaid-f.RefundedBefore {
		t.Fatalf("Amount %s is more than what is left: paid %s, refunded before %s", d.Amount, o.AmountPaid, f.RefundedBefore)
	}
	if d.Amount+d.Fee+d.Deduction > o.AmountPaid {
		t.Fatalf("Amount %s + Fee %s + Deduction %s is more than paid %s", d.Amount, d.Fee, d.Deduction, o.AmountPaid)
	}
	if d.Base != o.AmountPaid {
		t.Fatalf("Base %s, paid %s", d.Base, o.AmountPaid)
	}
	if d.UsedPercent < 0 || d.UsedPercent > 100 {
		t.Fatalf("UsedPercent %d", d.UsedPercent)
	}
	if d.Deduction > o.GiftValue || (o.GiftReturned && d.Deduction > 0) {
		t.Fatalf("Deduction %s for a gift of %s (returned: %v)", d.Deduction, o.GiftValue, o.GiftReturned)
	}
	if d.Deduction > 0 && !d.Has(RuleGiftDeducted) {
		t.Fatalf("Deduction %s without %s: %v", d.Deduction, RuleGiftDeducted, d.Rules)
	}
	if d.Fee > 0 && (p.Fault(f.Reason) != FaultBuyer || !d.Has(RuleBuyerSideFee)) {
		t.Fatalf("a fee of %s on a %s-side reason, rules %v", d.Fee, p.Fault(f.Reason), d.Rules)
	}
	if d.Has(RuleBuyerSideFee) && d.Fee != FeeOf(d.Amount+d.Fee, p.Category(o.Category).BuyerSideFeeBP) {
		t.Fatalf("Fee %s is not the policy's fee on %s", d.Fee, d.Amount+d.Fee)
	}
	if len(d.Rules) == 0 {
		t.Fatalf("a decision without rules: %+v", d)
	}
	for _, r := range d.Rules {
		if !slices.Contains(Rules(), r) {
			t.Fatalf("unknown rule %q", r)
		}
	}
	switch d.Outcome {
	case OutcomeReject:
		if d.Amount != 0 || d.Fee != 0 || d.Deduction != 0 {
			t.Fatalf("a refusal with amounts: %+v", d)
		}
		// A refusal explains itself, and cites no rule that would put an
		// amount in the buyer's mind.
		for _, r := range d.Rules {
			switch r {
			case RuleDuplicateOrder, RuleWindowExpired, RuleKeyActivated, RuleUsedNoFault, RuleBuyerSideRefused,
				RuleFullyUsed, RuleProRataMembership, RuleProRataTopup, RuleProRataService:
			default:
				t.Fatalf("a refusal cites %s: %v", r, d.Rules)
			}
		}
	case OutcomeApprove:
		// FastLaneLimit is the largest refund approved without a human.
		if d.Amount > p.FastLaneLimit {
			t.Fatalf("approved %s without a human, limit %s", d.Amount, p.FastLaneLimit)
		}
	case OutcomeNeedsInfo:
		if f.Evidence > 0 {
			t.Fatalf("asked for evidence on a case with %d files", f.Evidence)
		}
	case OutcomeHumanReview:
	default:
		t.Fatalf("unknown outcome %q", d.Outcome)
	}
}

func TestPropAssess(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		o := genOrder(t)
		var before Money
		if rapid.Bool().Draw(t, "refunded before") {
			before = Money(rapid.Int64Range(0, int64(o.AmountPaid)).Draw(t, "refunded before amount"))
		}
		f := genFacts(t, o, before)
		d := p.Assess(f)
		checkDecision(t, p, f, d)
		// Deterministic: the same facts, the same decision.
		if again := p.Assess(f); !reflect.DeepEqual(d, again) {
			t.Fatalf("Assess is not deterministic:\n%+v\n%+v", d, again)
		}
	})
}

// TestPropRefundsPerOrder plays random cases on one order, each approved
// payout reserving its amount and later confirming or failing in any
// order, and checks that the order never pays out more than was paid.
func TestPropRefundsPerOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		o := genOrder(t)
		var reserved, confirmed Money
		var pending []Money
		t.Repeat(map[string]func(*rapid.T){
			"case": func(t *rapid.T) {
				f := genFacts(t, o, reserved+confirmed)
				d := p.Assess(f)
				checkDecision(t, p, f, d)
				amount := d.Amount
				switch d.Outcome {
				case OutcomeApprove:
				case OutcomeHumanReview:
					// A reviewer approves the proposal or an amount of
					// their own, within what is left, as the service allows.
					left := o.AmountPaid - reserved - confirmed
					if left <= 0 || !rapid.Bool().Draw(t, "reviewer approves") {
						return
					}
					if rapid.Bool().Draw(t, "reviewer changes the amount") {
						amount = Money(rapid.Int64Range(1, int64(left)).Draw(t, "reviewer amount"))
					}
				default:
					return
				}
				if amount <= 0 {
					return
				}
				pending = append(pending, amount)
				reserved += amount
			},
			"confirm": func(t *rapid.T) {
				if len(pending) == 0 {
					t.Skip("nothing pending")
				}
				i := rapid.IntRange(0, len(pending)-1).Draw(t, "confirmed payout")
				reserved -= pending[i]
				confirmed += pending[i]
				pending = slices.Delete(pending, i, i+1)
			},
			"fail": func(t *rapid.T) {
				if len(pending) == 0 {
					t.Skip("nothing pending")
				}
				i := rapid.IntRange(0, len(pending)-1).Draw(t, "failed payout")
				reserved -= pending[i]
				pending = slices.Delete(pending, i, i+1)
			},
			"": func(t *rapid.T) {
				if reserved < 0 || confirmed < 0 || reserved+confirmed > o.AmountPaid {
					t.Fatalf("reserved %s + confirmed %s on an order paid %s", reserved, confirmed, o.AmountPaid)
				}
			},
		})
	})
}

// roundHalfUp is the exact amount × bp / 10000, rounded half up.
func roundHalfUp(amount Money, bp int) *big.Int {
	r := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(int64(amount)), big.NewInt(int64(bp))), big.NewInt(10000))
	r.Add(r, big.NewRat(1, 2))
	return new(big.Int).Quo(r.Num(), r.Denom()) // both positive: Quo floors
}

func TestPropFeeOf(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := Money(rapid.OneOf(rapid.Int64Range(0, int64(maxMoney)), rapid.Int64Range(0, math.MaxInt64)).Draw(t, "amount"))
		bp := rapid.OneOf(rapid.IntRange(0, 10000), rapid.SampledFrom([]int{0, 1, 500, 5000, 9999, 10000})).Draw(t, "bp")
		got := FeeOf(a, bp)
		if want := roundHalfUp(a, bp); !want.IsInt64() || got != Money(want.Int64()) {
			t.Fatalf("FeeOf(%d, %d) = %d, want %s", a, bp, got, want)
		}
		if got < 0 || got > a {
			t.Fatalf("FeeOf(%d, %d) = %d, outside 0..amount", a, bp, got)
		}
	})
}

func TestFeeOfRounding(t *testing.T) {
	tests := []struct {
		amount Money
		bp     int
		want   Money
	}{
		{4750, 500, 238}, // 237.5 rounds up
		{4749, 500, 237}, // 237.45 rounds down
		{9500, 500, 475},
		{1, 5000, 1}, // half a cent rounds up
		{1, 4999, 0},
		{100, 10000, 100},
		{100, 20000, 100}, // never more than the amount
		{0, 500, 0}, {100, 0, 0}, {-100, 500, 0}, {100, -500, 0},
	}
	for _, tt := range tests {
		if got := FeeOf(tt.amount, tt.bp); got != tt.want {
			t.Errorf("FeeOf(%d, %d) = %d, want %d", tt.amount, tt.bp, got, tt.want)
		}
	}
}

func TestPropProrate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		amount := Money(rapid.OneOf(rapid.Int64Range(0, int64(maxMoney)), rapid.Int64Range(0, math.MaxInt64)).Draw(t, "amount"))
		whole := rapid.OneOf(rapid.Int64Range(-2, 100), rapid.Int64Range(1, math.MaxInt64)).Draw(t, "whole")
		near := max(whole, 1) // parts around whole, edges included
		if near < math.MaxInt64-2 {
			near += 2
		}
		part := rapid.OneOf(
			rapid.Int64Range(-2, near),
			rapid.Int64Range(1, math.MaxInt64),
			rapid.Just(whole-1),
		).Draw(t, "part")
		got := prorate(amount, part, whole)
		var want *big.Int
		switch {
		case whole <= 0 || part <= 0:
			want = big.NewInt(0)
		case part >= whole:
			want = big.NewInt(int64(amount))
		default:
			want = new(big.Int).Mul(big.NewInt(int64(amount)), big.NewInt(part))
			want.Quo(want, big.NewInt(whole))
		}
		if !want.IsInt64() || got != Money(want.Int64()) {
			t.Fatalf("prorate(%d, %d, %d) = %d, want %s", amount, part, whole, got, want)
		}
		if got < 0 || got > amount {
			t.Fatalf("prorate(%d, %d, %d) = %d, outside 0..amount", amount, part, whole, got)
		}
	})
}

func TestProrateHuge(t *testing.T) {
	// amount × part passes 2^63 here; the result does not.
	const amount, part, whole = Money(math.MaxInt64), int64(math.MaxInt64 - 1), int64(math.MaxInt64)
	if got, want := prorate(amount, part, whole), Money(math.MaxInt64-1); got != want {
		t.Errorf("prorate(MaxInt64, MaxInt64-1, MaxInt64) = %d, want %d", got, want)
	}
	if got, want := prorate(maxMoney, int64(maxMoney)-1, int64(maxMoney)), maxMoney-1; got != want {
		t.Errorf("prorate(maxMoney, maxMoney-1, maxMoney) = %d, want %d", got, want)
	}
}
