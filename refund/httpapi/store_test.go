package httpapi_test

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// fakeOrders is a map-based refund.OrderStore. The real stores are tested
// in their own packages; this one only has to record what was upserted.
type fakeOrders struct {
	mu     sync.Mutex
	orders map[string]refund.Order
	// fail, when set, is returned by UpsertOrder for the order with this ID.
	failID  string
	failErr error
	upserts int
}

func newFakeOrders() *fakeOrders { return &fakeOrders{orders: make(map[string]refund.Order)} }

func (f *fakeOrders) UpsertOrder(ctx context.Context, o refund.Order) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil && (f.failID == "" || f.failID == o.ID) {
		return false, f.failErr
	}
	f.upserts++
	_, known := f.orders[o.ID]
	f.orders[o.ID] = o
	return !known, nil
}

func (f *fakeOrders) Order(ctx context.Context, id string) (refund.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[id]
	if !ok {
		return refund.Order{}, refund.Errorf(refund.ENOTFOUND, "order %s not found", id)
	}
	return o, nil
}

// fakeSettler is a map-based PayoutSettler with the answers refund.Service
// gives: repeating an answer returns the payout unchanged, contradicting
// it is a conflict.
type fakeSettler struct {
	mu      sync.Mutex
	payouts map[string]refund.Payout
	calls   []refund.Settlement
	// failErr, when set, is returned by every call.
	failErr error
	at      time.Time
}

func newFakeSettler(payouts ...refund.Payout) *fakeSettler {
	f := &fakeSettler{payouts: make(map[string]refund.Payout), at: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)}
	for _, p := range payouts {
		f.payouts[p.ID] = p
	}
	return f
}

func (f *fakeSettler) SettlePayout(ctx context.Context, st refund.Settlement) (refund.Payout, error) {
	if err := ctx.Err(); err != nil {
		return refund.Payout{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, st)
	if f.failErr != nil {
		return refund.Payout{}, f.failErr
	}
	p, ok := f.payouts[st.PayoutID]
	if !ok {
		return refund.Payout{}, refund.Errorf(refund.ENOTFOUND, "payout %s not found", st.PayoutID)
	}
	want := refund.PayoutConfirmed
	if !st.OK {
		want = refund.PayoutFailed
	}
	switch p.Status {
	case want:
		return p, nil
	case refund.PayoutPending:
		p.Status, p.Error, p.SettledAt = want, st.Error, f.at
		f.payouts[p.ID] = p
		return p, nil
	}
	return refund.Payout{}, refund.Errorf(refund.ECONFLICT, "payout %s is already %s", p.ID, p.Status)
}

func (f *fakeSettler) settlements() []refund.Settlement {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeOrders) snapshot() map[string]refund.Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.orders)
}

// sampleMembers is the example order of the format, member by member, as
// raw JSON values.
func sampleMembers() map[string]string {
	return map[string]string{
		"id":                `"KM20261120001"`,
		"buyer_telegram_id": `1001`,
		"contact_phone":     `"13800138000"`,
		"product":           `"王者荣耀点卡 100元"`,
		"category":          `"game_card"`,
		"amount_paid":       `"95.00"`,
		"list_price":        `"100.00"`,
		"currency":          `"CNY"`,
		"payment_method":    `"alipay"`,
		"purchased_at":      `"2026-11-20T14:05:00+08:00"`,
		"delivered_at":      `"2026-11-20T14:05:10+08:00"`,
		"used":              `false`,
	}
}

var memberOrder = []string{"id", "buyer_telegram_id", "contact_phone", "product", "category", "amount_paid",
	"list_price", "currency", "payment_method", "purchased_at", "delivered_at", "used",
	"term_days", "activated_at", "consumed_value", "progress_percent", "gift_value", "gift_returned"}

// orderJSON renders the sample order after edit has changed its members
// (a deleted key is an absent member). Known members keep the format's
// order; extra ones follow, sorted, so that output is deterministic.
func orderJSON(edit func(m map[string]string)) string {
	m := sampleMembers()
	if edit != nil {
		edit(m)
	}
	var keys []string
	for _, k := range memberOrder {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
		}
	}
	var extra []string
	for k := range m {
		if !slices.Contains(memberOrder, k) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range append(keys, extra...) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(k) + ":" + m[k])
	}
	b.WriteByte('}')
	return b.String()
}
