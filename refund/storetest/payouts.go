package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Payouts and the ledger: never more than was paid, one live payout a
// case, settlement, and the balance.

func testUpsertBelowRefunded(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	mustApply(t, s, with(step(c, refund.StatusRefunded, day0), func(ch *refund.Change) {
		ch.Payout = balance("pay-1", 9000)
	}))
	tests := []struct {
		name   string
		paid   refund.Money
		code   string
		stored refund.Money
	}{
		{"below the refunded amount", 8999, refund.ECONFLICT, 9550},
		{"exactly the refunded amount", 9000, "", 9000},
		{"below it again", 8999, refund.ECONFLICT, 9000},
		{"back to the full amount", 9550, "", 9550},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sampleOrder("KM20261120001")
			o.AmountPaid = tt.paid
			_, err := s.UpsertOrder(t.Context(), o)
			wantCode(t, err, tt.code)
			got, err := s.Order(t.Context(), o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.AmountPaid != tt.stored {
				t.Errorf("AmountPaid = %s, want %s", got.AmountPaid, tt.stored)
			}
		})
	}
}

func testPayoutsWithinAmountPaid(t *testing.T, s refund.LifecycleStore) {
	// Case one reserves 6000 of the 9550 paid, and is closed while its
	// payout is still pending: the reservation holds all the same.
	one := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	one = mustApply(t, s, with(step(one, refund.StatusClosed, day0), func(ch *refund.Change) {
		ch.Payout = original("one-1", 6000)
	}))
	two := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	two = mustApply(t, s, step(two, refund.StatusApproved, day0))
	apply := func(c refund.Case, from, to refund.Status, fn func(ch *refund.Change)) error {
		c.Status = from
		_, err := s.Apply(t.Context(), with(step(c, to, day0), fn))
		return err
	}
	pay := func(id string, amount refund.Money) func(ch *refund.Change) {
		return func(ch *refund.Change) { ch.Payout = original(id, amount) }
	}
	closed, approved, pending := refund.StatusClosed, refund.StatusApproved, refund.StatusPayoutPending
	steps := []struct {
		name string
		err  error
		code string
	}{
		{"more than what is left", apply(two, approved, pending, pay("two-1", 3551)), refund.ECONFLICT},
		{"the whole amount again", apply(two, approved, pending, pay("two-2", 9550)), refund.ECONFLICT},
		{"exactly what is left", apply(two, approved, pending, pay("two-3", 3550)), ""},
		{"nothing more", apply(one, closed, closed, pay("one-2", 1)), refund.ECONFLICT},
		{"the first case's payout fails", apply(one, closed, closed, func(ch *refund.Change) {
			ch.Settle = settle("one-1", false, "account closed")
		}), ""},
		{"both failures give their amounts back", apply(two, pending, pending, func(ch *refund.Change) {
			ch.Settle, ch.Payout = settle("two-3", false, "account closed"), original("two-4", 9550)
		}), ""},
		{"and nothing more is left", apply(one, closed, closed, pay("one-3", 1)), refund.ECONFLICT},
	}
	// The steps ran in order as the table was built; each is checked here.
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { wantCode(t, st.err, st.code) })
	}
}

func testOneLivePayout(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	pay := func(from refund.Status, id string, fn func(ch *refund.Change)) error {
		c := c
		c.Status = from
		ch := with(step(c, refund.StatusPayoutPending, day0), func(ch *refund.Change) { ch.Payout = original(id, 1000) })
		if fn != nil {
			ch = with(ch, fn)
		}
		_, err := s.Apply(t.Context(), ch)
		return err
	}
	steps := []struct {
		name string
		do   func() error
		code string
	}{
		{"first payout", func() error { return pay(refund.StatusApproved, "p1", nil) }, ""},
		{"second while the first is pending", func() error { return pay(refund.StatusPayoutPending, "p2", nil) }, refund.ECONFLICT},
		{"the first fails", func() error {
			_, err := s.Apply(t.Context(), with(step(refund.Case{ID: c.ID, Status: refund.StatusPayoutPending},
				refund.StatusPayoutFailed, day0.Add(time.Hour)), func(ch *refund.Change) {
				ch.Settle = settle("p1", false, "card expired")
			}))
			return err
		}, ""},
		{"a new payout cannot reuse the failed one's id", func() error { return pay(refund.StatusPayoutFailed, "p1", nil) }, refund.ECONFLICT},
		{"a new payout after the failure", func() error { return pay(refund.StatusPayoutFailed, "p2", nil) }, ""},
		{"another while it is pending", func() error { return pay(refund.StatusPayoutPending, "p3", nil) }, refund.ECONFLICT},
		{"failing and replacing in one change", func() error {
			return pay(refund.StatusPayoutPending, "p3", func(ch *refund.Change) { ch.Settle = settle("p2", false, "rejected") })
		}, ""},
		{"the replacement is confirmed", func() error {
			_, err := s.Apply(t.Context(), with(step(refund.Case{ID: c.ID, Status: refund.StatusPayoutPending},
				refund.StatusRefunded, day0.Add(2*time.Hour)), func(ch *refund.Change) {
				ch.Settle = settle("p3", true, "")
			}))
			return err
		}, ""},
		{"no payout after a confirmed one", func() error { return pay(refund.StatusRefunded, "p4", nil) }, refund.ECONFLICT},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { wantCode(t, st.do(), st.code) })
	}
	var got []string
	for _, p := range mustPayouts(t, s, c.ID) {
		got = append(got, p.ID+":"+string(p.Status))
	}
	if want := []string{"p1:failed", "p2:failed", "p3:confirmed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("payouts %v, want %v", got, want)
	}
}

// testConcurrentPayoutsOfOrder races payouts of two cases of one order,
// each of which alone fits the amount paid: the reservation, not the case
// lock, must keep the sum within it.
func testConcurrentPayoutsOfOrder(t *testing.T, s refund.LifecycleStore) {
	first := caseIn(t, s, "KM20261120001", refund.StatusClosed)
	second := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	cases := []refund.Case{first, second}
	errs := make([]error, 2)
	concurrently(2, func(i int) {
		_, errs[i] = s.Apply(t.Context(), with(step(cases[i], cases[i].Status, day0), func(ch *refund.Change) {
			ch.Payout = original(fmt.Sprintf("pay-%d", i), 6000)
		}))
	})
	wins := 0
	for i, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			wins++
		case refund.ECONFLICT:
		default:
			t.Errorf("payout %d: %v, want success or ECONFLICT", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d payouts of 60.00 on a 95.50 order succeeded, want 1", wins)
	}
}

func testSettle(t *testing.T, s refund.LifecycleStore) {
	at := day0.Add(26 * time.Hour)
	tests := []struct {
		name     string
		settle   refund.Settlement
		want     refund.PayoutStatus
		reserved refund.Money
	}{
		{"confirmed", refund.Settlement{OK: true}, refund.PayoutConfirmed, 9550},
		{"failed", refund.Settlement{Error: "收款账户已注销"}, refund.PayoutFailed, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orderID := fmt.Sprintf("KM-SETTLE-%d", i)
			payoutID := "pay-" + orderID
			c := caseIn(t, s, orderID, refund.StatusApproved)
			c = mustApply(t, s, with(step(c, refund.StatusPayoutPending, day0), func(ch *refund.Change) {
				ch.Payout = original(payoutID, 9550)
			}))
			st := tt.settle
			st.PayoutID = payoutID
			c = mustApply(t, s, with(step(c, refund.StatusRefunded, at), func(ch *refund.Change) { ch.Settle = &st }))
			p, err := s.Payout(t.Context(), payoutID)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.want || p.Error != st.Error || !p.SettledAt.Equal(at) {
				t.Errorf("payout %s, error %q, settled %v; want %s, %q, %v", p.Status, p.Error, p.SettledAt, tt.want, st.Error, at)
			}
			wantUTC(t, "SettledAt", p.SettledAt)

			// The next case of the order sees what stays reserved.
			next := mustCreate(t, s, sampleCase(orderID, "next-"+orderID))
			f, err := s.Facts(t.Context(), next, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if f.RefundedBefore != tt.reserved {
				t.Errorf("RefundedBefore = %s, want %s", f.RefundedBefore, tt.reserved)
			}
			_, err = s.Apply(t.Context(), with(step(next, refund.StatusPayoutPending, at), func(ch *refund.Change) {
				ch.Payout = original("over-"+orderID, 9550-tt.reserved+1)
			}))
			wantCode(t, err, refund.ECONFLICT)
			if left := 9550 - tt.reserved; left > 0 {
				mustApply(t, s, with(step(next, refund.StatusPayoutPending, at), func(ch *refund.Change) {
					ch.Payout = original("rest-"+orderID, left)
				}))
			}

			// An answer is final.
			for _, again := range []bool{true, false} {
				_, err = s.Apply(t.Context(), with(step(c, c.Status, at), func(ch *refund.Change) {
					ch.Settle = settle(payoutID, again, "")
				}))
				wantCode(t, err, refund.ECONFLICT)
			}
		})
	}
}

func testPayoutRoundTrip(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	at := time.Date(2026, 11, 21, 20, 0, 0, 999999999, shanghai())
	p := original("pay-1", 3000)
	p.Account = "alipay:138****8000"
	// Fields the case decides may be given, if they agree.
	p.CaseID, p.OrderID, p.BuyerUserID, p.Currency = c.ID, c.OrderID, c.BuyerUserID, "CNY"
	c = mustApply(t, s, with(step(c, refund.StatusPayoutPending, at), func(ch *refund.Change) { ch.Payout = p }))
	c = mustApply(t, s, with(step(c, refund.StatusPayoutFailed, at.Add(time.Hour)), func(ch *refund.Change) {
		ch.Settle = settle("pay-1", false, "declined")
	}))
	mustApply(t, s, with(step(c, refund.StatusRefunded, at.Add(2*time.Hour)), func(ch *refund.Change) {
		ch.Payout = balance("pay-2", 3000)
	}))
	want := []refund.Payout{
		{ID: "pay-1", CaseID: c.ID, OrderID: c.OrderID, BuyerUserID: buyer, Route: refund.RouteOriginal,
			Method: refund.PayAlipay, Amount: 3000, Currency: "CNY", Account: "alipay:138****8000",
			Status: refund.PayoutFailed, Error: "declined", CreatedAt: norm(at), SettledAt: norm(at.Add(time.Hour))},
		{ID: "pay-2", CaseID: c.ID, OrderID: c.OrderID, BuyerUserID: buyer, Route: refund.RouteBalance,
			Amount: 3000, Currency: "CNY", Status: refund.PayoutConfirmed,
			CreatedAt: norm(at.Add(2 * time.Hour)), SettledAt: norm(at.Add(2 * time.Hour))},
	}
	for _, w := range want {
		got, err := s.Payout(t.Context(), w.ID)
		if err != nil {
			t.Fatalf("Payout(%s): %v", w.ID, err)
		}
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "SettledAt", got.SettledAt)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("payout\n got %+v\nwant %+v", got, w)
		}
	}
	if got := mustPayouts(t, s, c.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("PayoutsByCase\n got %+v\nwant %+v", got, want)
	}
	_, err := s.Payout(t.Context(), "pay-9")
	wantCode(t, err, refund.ENOTFOUND)
	if got := mustPayouts(t, s, c.ID+1000); len(got) != 0 {
		t.Errorf("payouts of an unknown case: %+v", got)
	}
}

func testBalance(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	c = mustApply(t, s, with(step(c, refund.StatusRefunded, day0), func(ch *refund.Change) {
		ch.Payout, ch.Credit = balance("pay-1", 9550), 9550
	}))
	usdOrder := sampleOrder("KM20261120002")
	usdOrder.Currency = "USD"
	mustUpsert(t, s, usdOrder)
	usd := sampleCase("KM20261120002", "key-usd")
	usd.Currency = "USD"
	u := mustApply(t, s, step(mustCreate(t, s, usd), refund.StatusApproved, day0))
	mustApply(t, s, with(step(u, refund.StatusRefunded, day0), func(ch *refund.Change) {
		ch.Payout, ch.Credit = balance("pay-usd", 100), 100
	}))
	// A goodwill credit without a payout counts once per case.
	mustApply(t, s, with(step(c, refund.StatusRefunded, day0), func(ch *refund.Change) { ch.Credit = 50 }))
	_, err := s.Apply(t.Context(), with(step(c, refund.StatusRefunded, day0), func(ch *refund.Change) { ch.Credit = 50 }))
	wantCode(t, err, refund.ECONFLICT)

	tests := []struct {
		user     int64
		currency string
		want     refund.Money
	}{
		{buyer, "CNY", 9600},
		{buyer, "USD", 100},
		{buyer, "EUR", 0},
		{buyer + 1, "CNY", 0},
	}
	for _, tt := range tests {
		if got := mustBalance(t, s, tt.user, tt.currency); got != tt.want {
			t.Errorf("Balance(%d, %s) = %s, want %s", tt.user, tt.currency, got, tt.want)
		}
	}
}
