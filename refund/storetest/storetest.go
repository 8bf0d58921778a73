// Package storetest is the contract every refund.LifecycleStore
// implementation passes. An implementation's tests call Run with a function
// that opens a fresh, empty store; the same cases then hold the PostgreSQL
// store and the in-memory store to the same behaviour, so that the sandbox
// cannot drift from production.
//
// Each contract has its entry point and shared fixtures in one file and its
// cases in files named for their topic: Run here (orders, cases,
// submission, and the lifecycle's apply, payouts, lifecycle_reads, outbox),
// RunAgents in agents.go (staff, profile, escalation_open, _threads, _hold,
// _queue, _place, _words), RunEscalationService in escalation_service.go
// (and escalation_service_hold, _words), RunCaseList in case_list.go,
// RunStats in stats.go.
package storetest

import (
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
