package refund_test

// The cost of the automatic first review's decision. docs/performance.md
// has the figures; `make bench` runs it.

import (
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// assessMix is a day of first reviews: every path through Assess once,
// the common fast lane a few times, each with the outcome it must get.
func assessMix() []struct {
	name    string
	facts   refund.Facts
	outcome refund.Outcome
} {
	hour := time.Hour
	asked := deliveredAt.Add(hour)
	card, topup, member := cardOrder(), topupOrder(), membershipOrder()
	undelivered := withOrder(topup, func(o *refund.Order) { o.DeliveredAt = time.Time{} })
	used := withOrder(card, func(o *refund.Order) { o.Used = true })
	spent := withOrder(topup, func(o *refund.Order) { o.Usage.ConsumedValue = 3000 })
	service := withOrder(card, func(o *refund.Order) {
		o.Category, o.Usage.ProgressPercent, o.AmountPaid, o.ListPrice = refund.CategoryService, 40, 15000, 15000
	})
	gift := withOrder(card, func(o *refund.Order) { o.GiftValue = 500 })
	key := withOrder(card, func(o *refund.Order) { o.Category, o.Used = refund.CategorySoftwareKey, true })
	big := withOrder(card, func(o *refund.Order) {
		o.Category, o.AmountPaid, o.ListPrice = refund.CategoryPhysical, 59900, 59900
	})
	type row = struct {
		name    string
		facts   refund.Facts
		outcome refund.Outcome
	}
	f := func(o refund.Order, r refund.Reason, files int, at time.Time) refund.Facts {
		return refund.Facts{Order: o, Reason: r, Evidence: files, AskedAt: at}
	}
	with := func(fa refund.Facts, change func(*refund.Facts)) refund.Facts {
		change(&fa)
		return fa
	}
	return []row{
		{"card_fast_lane", f(card, refund.ReasonInvalidCode, 1, asked), refund.OutcomeApprove},
		{"card_fast_lane_2", f(card, refund.ReasonWrongValue, 2, asked), refund.OutcomeApprove},
		{"topup_fast_lane", f(topup, refund.ReasonNotArrived, 1, asked), refund.OutcomeApprove},
		{"card_no_screenshot", f(card, refund.ReasonInvalidCode, 0, asked), refund.OutcomeNeedsInfo},
		{"duplicate_charge", f(card, refund.ReasonDuplicateCharge, 0, asked), refund.OutcomeApprove},
		{"never_delivered", f(undelivered, refund.ReasonNotArrived, 0, boughtAt.Add(3*hour)), refund.OutcomeApprove},
		{"membership_pro_rata", f(member, refund.ReasonNotAsDescribed, 1, deliveredAt.Add(9*24*hour)), refund.OutcomeApprove},
		{"membership_fee", f(member, refund.ReasonNoLongerWanted, 0, deliveredAt.Add(30*hour)), refund.OutcomeApprove},
		{"topup_pro_rata", f(spent, refund.ReasonNotArrived, 1, asked), refund.OutcomeApprove},
		{"service_pro_rata", f(service, refund.ReasonServiceNotDone, 1, asked), refund.OutcomeApprove},
		{"gift_deducted_fee", f(gift, refund.ReasonMistakenPurchase, 0, asked), refund.OutcomeApprove},
		{"redeemed_dispute", f(used, refund.ReasonInvalidCode, 1, asked), refund.OutcomeHumanReview},
		{"frequent_buyer", with(f(card, refund.ReasonInvalidCode, 1, asked), func(fa *refund.Facts) { fa.BuyerRefunds = 5 }),
			refund.OutcomeHumanReview},
		{"reused_screenshot", with(f(card, refund.ReasonInvalidCode, 1, asked), func(fa *refund.Facts) { fa.ReusedEvidence = 1 }),
			refund.OutcomeHumanReview},
		{"over_limit", f(big, refund.ReasonDamaged, 2, asked), refund.OutcomeHumanReview},
		{"window_expired", f(card, refund.ReasonInvalidCode, 1, deliveredAt.Add(3*24*hour)), refund.OutcomeReject},
		{"key_activated", f(key, refund.ReasonActivationFailed, 1, asked), refund.OutcomeReject},
		{"already_refunded", with(f(card, refund.ReasonInvalidCode, 1, asked), func(fa *refund.Facts) { fa.RefundedBefore = 9500 }),
			refund.OutcomeReject},
		{"topup_wrong_account", f(topup, refund.ReasonWrongAccount, 0, asked), refund.OutcomeReject},
	}
}

// BenchmarkAssess runs the first review's decision on the mix in turn
// ("mix") and on each of its cases alone, with the default policy.
func BenchmarkAssess(b *testing.B) {
	policy := refund.DefaultPolicy()
	mix := assessMix()
	facts := make([]refund.Facts, len(mix))
	for i, m := range mix {
		if got := policy.Assess(m.facts).Outcome; got != m.outcome {
			b.Fatalf("%s: outcome %s, want %s", m.name, got, m.outcome)
		}
		facts[i] = m.facts
	}
	b.Run("mix", func(b *testing.B) {
		b.ReportAllocs()
		rules := 0
		i := 0
		for b.Loop() {
			d := policy.Assess(facts[i])
			rules += len(d.Rules)
			i++
			if i == len(facts) {
				i = 0
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cases/s")
		b.ReportMetric(float64(rules)/float64(b.N), "rules/case")
	})
	for _, m := range mix {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				policy.Assess(m.facts)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cases/s")
		})
	}
}
