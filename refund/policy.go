package refund

import (
	"slices"
	"time"
)

// Fault says who is responsible for what went wrong, which decides between
// a full refund and a fee or a refusal.
type Fault string

// The sides a reason can be blamed on.
const (
	FaultPlatform Fault = "platform"
	FaultBuyer    Fault = "buyer"
)

// PayoutRoute is where a refund's money goes.
type PayoutRoute string

// The payout routes. Original means back the way the buyer paid.
const (
	RouteOriginal PayoutRoute = "original"
	RouteBalance  PayoutRoute = "balance"
)

// Valid reports whether r is a known route.
func (r PayoutRoute) Valid() bool { return r == RouteOriginal || r == RouteBalance }

// PayoutChoice is which routes a category's refunds may take.
type PayoutChoice string

// The payout choices a policy can set per category.
const (
	// PayoutEither lets the buyer choose between the original route and
	// the platform balance.
	PayoutEither       PayoutChoice = "either"
	PayoutOriginalOnly PayoutChoice = "original"
	PayoutBalanceOnly  PayoutChoice = "balance"
)

// CategoryPolicy is the part of the policy that differs by category.
type CategoryPolicy struct {
	// Window is how long after delivery a refund may be asked for.
	Window time.Duration
	// BuyerSideRefused refuses buyer-side reasons outright; otherwise they
	// are refunded minus BuyerSideFeeBP.
	BuyerSideRefused bool
	// BuyerSideFeeBP is the buyer-side fee in basis points (500 = 5%).
	BuyerSideFeeBP int
	Payout         PayoutChoice
}

// ReasonPolicy is the part of the policy that differs by reason.
type ReasonPolicy struct {
	Fault Fault
	// EvidenceRequired sends a case without any file to needs_info.
	EvidenceRequired bool
}

// Policy is the shop's refund rulebook. Build it with DefaultPolicy and
// override what the shop's policy file sets; Validate before use.
type Policy struct {
	Categories map[Category]CategoryPolicy
	Reasons    map[Reason]ReasonPolicy
	// FastLaneLimit is the largest refund approved without a human.
	FastLaneLimit Money
	// FrequentRefundLimit is how many refunds a buyer may get within
	// FrequentRefundPeriod before the next case is flagged for review.
	FrequentRefundLimit  int
	FrequentRefundPeriod time.Duration
	// NeedsInfoTimeout closes a case whose buyer does not answer a request
	// for evidence; a reminder goes out at half time.
	NeedsInfoTimeout time.Duration
	// AppealWindow is how long after a refusal a buyer may appeal, once.
	AppealWindow time.Duration
	// PayoutChoiceTimeout is how long an approved case waits for the buyer
	// to choose a payout route before the original route is used.
	PayoutChoiceTimeout time.Duration
	// ReviewBusinessDays is how many business days human review may take.
	ReviewBusinessDays int
	// PayoutDays gives, per payment method, the business days an
	// original-route payout takes: {min, max}.
	PayoutDays map[PaymentMethod][2]int
	Calendar   Calendar
}

// maxBusinessDays bounds the business-day counts a policy may set.
const maxBusinessDays = 60

// DefaultPolicy is the rulebook used when the shop sets none: the common
// practice of 卡盟 platforms.
func DefaultPolicy() Policy {
	cat := func(window time.Duration, refused bool) CategoryPolicy {
		return CategoryPolicy{Window: window, BuyerSideRefused: refused, BuyerSideFeeBP: 500, Payout: PayoutEither}
	}
	platform := ReasonPolicy{Fault: FaultPlatform, EvidenceRequired: true}
	return Policy{
		Categories: map[Category]CategoryPolicy{
			CategoryGameCard: cat(24*time.Hour, false),
			// A top-up credited to a wrong account cannot be pulled back.
			CategoryTopup:      cat(24*time.Hour, true),
			CategoryMembership: cat(72*time.Hour, false),
			// A delivered key can be copied, so a change of mind is refused.
			CategorySoftwareKey: cat(72*time.Hour, true),
			CategoryService:     cat(72*time.Hour, false),
			CategoryPhysical:    cat(7*24*time.Hour, false),
		},
		Reasons: map[Reason]ReasonPolicy{
			ReasonInvalidCode:      platform,
			ReasonWrongValue:       platform,
			ReasonNotDelivered:     {Fault: FaultPlatform},
			ReasonDuplicateCharge:  {Fault: FaultPlatform},
			ReasonNotArrived:       platform,
			ReasonNotActivated:     platform,
			ReasonActivationFailed: platform,
			ReasonNotAsDescribed:   platform,
			ReasonSystemFault:      platform,
			ReasonServiceNotDone:   platform,
			ReasonDamaged:          platform,
			ReasonMistakenPurchase: {Fault: FaultBuyer},
			ReasonNoLongerWanted:   {Fault: FaultBuyer},
			ReasonWrongAccount:     {Fault: FaultBuyer},
		},
		FastLaneLimit:        20000,
		FrequentRefundLimit:  3,
		FrequentRefundPeriod: 30 * 24 * time.Hour,
		NeedsInfoTimeout:     24 * time.Hour,
		AppealWindow:         7 * 24 * time.Hour,
		PayoutChoiceTimeout:  24 * time.Hour,
		ReviewBusinessDays:   3,
		PayoutDays: map[PaymentMethod][2]int{
			PayAlipay: {1, 2}, PayWechat: {1, 2}, PayBankCard: {3, 5}, PayBalance: {0, 0},
		},
		Calendar: Calendar{},
	}
}

// Validate reports the first thing wrong with a policy, naming the field
// the way the policy file spells it.
func (p Policy) Validate() error {
	for _, c := range Categories() {
		cp, ok := p.Categories[c]
		switch {
		case !ok:
			return FieldError("categories."+string(c), "category %s has no policy", c)
		case cp.Window <= 0:
			return FieldError("categories."+string(c)+".window", "window must be positive")
		case cp.BuyerSideFeeBP < 0 || cp.BuyerSideFeeBP > 10000:
			return FieldError("categories."+string(c)+".buyer_side", "fee must be 0-100%%")
		case cp.Payout != PayoutEither && cp.Payout != PayoutOriginalOnly && cp.Payout != PayoutBalanceOnly:
			return FieldError("categories."+string(c)+".payout", "payout must be either, original or balance")
		}
	}
	for _, r := range AllReasons() {
		rp, ok := p.Reasons[r]
		switch {
		case !ok:
			return FieldError("reasons."+string(r), "reason %s has no policy", r)
		case rp.Fault != FaultPlatform && rp.Fault != FaultBuyer:
			return FieldError("reasons."+string(r)+".fault", "fault must be platform or buyer")
		}
	}
	for _, m := range []PaymentMethod{PayAlipay, PayWechat, PayBankCard, PayBalance} {
		d, ok := p.PayoutDays[m]
		if !ok || d[0] < 0 || d[1] < d[0] {
			return FieldError("payout_days."+string(m), "payout days must be min <= max, both >= 0")
		}
	}
	switch {
	case p.FastLaneLimit < 0:
		return FieldError("fast_lane_limit", "must not be negative")
	case p.FrequentRefundLimit < 1:
		return FieldError("frequent_refunds.limit", "must be at least 1")
	case p.FrequentRefundPeriod <= 0:
		return FieldError("frequent_refunds.period", "must be positive")
	case p.NeedsInfoTimeout <= 0:
		return FieldError("needs_info_timeout", "must be positive")
	case p.AppealWindow <= 0:
		return FieldError("appeal_window", "must be positive")
	case p.PayoutChoiceTimeout <= 0:
		return FieldError("payout_choice_timeout", "must be positive")
	case p.ReviewBusinessDays < 1 || p.ReviewBusinessDays > maxBusinessDays:
		// The bound keeps a typo (300 for 3) from promising buyers a
		// review next year and from making every deadline walk a year.
		return FieldError("review_business_days", "must be 1-%d", maxBusinessDays)
	}
	return p.Calendar.validate()
}

// Category returns the policy of a category.
func (p Policy) Category(c Category) CategoryPolicy { return p.Categories[c] }

// Fault returns who is responsible for a reason.
func (p Policy) Fault(r Reason) Fault { return p.Reasons[r].Fault }

// Routes returns the payout routes open to an order, the default first.
// Orders paid from the balance can only go back to it.
func (p Policy) Routes(o Order) []PayoutRoute {
	if o.PaymentMethod == PayBalance {
		return []PayoutRoute{RouteBalance}
	}
	switch p.Category(o.Category).Payout {
	case PayoutOriginalOnly:
		return []PayoutRoute{RouteOriginal}
	case PayoutBalanceOnly:
		return []PayoutRoute{RouteBalance}
	}
	return []PayoutRoute{RouteOriginal, RouteBalance}
}

// Date is a calendar day in the shop's time zone, written "2006-01-02".
type Date string

// DateOf returns the day t falls on in loc.
func DateOf(t time.Time, loc *time.Location) Date { return Date(t.In(loc).Format(time.DateOnly)) }

// Calendar knows which days the shop's staff work: Monday to Friday, minus
// Holidays, plus ExtraWorkdays (the weekends China moves work to around a
// holiday, 调休).
type Calendar struct {
	Holidays      []Date
	ExtraWorkdays []Date
}

func (c Calendar) validate() error {
	for _, l := range []struct {
		field string
		dates []Date
	}{{"holidays", c.Holidays}, {"extra_workdays", c.ExtraWorkdays}} {
		for _, d := range l.dates {
			if _, err := time.Parse(time.DateOnly, string(d)); err != nil {
				return FieldError(l.field, "%q is not a YYYY-MM-DD date", d)
			}
		}
	}
	for _, d := range c.ExtraWorkdays {
		if slices.Contains(c.Holidays, d) {
			return FieldError("extra_workdays", "%s is also listed as a holiday", d)
		}
	}
	return nil
}

// Workday reports whether day is a working day.
func (c Calendar) Workday(day Date) bool {
	for _, d := range c.ExtraWorkdays {
		if d == day {
			return true
		}
	}
	for _, d := range c.Holidays {
		if d == day {
			return false
		}
	}
	t, err := time.Parse(time.DateOnly, string(day))
	if err != nil {
		return false
	}
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddBusinessDays returns the end of the nth working day after from's day,
// in loc: three business days from a Friday afternoon end on Wednesday
// night. A request made on a holiday starts counting on the next workday.
func (c Calendar) AddBusinessDays(from time.Time, n int, loc *time.Location) time.Time {
	day := from.In(loc)
	day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if c.Workday(DateOf(day, loc)) {
			n--
		}
	}
	return day.AddDate(0, 0, 1).Add(-time.Second).UTC()
}
