package httpapi_test

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

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
	"list_price", "currency", "payment_method", "purchased_at", "delivered_at", "used"}

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
