package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// day0 is the refund core's clock in these tests. Changes carry their own
// time, so deadlines, leases and "since" are exact, whatever the wall
// clock says.
var day0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

// norm is what a store keeps of a time: UTC, microseconds.
func norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// step is the smallest change: a status move with its one event.
func step(c refund.Case, to refund.Status, at time.Time) refund.Change {
	return refund.Change{
		CaseID: c.ID, From: c.Status, To: to, Actor: refund.ActorSystem, At: at,
		Events: []refund.EventDraft{{Type: refund.EventStatusChanged, Status: to}},
	}
}

// with returns ch changed by fn, so that a table can start from step.
func with(ch refund.Change, fn func(ch *refund.Change)) refund.Change {
	fn(&ch)
	return ch
}

func mustApply(t *testing.T, s refund.LifecycleStore, ch refund.Change) refund.Case {
	t.Helper()
	c, err := s.Apply(t.Context(), ch)
	if err != nil {
		t.Fatalf("Apply(%s, %s -> %s): %v", refund.FormatCaseNumber(ch.CaseID), ch.From, ch.To, err)
	}
	return c
}

func mustCase(t *testing.T, s refund.Store, id int64) refund.Case {
	t.Helper()
	c, err := s.Case(t.Context(), id)
	if err != nil {
		t.Fatalf("Case(%s): %v", refund.FormatCaseNumber(id), err)
	}
	return c
}

func mustEvents(t *testing.T, s refund.Store, id int64) []refund.Event {
	t.Helper()
	events, err := s.Events(t.Context(), id)
	if err != nil {
		t.Fatalf("Events(%s): %v", refund.FormatCaseNumber(id), err)
	}
	return events
}

func mustPayouts(t *testing.T, s refund.LifecycleStore, caseID int64) []refund.Payout {
	t.Helper()
	ps, err := s.PayoutsByCase(t.Context(), caseID)
	if err != nil {
		t.Fatalf("PayoutsByCase(%s): %v", refund.FormatCaseNumber(caseID), err)
	}
	return ps
}

func mustBalance(t *testing.T, s refund.LifecycleStore, userID int64, currency string) refund.Money {
	t.Helper()
	b, err := s.Balance(t.Context(), userID, currency)
	if err != nil {
		t.Fatalf("Balance(%d, %s): %v", userID, currency, err)
	}
	return b
}

func mustClaim(t *testing.T, s refund.LifecycleStore, kind refund.OutboxKind, now time.Time, limit int) []refund.OutboxItem {
	t.Helper()
	items, err := s.ClaimOutbox(t.Context(), kind, now, time.Minute, limit)
	if err != nil {
		t.Fatalf("ClaimOutbox(%s, %v): %v", kind, now, err)
	}
	return items
}

func keys(items []refund.OutboxItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

// caseIn stores an order and a sample case for it, moved to status at
// day0.
func caseIn(t *testing.T, s refund.LifecycleStore, orderID string, status refund.Status) refund.Case {
	t.Helper()
	c := orderWithCase(t, s, orderID, "key-"+orderID)
	if status == refund.StatusSubmitted {
		return c
	}
	return mustApply(t, s, step(c, status, day0))
}

// original is a payout back the way the buyer paid, left pending until
// the shop answers.
func original(id string, amount refund.Money) *refund.Payout {
	return &refund.Payout{ID: id, Route: refund.RouteOriginal, Method: refund.PayAlipay, Amount: amount}
}

// balance is a payout to the platform balance, final at once.
func balance(id string, amount refund.Money) *refund.Payout {
	return &refund.Payout{ID: id, Route: refund.RouteBalance, Amount: amount, Status: refund.PayoutConfirmed}
}

func settle(id string, ok bool, reason string) *refund.Settlement {
	return &refund.Settlement{PayoutID: id, OK: ok, Error: reason}
}

func testLifecycleNoAliasing(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusAutoReview)
	ch := with(step(c, refund.StatusNeedsInfo, day0), func(ch *refund.Change) {
		ch.Events[0].Rules = []refund.Rule{refund.RuleEvidenceMissing, refund.RuleRiskRedeemed}
		ch.Evidence = files("new-1")
		ch.Decided = &refund.Amounts{Refund: 100}
		ch.Due = &refund.Due{Kind: refund.DueReminder, At: day0.Add(time.Hour)}
		ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice, Key: "k", Payload: []byte("payload")}}
	})
	applied := mustApply(t, s, ch)
	want := mustCase(t, s, c.ID)
	wantEvents := mustEvents(t, s, c.ID)

	ch.Events[0].Rules[0] = "changed by the caller"
	ch.Evidence[0].FileID = "changed by the caller"
	ch.Decided.Refund, ch.Due.At = 1, time.Time{}
	ch.Outbox[0].Payload[0] = 'X'
	applied.Evidence[0].FileID = "changed by a reader"
	events := mustEvents(t, s, c.ID)
	events[len(events)-1].Rules[1] = "changed by a reader"
	dueCases, err := s.DueCases(t.Context(), day0.Add(time.Hour), 10)
	if err != nil || len(dueCases) != 1 {
		t.Fatalf("DueCases: %d cases, %v", len(dueCases), err)
	}
	dueCases[0].Evidence[3].FileID = "changed by a reader"
	items := mustClaim(t, s, refund.OutboxNotice, day0, 10)
	if len(items) != 1 {
		t.Fatalf("claimed %d items, want 1", len(items))
	}
	items[0].Payload[1] = 'Y'

	if got := mustCase(t, s, c.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("stored case changed through a slice\n got %+v\nwant %+v", got, want)
	}
	if got := mustEvents(t, s, c.ID); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("stored events changed through a slice\n got %+v\nwant %+v", got, wantEvents)
	}
	items = mustClaim(t, s, refund.OutboxNotice, day0.Add(time.Hour), 10)
	if len(items) != 1 || string(items[0].Payload) != "payload" {
		t.Errorf("stored outbox changed through a slice: %+v", items)
	}
}

func testApplyCancelledContext(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	before := takeSnapshot(t, s, c.ID)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Apply(ctx, fullChange(c, "pay-1", 100)); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context: %v, want context.Canceled", err)
	}
	wantUnchanged(t, s, before)
	wantNoOutbox(t, s)
}
