// Package storetest is the contract every refund.LifecycleStore
// implementation passes. An implementation's tests call Run with a function
// that opens a fresh, empty store; the same cases then hold the PostgreSQL
// store and the in-memory store to the same behaviour, so that the sandbox
// cannot drift from production.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Run runs the contract against stores made by open, one fresh store per
// subtest. open must register any cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) refund.LifecycleStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s refund.LifecycleStore)
	}{
		{"UpsertOrder reports created then updated", testUpsertCreatedThenUpdated},
		{"Order round-trips every field", testOrderRoundTrip},
		{"UpsertOrder replaces every field", testUpsertReplaces},
		{"times come back in UTC at microsecond precision", testTimePrecision},
		{"invalid order is EINVALID naming the field", testInvalidOrder},
		{"unknown order is ENOTFOUND", testUnknownOrder},
		{"CreateCase round-trips the case, its evidence and its first event", testCreateCaseRoundTrip},
		{"CreateCase without evidence", testCreateCaseWithoutEvidence},
		{"CreateCase keeps the first deadline", testCreateCaseDue},
		{"invalid case is EINVALID naming the field", testInvalidCase},
		{"CreateCase for an unknown order is ENOTFOUND", testCaseForUnknownOrder},
		{"same submission key returns the first case", testIdempotentSubmission},
		{"submission key of another buyer or order is ECONFLICT", testSubmissionKeyReused},
		{"concurrent submissions with one key create one case", testConcurrentSameKey},
		{"second open case for an order is ECONFLICT", testSecondOpenCase},
		{"concurrent submissions with different keys: exactly one wins", testConcurrentDifferentKeys},
		{"only refunded and closed cases free the order", testOpenStatuses},
		{"CasesByOrder is newest first", testCasesNewestFirst},
		{"CasesByOrder of an order without cases is empty", testNoCases},
		{"Events are oldest first", testEventsOldestFirst},
		{"reopening a case while another is open is ECONFLICT", testReopen},
		{"Case and Events of an unknown case are ENOTFOUND", testUnknownCase},
		{"case numbers start at R-000001", testCaseNumbers},
		{"callers cannot change stored data", testNoAliasing},
		{"a cancelled context fails the call", testCancelledContext},
		{"UpsertOrder cannot pay an order less than was refunded", testUpsertBelowRefunded},

		{"Apply records the change and returns the case as stored", testApplyRoundTrip},
		{"Apply keeps what a change does not set", testApplyOptionalFields},
		{"Apply refuses bad changes and changes nothing", testApplyInvalid},
		{"Apply from a stale status is ECONFLICT and changes nothing", testApplyStale},
		{"Apply that would reopen a second case is ECONFLICT", testApplyReopen},
		{"Apply is all-or-nothing when its payout is refused", testApplyAllOrNothing},
		{"payouts beyond the amount paid are refused", testPayoutsWithinAmountPaid},
		{"one live payout per case, a new one after a failure", testOneLivePayout},
		{"concurrent approvals of one case: exactly one wins", testConcurrentApproval},
		{"concurrent payouts of one order never exceed the amount paid", testConcurrentPayoutsOfOrder},
		{"settling confirms, or fails and releases the reservation", testSettle},
		{"Payout and PayoutsByCase round-trip every field", testPayoutRoundTrip},
		{"Balance sums the ledger per user and currency", testBalance},
		{"CaseWithOrder reads what Case and Order read", testCaseWithOrder},
		{"CaseForReview reads what CaseWithOrder and Facts read", testCaseForReview},
		{"Facts count other cases' payouts, refunds and files", testFacts},
		{"DueCases lists open cases due by now, earliest first", testDueCases},
		{"outbox items are leased, completed and retried", testOutboxLifecycle},
		{"outbox keeps the first message of a key", testOutboxDuplicateKey},
		{"concurrent claimers never get the same outbox item", testConcurrentClaims},
		{"callers cannot change stored lifecycle data", testLifecycleNoAliasing},
		{"a cancelled context fails Apply", testApplyCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// shanghai is a non-UTC zone for inputs, so that a store that forgets to
// convert to UTC fails. A fixed zone needs no tzdata on the test machine.
func shanghai() *time.Location { return time.FixedZone("CST", 8*60*60) }

// sampleOrder is a complete order with every optional field set, times in
// microseconds (what PostgreSQL keeps) and a Telegram ID above 2^31.
func sampleOrder(id string) refund.Order {
	purchased := time.Date(2026, 11, 20, 14, 5, 0, 123456000, shanghai())
	return refund.Order{
		Usage: refund.Usage{TermDays: 30, ActivatedAt: purchased.Add(time.Minute + 7*time.Microsecond),
			ConsumedValue: 1234, ProgressPercent: 40},
		GiftValue:       500,
		GiftReturned:    true,
		ID:              id,
		BuyerTelegramID: 7_000_000_001,
		ContactPhone:    "+86 138-0013-8000",
		Product:         "王者荣耀点卡 100元",
		Category:        refund.CategoryGameCard,
		AmountPaid:      9550,
		ListPrice:       10000,
		Currency:        "CNY",
		PaymentMethod:   refund.PayAlipay,
		PurchasedAt:     purchased,
		DeliveredAt:     purchased.Add(10*time.Second + 654321*time.Microsecond),
		Used:            true,
	}
}

const buyer = 7_000_000_001

// sampleCase is a new case with three files whose unique IDs are not in
// alphabetical order, so that a store sorting by anything but upload order
// is caught.
func sampleCase(orderID, key string) refund.NewCase {
	return refund.NewCase{
		OrderID:         orderID,
		BuyerUserID:     buyer,
		ChatID:          buyer,
		Reason:          refund.ReasonInvalidCode,
		Statement:       "卡密提示已被使用 / the code says it was already used",
		RequestedAmount: 9550,
		Currency:        "CNY",
		Language:        "zh-CN",
		SubmissionKey:   key,
		Evidence: []refund.Evidence{
			{Kind: refund.EvidencePhoto, FileID: "AgAC-photo-1", FileUniqueID: "Z-unique-1", Size: 52_000,
				MIMEType: "image/jpeg", Caption: "充值页面"},
			{Kind: refund.EvidenceDocument, FileID: "BQAC-doc-2", FileUniqueID: "A-unique-2", Size: 1_200_000,
				MIMEType: "application/pdf", FileName: "receipt.pdf"},
			{Kind: refund.EvidencePhoto, FileID: "AgAC-photo-3", FileUniqueID: "M-unique-3", Size: 48_000,
				MIMEType: "image/jpeg"},
		},
	}
}

func mustUpsert(t *testing.T, s refund.Store, o refund.Order) {
	t.Helper()
	if _, err := s.UpsertOrder(t.Context(), o); err != nil {
		t.Fatalf("UpsertOrder(%s): %v", o.ID, err)
	}
}

// orderWithCase stores an order and submits a sample case for it.
func orderWithCase(t *testing.T, s refund.Store, orderID, key string) refund.Case {
	t.Helper()
	mustUpsert(t, s, sampleOrder(orderID))
	return mustCreate(t, s, sampleCase(orderID, key))
}

func mustCreate(t *testing.T, s refund.Store, n refund.NewCase) refund.Case {
	t.Helper()
	c, err := s.CreateCase(t.Context(), n)
	if err != nil {
		t.Fatalf("CreateCase(order %s, key %s): %v", n.OrderID, n.SubmissionKey, err)
	}
	return c
}

// statusChange is the smallest Change: one status_changed event.
func statusChange(caseID int64, from, to refund.Status, actor, note string) refund.Change {
	return refund.Change{CaseID: caseID, From: from, To: to, Actor: actor, At: time.Now(),
		Events: []refund.EventDraft{{Type: refund.EventStatusChanged, Status: to, Note: note}}}
}

func mustChange(t *testing.T, s refund.LifecycleStore, caseID int64, from, to refund.Status) {
	t.Helper()
	if _, err := s.Apply(t.Context(), statusChange(caseID, from, to, refund.ActorSystem, "")); err != nil {
		t.Fatalf("Apply(%s, %s -> %s): %v", refund.FormatCaseNumber(caseID), from, to, err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := refund.ErrorCode(err); got != code {
		t.Fatalf("error code %q (error: %v), want %q", got, err, code)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	wantCode(t, err, refund.EINVALID)
	if got := refund.ErrorField(err); got != field {
		t.Fatalf("error field %q (error: %v), want %q", got, err, field)
	}
}

// wantUTC checks that a store returned a time in UTC: callers format times
// in the shop's zone and must not find some other zone already applied.
func wantUTC(t *testing.T, name string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", name, tm.Location())
	}
}

// wantOrder compares an order read back with the one written. UpdatedAt is
// the store's and only has to be set.
func wantOrder(t *testing.T, got, want refund.Order) {
	t.Helper()
	wantUTC(t, "PurchasedAt", got.PurchasedAt)
	wantUTC(t, "UpdatedAt", got.UpdatedAt)
	if !want.DeliveredAt.IsZero() {
		wantUTC(t, "DeliveredAt", got.DeliveredAt)
	}
	if got.UpdatedAt.IsZero() {
		t.Errorf("UpdatedAt is zero, want the time of the upsert")
	}
	if !want.Usage.ActivatedAt.IsZero() {
		wantUTC(t, "Usage.ActivatedAt", got.Usage.ActivatedAt)
	}
	if !got.PurchasedAt.Equal(want.PurchasedAt) || !got.DeliveredAt.Equal(want.DeliveredAt) {
		t.Errorf("PurchasedAt, DeliveredAt = %v, %v; want %v, %v", got.PurchasedAt, got.DeliveredAt, want.PurchasedAt, want.DeliveredAt)
	}
	if !got.Usage.ActivatedAt.Equal(want.Usage.ActivatedAt) {
		t.Errorf("Usage.ActivatedAt = %v, want %v", got.Usage.ActivatedAt, want.Usage.ActivatedAt)
	}
	got.PurchasedAt, got.DeliveredAt, got.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	want.PurchasedAt, want.DeliveredAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	got.Usage.ActivatedAt, want.Usage.ActivatedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("order\n got %+v\nwant %+v", got, want)
	}
}

// wantCase compares a case read back with what was submitted.
func wantCase(t *testing.T, got refund.Case, n refund.NewCase) {
	t.Helper()
	wantUTC(t, "CreatedAt", got.CreatedAt)
	wantUTC(t, "UpdatedAt", got.UpdatedAt)
	if got.CreatedAt.IsZero() || got.UpdatedAt.Before(got.CreatedAt) {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want set, in that order", got.CreatedAt, got.UpdatedAt)
	}
	want := refund.Case{
		ID: got.ID, OrderID: n.OrderID, BuyerUserID: n.BuyerUserID, ChatID: n.ChatID, Reason: n.Reason,
		Statement: n.Statement, RequestedAmount: n.RequestedAmount, Currency: n.Currency, Status: got.Status, Language: n.Language,
		SubmissionKey: n.SubmissionKey, Evidence: n.Evidence, CreatedAt: got.CreatedAt, UpdatedAt: got.UpdatedAt,
	}
	if len(want.Evidence) == 0 {
		want.Evidence = nil
	}
	if len(got.Evidence) == 0 {
		got.Evidence = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("case\n got %+v\nwant %+v", got, want)
	}
}

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

func testCreateCaseRoundTrip(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	created := mustCreate(t, s, n)
	if created.ID <= 0 {
		t.Fatalf("ID = %d, want > 0", created.ID)
	}
	if created.Status != refund.StatusSubmitted {
		t.Errorf("Status = %q, want %q", created.Status, refund.StatusSubmitted)
	}
	wantCase(t, created, n)
	got, err := s.Case(t.Context(), created.ID)
	if err != nil {
		t.Fatalf("Case(%d): %v", created.ID, err)
	}
	if !reflect.DeepEqual(got, created) {
		t.Errorf("Case() differs from CreateCase()\n got %+v\nwant %+v", got, created)
	}
	events, err := s.Events(t.Context(), created.ID)
	if err != nil {
		t.Fatalf("Events(%d): %v", created.ID, err)
	}
	want := []refund.Event{{CaseID: created.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: created.CreatedAt}}
	if len(events) == 1 {
		wantUTC(t, "Event.At", events[0].At)
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events\n got %+v\nwant %+v", events, want)
	}
}

func testCreateCaseWithoutEvidence(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	n.Reason, n.Evidence, n.ChatID, n.Language = refund.ReasonDuplicateCharge, nil, 0, ""
	c := mustCreate(t, s, n)
	wantCase(t, c, n)
	got, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCase(t, got, n)
}

func testCreateCaseDue(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	at := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
	n.Due = refund.Due{Kind: refund.DueFirstReview, At: at}
	c := mustCreate(t, s, n)
	if c.Due.Kind != refund.DueFirstReview || !c.Due.At.Equal(at) {
		t.Fatalf("created case due %+v, want first_review at %v", c.Due, at)
	}
	if due, err := s.DueCases(t.Context(), at.Add(-time.Second), 10); err != nil || len(due) != 0 {
		t.Fatalf("due before its time: %d cases, %v", len(due), err)
	}
	due, err := s.DueCases(t.Context(), at, 10)
	if err != nil || len(due) != 1 || due[0].ID != c.ID {
		t.Fatalf("DueCases at the deadline = %+v, %v", due, err)
	}
}

func testInvalidCase(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	tests := []struct {
		field  string
		change func(n *refund.NewCase)
	}{
		{"order_id", func(n *refund.NewCase) { n.OrderID = "" }},
		{"buyer_user_id", func(n *refund.NewCase) { n.BuyerUserID = 0 }},
		{"reason", func(n *refund.NewCase) { n.Reason = "" }},
		{"statement", func(n *refund.NewCase) { n.Statement = "  " }},
		{"requested_amount", func(n *refund.NewCase) { n.RequestedAmount = -1 }},
		{"currency", func(n *refund.NewCase) { n.Currency = "" }},
		{"currency", func(n *refund.NewCase) { n.Currency = "YUAN" }},
		{"submission_key", func(n *refund.NewCase) { n.SubmissionKey = "" }},
		{"evidence", func(n *refund.NewCase) { n.Evidence[1].FileUniqueID = "" }},
		{"evidence", func(n *refund.NewCase) { n.Evidence[0].Kind = "video" }},
		{"due", func(n *refund.NewCase) { n.Due = refund.Due{Kind: refund.DueFirstReview} }},
		{"due", func(n *refund.NewCase) { n.Due = refund.Due{At: time.Now()} }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			n := sampleCase("KM20261120001", "key-"+tt.field)
			tt.change(&n)
			_, err := s.CreateCase(t.Context(), n)
			wantField(t, err, tt.field)
		})
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 0 {
		t.Errorf("invalid submissions stored %d cases", len(cases))
	}
}

func testCaseForUnknownOrder(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	_, err := s.CreateCase(t.Context(), sampleCase("KM20261120009", "key-1"))
	wantCode(t, err, refund.ENOTFOUND)
}

func testIdempotentSubmission(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	retry := sampleCase("KM20261120001", "key-1")
	retry.Statement, retry.Evidence = "a different text sent on retry", nil
	again := mustCreate(t, s, retry)
	if !reflect.DeepEqual(again, first) {
		t.Errorf("retry returned\n %+v\nwant the first case\n %+v", again, first)
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.Events(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || len(events) != 1 {
		t.Errorf("after a retry: %d cases, %d events; want 1 and 1", len(cases), len(events))
	}
}

func testSubmissionKeyReused(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	mustUpsert(t, s, sampleOrder("KM20261120002"))
	tests := []struct {
		name   string
		change func(n *refund.NewCase)
	}{
		{"another buyer", func(n *refund.NewCase) { n.BuyerUserID++ }},
		{"another order", func(n *refund.NewCase) { n.OrderID = "KM20261120002" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := sampleCase("KM20261120001", first.SubmissionKey)
			tt.change(&n)
			c, err := s.CreateCase(t.Context(), n)
			wantCode(t, err, refund.ECONFLICT)
			if c.ID != 0 {
				t.Errorf("returned case %s to a caller who did not submit it", c.Number())
			}
		})
	}
}

// concurrently runs fn n times at once, releasing all goroutines together
// so that they really race.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func testConcurrentSameKey(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	const n = 10
	ids := make([]int64, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		c, err := s.CreateCase(t.Context(), sampleCase("KM20261120001", "key-1"))
		ids[i], errs[i] = c.ID, err
	})
	for i := range n {
		if errs[i] != nil {
			t.Errorf("submission %d: %v", i, errs[i])
		} else if ids[i] != ids[0] {
			t.Errorf("submission %d got case %d, submission 0 got %d", i, ids[i], ids[0])
		}
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 {
		t.Errorf("%d cases stored, want 1", len(cases))
	}
}

func testSecondOpenCase(t *testing.T, s refund.LifecycleStore) {
	orderWithCase(t, s, "KM20261120001", "key-1")
	_, err := s.CreateCase(t.Context(), sampleCase("KM20261120001", "key-2"))
	wantCode(t, err, refund.ECONFLICT)
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 {
		t.Errorf("%d cases stored, want 1", len(cases))
	}
}

func testConcurrentDifferentKeys(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	const n = 10
	errs := make([]error, n)
	concurrently(n, func(i int) {
		_, errs[i] = s.CreateCase(t.Context(), sampleCase("KM20261120001", fmt.Sprintf("key-%d", i)))
	})
	wins := 0
	for i, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			wins++
		case refund.ECONFLICT:
		default:
			t.Errorf("submission %d: %v, want success or ECONFLICT", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d submissions succeeded, want exactly 1", wins)
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 {
		t.Errorf("%d cases stored, want 1", len(cases))
	}
}

// testOpenStatuses walks every status, so that a status added to the
// domain without updating a store's idea of "open" is caught.
func testOpenStatuses(t *testing.T, s refund.LifecycleStore) {
	for _, status := range refund.Statuses() {
		t.Run(string(status), func(t *testing.T) {
			orderID := "KM-" + string(status)
			c := orderWithCase(t, s, orderID, "first-"+string(status))
			if status != refund.StatusSubmitted {
				mustChange(t, s, c.ID, refund.StatusSubmitted, status)
			}
			_, err := s.CreateCase(t.Context(), sampleCase(orderID, "second-"+string(status)))
			if status.Open() {
				wantCode(t, err, refund.ECONFLICT)
			} else if err != nil {
				t.Errorf("new case next to a %s one: %v", status, err)
			}
		})
	}
}

func testCasesNewestFirst(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	mustChange(t, s, first.ID, refund.StatusSubmitted, refund.StatusClosed)
	second := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	mustChange(t, s, second.ID, refund.StatusSubmitted, refund.StatusRefunded)
	third := mustCreate(t, s, sampleCase("KM20261120001", "key-3"))
	orderWithCase(t, s, "KM20261120002", "other-order")

	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for i, c := range cases {
		got = append(got, c.ID)
		if len(c.Evidence) != 3 {
			t.Errorf("case %s has %d files, want 3", c.Number(), len(c.Evidence))
		}
		if i > 0 && c.CreatedAt.After(cases[i-1].CreatedAt) {
			t.Errorf("case %s created after %s but listed later", c.Number(), cases[i-1].Number())
		}
	}
	want := []int64{third.ID, second.ID, first.ID}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("case IDs %v, want %v", got, want)
	}
	if len(cases) == 3 && (cases[1].Status != refund.StatusRefunded || cases[2].Status != refund.StatusClosed) {
		t.Errorf("statuses %s, %s; want the ones set", cases[1].Status, cases[2].Status)
	}
}

func testNoCases(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	for _, id := range []string{"KM20261120001", "KM20261120009"} {
		cases, err := s.CasesByOrder(t.Context(), id)
		if err != nil {
			t.Errorf("CasesByOrder(%s): %v", id, err)
		}
		if len(cases) != 0 {
			t.Errorf("CasesByOrder(%s) = %d cases, want none", id, len(cases))
		}
	}
}

func testEventsOldestFirst(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	steps := []struct {
		to    refund.Status
		actor string
		note  string
	}{
		{refund.StatusAutoReview, refund.ActorSystem, ""},
		{refund.StatusHumanReview, refund.ActorSystem, "amount above auto-approval limit"},
		{refund.StatusApproved, "agent:42", "code confirmed used before delivery"},
	}
	want := []refund.Event{{CaseID: c.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: c.CreatedAt}}
	from := refund.StatusSubmitted
	for _, st := range steps {
		ch := statusChange(c.ID, from, st.to, st.actor, st.note)
		got, err := s.Apply(t.Context(), ch)
		if err != nil {
			t.Fatalf("Apply(%s -> %s): %v", from, st.to, err)
		}
		wantUTC(t, "Case.UpdatedAt", got.UpdatedAt)
		want = append(want, refund.Event{CaseID: c.ID, Seq: len(want) + 1, Type: refund.EventStatusChanged,
			Actor: st.actor, Status: st.to, Note: st.note, At: ch.At.UTC().Truncate(time.Microsecond)})
		from = st.to
	}
	events, err := s.Events(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events\n got %+v\nwant %+v", events, want)
	}
	got, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := want[len(want)-1]; got.Status != last.Status || !got.UpdatedAt.Equal(last.At) {
		t.Errorf("case status %s updated %v; want %s at %v", got.Status, got.UpdatedAt, last.Status, last.At)
	}
}

func testReopen(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	mustChange(t, s, first.ID, refund.StatusSubmitted, refund.StatusClosed)
	second := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	_, err := s.Apply(t.Context(), statusChange(first.ID, refund.StatusClosed, refund.StatusAppealed, refund.ActorBuyer, ""))
	wantCode(t, err, refund.ECONFLICT)
	mustChange(t, s, second.ID, refund.StatusSubmitted, refund.StatusRefunded)
	mustChange(t, s, first.ID, refund.StatusClosed, refund.StatusAppealed)
}

func testUnknownCase(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	_, err := s.Case(t.Context(), c.ID+1)
	wantCode(t, err, refund.ENOTFOUND)
	_, err = s.Events(t.Context(), c.ID+1)
	wantCode(t, err, refund.ENOTFOUND)
}

func testCaseNumbers(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	second := orderWithCase(t, s, "KM20261120002", "key-2")
	for _, tt := range []struct {
		c    refund.Case
		want string
	}{{first, "R-000001"}, {second, "R-000002"}} {
		if got := tt.c.Number(); got != tt.want {
			t.Errorf("case number %s, want %s", got, tt.want)
		}
		if id, ok := refund.ParseCaseNumber(tt.want); !ok || id != tt.c.ID {
			t.Errorf("ParseCaseNumber(%s) = %d, %v; want %d", tt.want, id, ok, tt.c.ID)
		}
	}
}

// testNoAliasing matters for the in-memory store, which could otherwise
// hand out its own slices.
func testNoAliasing(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	c := mustCreate(t, s, n)
	n.Evidence[0].FileID = "changed by the submitter"
	c.Evidence[1].FileID = "changed by the caller"
	loaded, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Evidence[2].FileID = "changed by a reader"
	byOrder, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	byOrder[0].Evidence[0].FileID = "changed by a lister"
	events, err := s.Events(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	events[0].Note = "changed by a reader"

	got, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCase(t, got, sampleCase("KM20261120001", "key-1"))
	events, err = s.Events(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if events[0].Note != "" {
		t.Errorf("stored event changed through a returned slice: note %q", events[0].Note)
	}
}

func testCancelledContext(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Order(ctx, "KM20261120001"); !errors.Is(err, context.Canceled) {
		t.Errorf("Order with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.CreateCase(ctx, sampleCase("KM20261120001", "key-1")); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateCase with a cancelled context: %v, want context.Canceled", err)
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 0 {
		t.Errorf("a cancelled CreateCase stored %d cases", len(cases))
	}
}
