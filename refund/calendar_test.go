package refund_test

import (
	"testing"
	"time"
	_ "time/tzdata" // Asia/Shanghai without relying on the host's zoneinfo

	"github.com/refundbot/refundbot/refund"
)

var cst = loadLocation("Asia/Shanghai")

func loadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// nationalDay2026 is the 2026 国庆 calendar: Thursday 1 to Wednesday 7
// October off, Saturday 10 October worked instead (调休).
var nationalDay2026 = refund.Calendar{
	Holidays:      []refund.Date{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
	ExtraWorkdays: []refund.Date{"2026-10-10"},
}

func TestCalendarWorkday(t *testing.T) {
	tests := []struct {
		day  refund.Date
		want bool
	}{
		{"2026-03-06", true},  // Friday
		{"2026-03-07", false}, // Saturday
		{"2026-03-08", false}, // Sunday
		{"2026-03-09", true},  // Monday
		{"2026-09-30", true},  // Wednesday before the holiday
		{"2026-10-01", false}, // Thursday, National Day
		{"2026-10-05", false}, // Monday inside the holiday
		{"2026-10-07", false}, // last holiday
		{"2026-10-08", true},  // Thursday after
		{"2026-10-10", true},  // Saturday worked instead: 调休
		{"2026-10-11", false}, // an ordinary Sunday
		{"2026-13-01", false}, // not a date
	}
	for _, tt := range tests {
		if got := nationalDay2026.Workday(tt.day); got != tt.want {
			t.Errorf("Workday(%s) = %v, want %v", tt.day, got, tt.want)
		}
	}
	if !(refund.Calendar{}).Workday("2026-10-01") {
		t.Error("an empty calendar knows no holidays, yet 2026-10-01 (a Thursday) is not a workday")
	}
}

func TestCalendarAddBusinessDays(t *testing.T) {
	at := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, cst) }
	endOf := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 0, cst) }
	tests := []struct {
		name string
		cal  refund.Calendar
		from time.Time
		n    int
		want time.Time
	}{
		{"Friday afternoon + 3 ends on Wednesday night", refund.Calendar{}, at(2026, 3, 6, 15, 30), 3, endOf(2026, 3, 11)},
		{"Friday 23:30 in Shanghai is still Friday (15:30 UTC)", refund.Calendar{}, at(2026, 3, 6, 23, 30), 1, endOf(2026, 3, 9)},
		{"Monday 07:00 in Shanghai is Monday, though Sunday in UTC", refund.Calendar{}, at(2026, 3, 9, 7, 0), 1, endOf(2026, 3, 10)},
		{"Monday morning + 1 is Tuesday", refund.Calendar{}, at(2026, 3, 9, 9, 0), 1, endOf(2026, 3, 10)},
		{"Wednesday before National Day + 3 skips the holiday and counts the 调休 Saturday", nationalDay2026, at(2026, 9, 30, 17, 0), 3, endOf(2026, 10, 10)},
		{"same, without the holiday list", refund.Calendar{}, at(2026, 9, 30, 17, 0), 3, endOf(2026, 10, 5)},
		{"asked on a holiday: counting starts on the next workday", nationalDay2026, at(2026, 10, 3, 11, 0), 1, endOf(2026, 10, 8)},
		{"asked on a holiday + 3 ends on the 调休 Saturday", nationalDay2026, at(2026, 10, 3, 11, 0), 3, endOf(2026, 10, 10)},
		{"asked on the 调休 Saturday + 1 is the Monday after", nationalDay2026, at(2026, 10, 10, 10, 0), 1, endOf(2026, 10, 12)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.AddBusinessDays(tt.from, tt.n, cst)
			if !got.Equal(tt.want) {
				t.Errorf("AddBusinessDays(%s, %d) = %s, want %s", tt.from, tt.n, got.In(cst), tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("AddBusinessDays returned a time in %s, want UTC", got.Location())
			}
		})
	}
	// The same instant given in UTC gives the same answer: the day is the
	// shop's, not the caller's.
	from := at(2026, 3, 9, 7, 0)
	if a, b := (refund.Calendar{}).AddBusinessDays(from, 1, cst), (refund.Calendar{}).AddBusinessDays(from.UTC(), 1, cst); !a.Equal(b) {
		t.Errorf("AddBusinessDays depends on the input's zone: %s vs %s", a, b)
	}
	if got, want := (refund.Calendar{}).AddBusinessDays(at(2026, 3, 6, 15, 30), 3, cst), time.Date(2026, 3, 11, 15, 59, 59, 0, time.UTC); got != want {
		t.Errorf("Friday + 3 = %#v, want %#v in UTC", got, want)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := refund.DefaultPolicy().Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v", err)
	}
	cat := func(c refund.Category, change func(*refund.CategoryPolicy)) func(*refund.Policy) {
		return func(p *refund.Policy) {
			cp := p.Categories[c]
			change(&cp)
			p.Categories[c] = cp
		}
	}
	tests := []struct {
		field  string
		change func(*refund.Policy)
	}{
		{"categories.membership", func(p *refund.Policy) { delete(p.Categories, refund.CategoryMembership) }},
		{"categories.game_card.window", cat(refund.CategoryGameCard, func(c *refund.CategoryPolicy) { c.Window = 0 })},
		{"categories.topup.window", cat(refund.CategoryTopup, func(c *refund.CategoryPolicy) { c.Window = -time.Hour })},
		{"categories.service.buyer_side", cat(refund.CategoryService, func(c *refund.CategoryPolicy) { c.BuyerSideFeeBP = -1 })},
		{"categories.physical.buyer_side", cat(refund.CategoryPhysical, func(c *refund.CategoryPolicy) { c.BuyerSideFeeBP = 10001 })},
		{"categories.software_key.payout", cat(refund.CategorySoftwareKey, func(c *refund.CategoryPolicy) { c.Payout = "cash" })},
		{"categories.game_card.payout", cat(refund.CategoryGameCard, func(c *refund.CategoryPolicy) { c.Payout = "" })},
		{"reasons.damaged", func(p *refund.Policy) { delete(p.Reasons, refund.ReasonDamaged) }},
		{"reasons.wrong_account.fault", func(p *refund.Policy) {
			p.Reasons[refund.ReasonWrongAccount] = refund.ReasonPolicy{Fault: "shop"}
		}},
		{"payout_days.bank_card", func(p *refund.Policy) { delete(p.PayoutDays, refund.PayBankCard) }},
		{"payout_days.alipay", func(p *refund.Policy) { p.PayoutDays[refund.PayAlipay] = [2]int{-1, 2} }},
		{"payout_days.wechat", func(p *refund.Policy) { p.PayoutDays[refund.PayWechat] = [2]int{3, 2} }},
		{"fast_lane_limit", func(p *refund.Policy) { p.FastLaneLimit = -1 }},
		{"frequent_refunds.limit", func(p *refund.Policy) { p.FrequentRefundLimit = 0 }},
		{"frequent_refunds.period", func(p *refund.Policy) { p.FrequentRefundPeriod = 0 }},
		{"needs_info_timeout", func(p *refund.Policy) { p.NeedsInfoTimeout = -time.Second }},
		{"appeal_window", func(p *refund.Policy) { p.AppealWindow = 0 }},
		{"payout_choice_timeout", func(p *refund.Policy) { p.PayoutChoiceTimeout = 0 }},
		{"review_business_days", func(p *refund.Policy) { p.ReviewBusinessDays = 0 }},
		{"review_business_days", func(p *refund.Policy) { p.ReviewBusinessDays = 61 }},
		{"extra_workdays", func(p *refund.Policy) {
			p.Calendar = refund.Calendar{Holidays: []refund.Date{"2026-10-10"}, ExtraWorkdays: []refund.Date{"2026-10-10"}}
		}},
		{"holidays", func(p *refund.Policy) { p.Calendar.Holidays = []refund.Date{"2026-10-01", "2026/10/02"} }},
		{"extra_workdays", func(p *refund.Policy) { p.Calendar.ExtraWorkdays = []refund.Date{"10-10"} }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			p := refund.DefaultPolicy()
			tt.change(&p)
			err := p.Validate()
			if refund.ErrorCode(err) != refund.EINVALID || refund.ErrorField(err) != tt.field {
				t.Errorf("Validate() = %v; want an %s error naming %s", err, refund.EINVALID, tt.field)
			}
		})
	}
	// Edges that are allowed.
	p := refund.DefaultPolicy()
	p.FastLaneLimit = 0
	p.PayoutDays[refund.PayBankCard] = [2]int{4, 4}
	p.Categories[refund.CategoryGameCard] = refund.CategoryPolicy{Window: time.Nanosecond, BuyerSideFeeBP: 10000, Payout: refund.PayoutBalanceOnly}
	p.Calendar = nationalDay2026
	if err := p.Validate(); err != nil {
		t.Errorf("Validate() of a policy at its limits = %v", err)
	}
}
