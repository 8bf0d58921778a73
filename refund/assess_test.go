package refund_test

import (
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The orders below are what a 卡盟 shop reports: bought on a Friday afternoon
// in Shanghai, delivered two minutes later.
var (
	boughtAt    = time.Date(2026, 3, 6, 14, 0, 0, 0, cst)
	deliveredAt = boughtAt.Add(2 * time.Minute)
)

// cardOrder is a 王者荣耀 ¥100 card sold at ¥95, paid with Alipay, delivered
// and not redeemed.
func cardOrder() refund.Order {
	return refund.Order{
		ID: "KM20260306-0001", BuyerTelegramID: 424242, ContactPhone: "+86 138-0013-8000",
		Product: "王者荣耀点卡 100元", Category: refund.CategoryGameCard,
		AmountPaid: 9500, ListPrice: 10000, Currency: "CNY", PaymentMethod: refund.PayAlipay,
		PurchasedAt: boughtAt, DeliveredAt: deliveredAt,
	}
}

// topupOrder is a ¥100 Q币 top-up sold at ¥98, paid with WeChat Pay.
func topupOrder() refund.Order {
	o := cardOrder()
	o.ID, o.Product, o.Category = "KM20260306-0002", "腾讯Q币直充 100元", refund.CategoryTopup
	o.AmountPaid, o.ListPrice, o.PaymentMethod = 9800, 10000, refund.PayWechat
	return o
}

// membershipOrder is a 30-day 腾讯视频VIP sold at its list price of ¥19.90,
// activated on delivery.
func membershipOrder() refund.Order {
	o := cardOrder()
	o.ID, o.Product, o.Category = "KM20260306-0003", "腾讯视频VIP 月卡", refund.CategoryMembership
	o.AmountPaid, o.ListPrice = 1990, 1990
	o.Usage = refund.Usage{TermDays: 30, ActivatedAt: deliveredAt}
	return o
}

func withOrder(o refund.Order, change func(*refund.Order)) refund.Order {
	change(&o)
	return o
}

func TestAssess(t *testing.T) {
	hour := time.Hour
	tests := []struct {
		name  string
		order refund.Order
		facts refund.Facts // Order is set from order
		// policy, when set, adjusts DefaultPolicy for the row.
		policy        func(*refund.Policy)
		outcome       refund.Outcome
		amount        refund.Money
		fee           refund.Money
		deduction     refund.Money
		usedPercent   int
		rules, absent []refund.Rule
	}{
		{
			name:    "unused card, invalid code, screenshot: full refund in the fast lane",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 9500,
			rules:  []refund.Rule{refund.RuleFullRefund, refund.RulePromotionPaid, refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleEvidenceMissing, refund.RuleAdvanceCompensation},
		},
		{
			name:    "top-up paid but never credited: full advance compensation without evidence",
			order:   withOrder(topupOrder(), func(o *refund.Order) { o.DeliveredAt = time.Time{} }),
			facts:   refund.Facts{Reason: refund.ReasonNotArrived, AskedAt: boughtAt.Add(3 * hour)},
			outcome: refund.OutcomeApprove, amount: 9800,
			rules:  []refund.Rule{refund.RuleFullRefund, refund.RuleAdvanceCompensation},
			absent: []refund.Rule{refund.RuleEvidenceMissing},
		},
		{
			name:    "duplicate charge without evidence: 先行赔付 at once",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonDuplicateCharge, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 9500,
			rules:  []refund.Rule{refund.RuleAdvanceCompensation},
			absent: []refund.Rule{refund.RuleEvidenceMissing, refund.RuleFastLane},
		},
		{
			name:    "duplicate charge on a redeemed card after the window: still refunded",
			order:   withOrder(cardOrder(), func(o *refund.Order) { o.Used = true }),
			facts:   refund.Facts{Reason: refund.ReasonDuplicateCharge, AskedAt: deliveredAt.Add(10 * 24 * hour)},
			outcome: refund.OutcomeApprove, amount: 9500,
			rules:  []refund.Rule{refund.RuleAdvanceCompensation},
			absent: []refund.Rule{refund.RuleWindowExpired, refund.RuleUsedNoFault, refund.RuleRiskRedeemed},
		},
		{
			// A membership's platform-fault window is its whole term.
			name:  "membership with 20 of 30 days left, platform fault: 20/30 of paid, rounded down",
			order: membershipOrder(),
			// Nine days and twenty hours: the started tenth day is used.
			facts:   refund.Facts{Reason: refund.ReasonNotAsDescribed, Evidence: 1, AskedAt: deliveredAt.Add(9*24*hour + 20*hour)},
			outcome: refund.OutcomeApprove, amount: 1326, usedPercent: 33, // 1990 × 20 / 30 = 1326.67
			rules:  []refund.Rule{refund.RuleProRataMembership, refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleFullRefund},
		},
		{
			name:    "membership ten days in, change of mind: past the 72h window, refused",
			order:   membershipOrder(),
			facts:   refund.Facts{Reason: refund.ReasonNoLongerWanted, AskedAt: deliveredAt.Add(9*24*hour + 20*hour)},
			outcome: refund.OutcomeReject, amount: 0,
			rules: []refund.Rule{refund.RuleWindowExpired},
		},
		{
			name:    "membership after its term, platform fault: refused",
			order:   membershipOrder(),
			facts:   refund.Facts{Reason: refund.ReasonNotAsDescribed, Evidence: 1, AskedAt: deliveredAt.Add(30*24*hour + time.Second)},
			outcome: refund.OutcomeReject, amount: 0,
			rules: []refund.Rule{refund.RuleWindowExpired},
		},
		{
			name:    "membership two days in: 28/30 of paid",
			order:   membershipOrder(),
			facts:   refund.Facts{Reason: refund.ReasonNotAsDescribed, Evidence: 1, AskedAt: deliveredAt.Add(24*hour + time.Minute)},
			outcome: refund.OutcomeApprove, amount: 1857, usedPercent: 6, // 1990 × 28 / 30 = 1857.33
			rules: []refund.Rule{refund.RuleProRataMembership, refund.RuleFastLane},
		},
		{
			name: "membership fully used: refused",
			order: withOrder(membershipOrder(), func(o *refund.Order) {
				o.Product, o.AmountPaid, o.ListPrice, o.Usage.TermDays = "腾讯视频VIP 日卡", 300, 300, 1
			}),
			facts:   refund.Facts{Reason: refund.ReasonNotAsDescribed, Evidence: 1, AskedAt: deliveredAt.Add(30 * hour)},
			outcome: refund.OutcomeReject, amount: 0, usedPercent: 0,
			rules: []refund.Rule{refund.RuleFullyUsed},
		},
		{
			name: "mistaken purchase of an unused card: 5% fee rounded half up to the cent",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.AmountPaid, o.ListPrice = "王者荣耀点卡 50元", 4750, 5000
			}),
			facts:   refund.Facts{Reason: refund.ReasonMistakenPurchase, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 4512, fee: 238, // 5% of 47.50 is 2.375
			rules:  []refund.Rule{refund.RuleBuyerSideFee, refund.RuleAutoApproved},
			absent: []refund.Rule{refund.RuleEvidenceMissing, refund.RuleFullRefund, refund.RuleFastLane},
		},
		{
			name:    "redeemed card, change of mind: refused",
			order:   withOrder(cardOrder(), func(o *refund.Order) { o.Used = true }),
			facts:   refund.Facts{Reason: refund.ReasonMistakenPurchase, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeReject, amount: 0,
			rules:  []refund.Rule{refund.RuleUsedNoFault},
			absent: []refund.Rule{refund.RuleBuyerSideFee, refund.RulePromotionPaid},
		},
		{
			name:    "redeemed card the buyer says is invalid: a human looks",
			order:   withOrder(cardOrder(), func(o *refund.Order) { o.Used = true }),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeHumanReview, amount: 9500,
			rules:  []refund.Rule{refund.RuleRiskRedeemed},
			absent: []refund.Rule{refund.RuleFastLane},
		},
		{
			name:    "request one second after the 24h window: refused",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(24*hour + time.Second)},
			outcome: refund.OutcomeReject, amount: 0,
			rules: []refund.Rule{refund.RuleWindowExpired},
		},
		{
			name:    "request exactly at the end of the 24h window: approved",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(24 * hour)},
			outcome: refund.OutcomeApprove, amount: 9500,
			rules:  []refund.Rule{refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleWindowExpired},
		},
		{
			name: "promotion with an unreturned gift: what was paid, minus the gift",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.AmountPaid, o.ListPrice, o.GiftValue = "王者荣耀点卡 128元 送10元皮肤券", 9900, 12800, 1000
			}),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 2, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 8900, deduction: 1000,
			rules:  []refund.Rule{refund.RulePromotionPaid, refund.RuleGiftDeducted, refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleFullRefund},
		},
		{
			name: "promotion with the gift returned: what was paid",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.AmountPaid, o.ListPrice, o.GiftValue, o.GiftReturned = "王者荣耀点卡 128元 送10元皮肤券", 9900, 12800, 1000, true
			}),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 9900,
			rules:  []refund.Rule{refund.RulePromotionPaid, refund.RuleFullRefund, refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleGiftDeducted},
		},
		{
			name: "software key already activated: refused even for a platform reason",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.Category, o.AmountPaid, o.ListPrice, o.Used = "Windows 11 专业版 激活码", refund.CategorySoftwareKey, 15800, 19900, true
			}),
			facts:   refund.Facts{Reason: refund.ReasonActivationFailed, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeReject, amount: 0,
			rules: []refund.Rule{refund.RuleKeyActivated},
		},
		{
			name: "service half done: 50%",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.Category, o.AmountPaid, o.ListPrice = "王者荣耀代练 钻石→星耀", refund.CategoryService, 8800, 8800
				o.Usage.ProgressPercent = 50
			}),
			facts:   refund.Facts{Reason: refund.ReasonServiceNotDone, Evidence: 1, AskedAt: deliveredAt.Add(48 * hour)},
			outcome: refund.OutcomeApprove, amount: 4400, usedPercent: 50,
			rules: []refund.Rule{refund.RuleProRataService, refund.RuleFastLane},
		},
		{
			name:    "top-up partly spent: pro rata by unused face value, rounded down",
			order:   withOrder(topupOrder(), func(o *refund.Order) { o.Usage.ConsumedValue = 3333 }),
			facts:   refund.Facts{Reason: refund.ReasonWrongValue, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 6533, usedPercent: 33, // 9800 × 6667 / 10000 = 6533.66
			rules:  []refund.Rule{refund.RuleProRataTopup, refund.RulePromotionPaid, refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleFullRefund},
		},
		{
			name:    "top-up to a wrong account: refused, it cannot be pulled back",
			order:   topupOrder(),
			facts:   refund.Facts{Reason: refund.ReasonWrongAccount, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeReject, amount: 0,
			rules: []refund.Rule{refund.RuleBuyerSideRefused},
		},
		{
			name: "over the ¥200 fast-lane limit: a human decides",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.AmountPaid, o.ListPrice = "王者荣耀点卡 500元", 48000, 50000
			}),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeHumanReview, amount: 48000,
			rules:  []refund.Rule{refund.RuleOverThreshold},
			absent: []refund.Rule{refund.RuleFastLane},
		},
		{
			name: "duplicate charge over the ¥200 limit: a human decides, still no evidence asked",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.AmountPaid, o.ListPrice = "王者荣耀点卡 500元", 48000, 50000
			}),
			facts:   refund.Facts{Reason: refund.ReasonDuplicateCharge, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeHumanReview, amount: 48000,
			rules:  []refund.Rule{refund.RuleOverThreshold},
			absent: []refund.Rule{refund.RuleAdvanceCompensation, refund.RuleEvidenceMissing},
		},
		{
			name: "exactly the ¥200 fast-lane limit: approved",
			order: withOrder(cardOrder(), func(o *refund.Order) {
				o.Product, o.AmountPaid, o.ListPrice = "王者荣耀点卡 200元", 20000, 20000
			}),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 20000,
			rules:  []refund.Rule{refund.RuleFullRefund, refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleOverThreshold, refund.RulePromotionPaid},
		},
		{
			name:    "order already refunded: refused as a duplicate",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour), RefundedBefore: 9500},
			outcome: refund.OutcomeReject, amount: 0,
			rules: []refund.Rule{refund.RuleDuplicateOrder},
		},
		{
			name:    "invalid code without a screenshot: ask for it",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeNeedsInfo, amount: 9500,
			rules:  []refund.Rule{refund.RuleEvidenceMissing},
			absent: []refund.Rule{refund.RuleFastLane},
		},
		{
			name:    "the same facts with one file: approved",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeApprove, amount: 9500,
			rules:  []refund.Rule{refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleEvidenceMissing},
		},
		{
			name:    "buyer at the frequent-refund limit: a human looks",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour), BuyerRefunds: 3},
			outcome: refund.OutcomeHumanReview, amount: 9500,
			rules:  []refund.Rule{refund.RuleRiskFrequent},
			absent: []refund.Rule{refund.RuleFastLane},
		},
		{
			name:    "buyer one refund under the limit: approved",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour), BuyerRefunds: 2},
			outcome: refund.OutcomeApprove, amount: 9500,
			rules:  []refund.Rule{refund.RuleFastLane},
			absent: []refund.Rule{refund.RuleRiskFrequent},
		},
		{
			name:    "screenshot already used in another case: a human looks",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonInvalidCode, Evidence: 1, AskedAt: deliveredAt.Add(hour), ReusedEvidence: 1},
			outcome: refund.OutcomeHumanReview, amount: 9500,
			rules:  []refund.Rule{refund.RuleRiskEvidenceReused},
			absent: []refund.Rule{refund.RuleFastLane},
		},
		{
			name:    "not delivered, says the buyer; delivered, says the shop: a human looks",
			order:   cardOrder(),
			facts:   refund.Facts{Reason: refund.ReasonNotDelivered, AskedAt: deliveredAt.Add(hour)},
			outcome: refund.OutcomeHumanReview, amount: 9500,
			rules:  []refund.Rule{refund.RuleDisputeDelivered},
			absent: []refund.Rule{refund.RuleAdvanceCompensation},
		},
		{
			name:    "card never delivered: advance compensation",
			order:   withOrder(cardOrder(), func(o *refund.Order) { o.DeliveredAt = time.Time{} }),
			facts:   refund.Facts{Reason: refund.ReasonNotDelivered, AskedAt: boughtAt.Add(2 * hour)},
			outcome: refund.OutcomeApprove, amount: 9500,
			rules:  []refund.Rule{refund.RuleAdvanceCompensation},
			absent: []refund.Rule{refund.RuleDisputeDelivered},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.order.Validate(); err != nil {
				t.Fatalf("the test's order is invalid: %v", err)
			}
			p := refund.DefaultPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("the test's policy is invalid: %v", err)
			}
			f := tt.facts
			f.Order = tt.order
			d := p.Assess(f)
			if d.Outcome != tt.outcome || d.Amount != tt.amount || d.Fee != tt.fee || d.Deduction != tt.deduction {
				t.Errorf("Assess = %s amount %s fee %s deduction %s; want %s amount %s fee %s deduction %s (rules %v)",
					d.Outcome, d.Amount, d.Fee, d.Deduction, tt.outcome, tt.amount, tt.fee, tt.deduction, d.Rules)
			}
			if d.Base != tt.order.AmountPaid {
				t.Errorf("Base = %s, want the amount paid %s", d.Base, tt.order.AmountPaid)
			}
			if d.UsedPercent != tt.usedPercent {
				t.Errorf("UsedPercent = %d, want %d", d.UsedPercent, tt.usedPercent)
			}
			for _, r := range tt.rules {
				if !d.Has(r) {
					t.Errorf("rules %v lack %s", d.Rules, r)
				}
			}
			for _, r := range tt.absent {
				if d.Has(r) {
					t.Errorf("rules %v cite %s", d.Rules, r)
				}
			}
		})
	}
}
