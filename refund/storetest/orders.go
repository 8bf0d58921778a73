package storetest

import (
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

func testUpsertCreatedThenUpdated(t *testing.T, s refund.LifecycleStore) {
	o := sampleOrder("KM20261120001")
	for i, want := range []bool{true, false, false} {
		created, err := s.UpsertOrder(t.Context(), o)
		if err != nil {
			t.Fatalf("upsert %d: %v", i+1, err)
		}
		if created != want {
			t.Errorf("upsert %d: created = %v, want %v", i+1, created, want)
		}
	}
}

func testOrderRoundTrip(t *testing.T, s refund.LifecycleStore) {
	unbound := sampleOrder("KM20261120002")
	unbound.BuyerTelegramID = 0
	unbound.DeliveredAt = time.Time{}
	unbound.Used = false
	unbound.Category, unbound.PaymentMethod = refund.CategoryTopup, refund.PayWechat
	free := sampleOrder("km-free_3")
	free.AmountPaid, free.ListPrice = 0, 0
	free.PurchasedAt = free.PurchasedAt.UTC()
	unused := sampleOrder("KM20261120004")
	unused.Category, unused.Usage, unused.GiftValue, unused.GiftReturned = refund.CategoryMembership, refund.Usage{}, 0, false
	gift := sampleOrder("KM20261120005")
	gift.Category, gift.GiftValue, gift.GiftReturned = refund.CategoryService, 300, false
	gift.Usage = refund.Usage{ProgressPercent: 100}
	tests := []struct {
		name  string
		order refund.Order
	}{
		{"bound, delivered and used", sampleOrder("KM20261120001")},
		{"unbound and never delivered", unbound},
		{"free, lower-case ID, given in UTC", free},
		{"no partial use and no gift", unused},
		{"fully done service with a gift kept", gift},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustUpsert(t, s, tt.order)
			got, err := s.Order(t.Context(), tt.order.ID)
			if err != nil {
				t.Fatalf("Order(%s): %v", tt.order.ID, err)
			}
			wantOrder(t, got, tt.order)
		})
	}
}

func testUpsertReplaces(t *testing.T, s refund.LifecycleStore) {
	first := sampleOrder("KM20261120001")
	mustUpsert(t, s, first)
	before, err := s.Order(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	second := refund.Order{
		ID: first.ID, ContactPhone: "13900139000", Product: "腾讯视频 VIP 月卡", Category: refund.CategoryMembership,
		AmountPaid: 1990, ListPrice: 2500, Currency: "USD", PaymentMethod: refund.PayBankCard,
		PurchasedAt: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC),
	}
	created, err := s.UpsertOrder(t.Context(), second)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Errorf("created = true on replace, want false")
	}
	got, err := s.Order(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantOrder(t, got, second)
	if got.UpdatedAt.Before(before.UpdatedAt) {
		t.Errorf("UpdatedAt went back from %v to %v", before.UpdatedAt, got.UpdatedAt)
	}
}

func testTimePrecision(t *testing.T, s refund.LifecycleStore) {
	o := sampleOrder("KM20261120001")
	o.PurchasedAt = time.Date(2026, 11, 20, 14, 5, 0, 123456789, shanghai())
	o.DeliveredAt = o.PurchasedAt.Add(time.Nanosecond)
	mustUpsert(t, s, o)
	got, err := s.Order(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 20, 6, 5, 0, 123456000, time.UTC)
	if !got.PurchasedAt.Equal(want) || !got.DeliveredAt.Equal(want) {
		t.Errorf("PurchasedAt, DeliveredAt = %v, %v; want %v for both", got.PurchasedAt, got.DeliveredAt, want)
	}
	wantUTC(t, "PurchasedAt", got.PurchasedAt)
}

func testInvalidOrder(t *testing.T, s refund.LifecycleStore) {
	tests := []struct {
		field  string
		change func(o *refund.Order)
	}{
		{"id", func(o *refund.Order) { o.ID = "KM 1" }},
		{"buyer_telegram_id", func(o *refund.Order) { o.BuyerTelegramID = -1 }},
		{"contact_phone", func(o *refund.Order) { o.ContactPhone = "12-3" }},
		{"product", func(o *refund.Order) { o.Product = " " }},
		{"category", func(o *refund.Order) { o.Category = "gift" }},
		{"amount_paid", func(o *refund.Order) { o.AmountPaid = -1 }},
		{"list_price", func(o *refund.Order) { o.ListPrice = -1 }},
		{"currency", func(o *refund.Order) { o.Currency = "cny" }},
		{"payment_method", func(o *refund.Order) { o.PaymentMethod = "paypal" }},
		{"purchased_at", func(o *refund.Order) { o.PurchasedAt = time.Time{} }},
		{"delivered_at", func(o *refund.Order) { o.DeliveredAt = o.PurchasedAt.Add(-time.Minute) }},
		{"term_days", func(o *refund.Order) { o.Usage.TermDays = refund.MaxTermDays + 1 }},
		{"activated_at", func(o *refund.Order) { o.Usage.ActivatedAt = o.PurchasedAt.Add(-time.Minute) }},
		{"consumed_value", func(o *refund.Order) { o.Usage.ConsumedValue = -1 }},
		{"progress_percent", func(o *refund.Order) { o.Usage.ProgressPercent = 101 }},
		{"gift_value", func(o *refund.Order) { o.GiftValue = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			o := sampleOrder("KM-BAD-" + tt.field)
			tt.change(&o)
			_, err := s.UpsertOrder(t.Context(), o)
			wantField(t, err, tt.field)
			if refund.ValidOrderID(o.ID) {
				_, err := s.Order(t.Context(), o.ID)
				wantCode(t, err, refund.ENOTFOUND)
			}
		})
	}
}

func testUnknownOrder(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	_, err := s.Order(t.Context(), "KM20261120009")
	wantCode(t, err, refund.ENOTFOUND)
}
