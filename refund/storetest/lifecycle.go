package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
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

// snapshot is everything a change can touch around one case, to show that
// a refused change touched none of it.
type snapshot struct {
	Case    refund.Case
	Events  []refund.Event
	Payouts []refund.Payout
	Balance refund.Money
	Facts   refund.CaseFacts
}

func takeSnapshot(t *testing.T, s refund.LifecycleStore, caseID int64) snapshot {
	t.Helper()
	c := mustCase(t, s, caseID)
	f, err := s.Facts(t.Context(), c, time.Time{})
	if err != nil {
		t.Fatalf("Facts(%s): %v", c.Number(), err)
	}
	return snapshot{Case: c, Events: mustEvents(t, s, caseID), Payouts: mustPayouts(t, s, caseID),
		Balance: mustBalance(t, s, c.BuyerUserID, c.Currency), Facts: f}
}

func wantUnchanged(t *testing.T, s refund.LifecycleStore, before snapshot) {
	t.Helper()
	if after := takeSnapshot(t, s, before.Case.ID); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused change left a trace\nbefore %+v\n after %+v", before, after)
	}
}

// wantNoOutbox checks that nothing of either kind can be claimed, ever.
func wantNoOutbox(t *testing.T, s refund.LifecycleStore) {
	t.Helper()
	far := day0.AddDate(10, 0, 0)
	for _, kind := range []refund.OutboxKind{refund.OutboxPayout, refund.OutboxNotice} {
		if items := mustClaim(t, s, kind, far, 100); len(items) != 0 {
			t.Errorf("outbox %s holds %v, want nothing", kind, keys(items))
		}
	}
}

// fullChange is an approval with a balance payout that touches every part
// of the store.
func fullChange(c refund.Case, payoutID string, amount refund.Money) refund.Change {
	return with(step(c, refund.StatusPayoutPending, day0.Add(time.Hour)), func(ch *refund.Change) {
		ch.Events = append([]refund.EventDraft{{Type: refund.EventStatusChanged, Status: refund.StatusApproved,
			Rules: []refund.Rule{refund.RuleFastLane}, Amount: amount}}, ch.Events...)
		ch.Decided = &refund.Amounts{Refund: amount}
		ch.Route = refund.RouteBalance
		ch.Due = &refund.Due{Kind: refund.DueRoute, At: day0.Add(25 * time.Hour)}
		ch.Appeal, ch.ReviewOverdue = true, true
		ch.Evidence = []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "late", FileUniqueID: "late-u"}}
		ch.Payout = balance(payoutID, amount)
		ch.Credit = amount
		ch.Outbox = []refund.OutboxMessage{
			{Kind: refund.OutboxNotice, Key: "paid-" + payoutID, Payload: []byte(`{"case":1}`)},
			{Kind: refund.OutboxPayout, Key: payoutID, Payload: []byte(`{}`)},
		}
	})
}

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

func testCaseWithOrder(t *testing.T, s refund.LifecycleStore) {
	withFiles := orderWithCase(t, s, "KM20261120001", "key-1")
	// Files added by a change come after the first ones, in order.
	ch := step(withFiles, refund.StatusAutoReview, day0)
	ch.Evidence = []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "AgAC-photo-9", FileUniqueID: "C-unique-9", Size: 7}}
	mustApply(t, s, ch)
	mustUpsert(t, s, sampleOrder("KM20261120002"))
	n := sampleCase("KM20261120002", "key-2")
	n.Evidence = nil
	bare := mustCreate(t, s, n)
	for _, id := range []int64{withFiles.ID, bare.ID} {
		c, o, err := s.CaseWithOrder(t.Context(), id)
		if err != nil {
			t.Fatalf("CaseWithOrder(%s): %v", refund.FormatCaseNumber(id), err)
		}
		if want := mustCase(t, s, id); !reflect.DeepEqual(c, want) {
			t.Errorf("CaseWithOrder(%s) case differs from Case()\n got %+v\nwant %+v", c.Number(), c, want)
		}
		want, err := s.Order(t.Context(), c.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(o, want) {
			t.Errorf("CaseWithOrder(%s) order differs from Order()\n got %+v\nwant %+v", c.Number(), o, want)
		}
	}
	_, _, err := s.CaseWithOrder(t.Context(), bare.ID+1)
	wantCode(t, err, refund.ENOTFOUND)
}

func testCaseForReview(t *testing.T, s refund.LifecycleStore) {
	// Facts to find: an earlier case of the same order, refunded through a
	// payout; another refunded case of the same buyer, later; the same
	// file on both.
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	ch := step(first, refund.StatusPayoutPending, day0)
	ch.Payout = original("pay-1", 1000)
	first = mustApply(t, s, ch)
	ch = step(first, refund.StatusRefunded, day0)
	ch.Settle = settle("pay-1", true, "")
	mustApply(t, s, ch)
	mustUpsert(t, s, sampleOrder("KM20261120002"))
	paid := mustCreate(t, s, sampleCase("KM20261120002", "key-2"))
	mustApply(t, s, step(paid, refund.StatusRefunded, day0.Add(2*time.Hour)))
	n := sampleCase("KM20261120001", "key-3")
	n.Evidence = n.Evidence[:1]
	reviewed := mustCreate(t, s, n)
	mustUpsert(t, s, sampleOrder("KM20261120003"))
	n = sampleCase("KM20261120003", "key-4")
	n.Evidence = nil
	bare := mustCreate(t, s, n)

	for _, tt := range []struct {
		c     refund.Case
		since time.Time
	}{{reviewed, day0}, {reviewed, day0.Add(90 * time.Minute)}, {bare, time.Time{}}} {
		c, o, f, err := s.CaseForReview(t.Context(), tt.c.ID, tt.since)
		if err != nil {
			t.Fatalf("CaseForReview(%s): %v", tt.c.Number(), err)
		}
		wantCase, wantOrder, err := s.CaseWithOrder(t.Context(), tt.c.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantFacts, err := s.Facts(t.Context(), wantCase, tt.since)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, wantCase) || !reflect.DeepEqual(o, wantOrder) {
			t.Errorf("CaseForReview(%s) differs from CaseWithOrder\n got %+v\n     %+v\nwant %+v\n     %+v", tt.c.Number(), c, o, wantCase, wantOrder)
		}
		if f != wantFacts {
			t.Errorf("CaseForReview(%s, since %v) facts %+v, Facts says %+v", tt.c.Number(), tt.since, f, wantFacts)
		}
	}
	// The case meant to find facts does find them, so the comparison
	// above is not between zeros.
	if _, _, f, _ := s.CaseForReview(t.Context(), reviewed.ID, day0); f != (refund.CaseFacts{RefundedBefore: 1000, BuyerRefunds: 2, ReusedEvidence: 1}) {
		t.Errorf("CaseForReview(%s) facts %+v, want 10.00 refunded before, 2 buyer refunds, 1 reused file", reviewed.Number(), f)
	}
	_, _, _, err := s.CaseForReview(t.Context(), bare.ID+1, day0)
	wantCode(t, err, refund.ENOTFOUND)
}

func testApplyRoundTrip(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	// Nanoseconds in another zone: the store keeps UTC microseconds.
	at := time.Date(2026, 11, 21, 17, 30, 0, 123456789, shanghai())
	due := at.Add(72 * time.Hour)
	added := []refund.Evidence{
		{Kind: refund.EvidenceDocument, FileID: "BQAC-doc-4", FileUniqueID: "B-unique-4", Size: 900,
			MIMEType: "application/pdf", FileName: "bank.pdf", Caption: "流水"},
	}
	ch := refund.Change{
		CaseID: c.ID, From: refund.StatusSubmitted, To: refund.StatusHumanReview, Actor: "agent:7", At: at,
		Events: []refund.EventDraft{
			{Type: refund.EventStatusChanged, Status: refund.StatusAutoReview},
			{Type: refund.EventEvidenceAdded, Status: refund.StatusAutoReview, Note: "1 file"},
			{Type: refund.EventStatusChanged, Status: refund.StatusHumanReview,
				Rules: []refund.Rule{refund.RuleOverThreshold, refund.RuleRiskFrequent}, Amount: 9000, Note: "too large"},
		},
		Decided:       &refund.Amounts{Refund: 9000, Fee: 450, Deduction: 100},
		Route:         refund.RouteOriginal,
		Due:           &refund.Due{Kind: refund.DueReview, At: due},
		Appeal:        true,
		ReviewOverdue: true,
		Evidence:      added,
	}
	got := mustApply(t, s, ch)

	want := c
	want.Status, want.UpdatedAt = refund.StatusHumanReview, norm(at)
	want.Decided = refund.Amounts{Refund: 9000, Fee: 450, Deduction: 100}
	want.Route = refund.RouteOriginal
	want.Due = refund.Due{Kind: refund.DueReview, At: norm(due)}
	want.Appeals, want.ReviewOverdue = 1, true
	want.Evidence = append(slices.Clone(c.Evidence), added...)
	wantUTC(t, "UpdatedAt", got.UpdatedAt)
	wantUTC(t, "Due.At", got.Due.At)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Apply returned\n %+v\nwant %+v", got, want)
	}
	if stored := mustCase(t, s, c.ID); !reflect.DeepEqual(stored, got) {
		t.Errorf("Case() differs from what Apply returned\n got %+v\nwant %+v", stored, got)
	}

	events := mustEvents(t, s, c.ID)
	wantEvents := []refund.Event{{CaseID: c.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: c.CreatedAt}}
	for i, d := range ch.Events {
		wantEvents = append(wantEvents, refund.Event{CaseID: c.ID, Seq: i + 2, Type: d.Type, Actor: "agent:7",
			Status: d.Status, Rules: d.Rules, Amount: d.Amount, Note: d.Note, At: norm(at)})
	}
	if !reflect.DeepEqual(events, wantEvents) {
		t.Errorf("events\n got %+v\nwant %+v", events, wantEvents)
	}
	if len(events) > 1 {
		wantUTC(t, "Event.At", events[1].At)
	}

	// A change that keeps the status, such as a reminder, numbers on.
	mustApply(t, s, refund.Change{CaseID: c.ID, From: refund.StatusHumanReview, To: refund.StatusHumanReview,
		Actor: refund.ActorSystem, At: at.Add(time.Hour),
		Events: []refund.EventDraft{{Type: refund.EventReviewOverdue, Status: refund.StatusHumanReview}}})
	if events := mustEvents(t, s, c.ID); len(events) != 5 || events[4].Seq != 5 || events[4].Type != refund.EventReviewOverdue {
		t.Errorf("after a same-status change: %+v", events)
	}
}

func testApplyOptionalFields(t *testing.T, s refund.LifecycleStore) {
	set := func(ch *refund.Change) {
		ch.Decided = &refund.Amounts{Refund: 5000, Fee: 250, Deduction: 10}
		ch.Route = refund.RouteBalance
		ch.Due = &refund.Due{Kind: refund.DueAppeal, At: day0.Add(7 * 24 * time.Hour)}
		ch.Appeal, ch.ReviewOverdue = true, true
	}
	tests := []struct {
		name   string
		change func(ch *refund.Change)
		want   func(c *refund.Case)
	}{
		{"a bare step keeps every field", func(*refund.Change) {}, func(*refund.Case) {}},
		{"a zero Due clears the deadline", func(ch *refund.Change) { ch.Due = &refund.Due{} },
			func(c *refund.Case) { c.Due = refund.Due{} }},
		{"set fields replace", func(ch *refund.Change) {
			ch.Decided = &refund.Amounts{}
			ch.Route = refund.RouteOriginal
			ch.Due = &refund.Due{Kind: refund.DueClose, At: day0.Add(time.Hour)}
		}, func(c *refund.Case) {
			c.Decided, c.Route = refund.Amounts{}, refund.RouteOriginal
			c.Due = refund.Due{Kind: refund.DueClose, At: day0.Add(time.Hour)}
		}},
		{"appeals count up", func(ch *refund.Change) { ch.Appeal = true },
			func(c *refund.Case) { c.Appeals = 2 }},
		{"review overdue stays set", func(ch *refund.Change) { ch.ReviewOverdue = false }, func(*refund.Case) {}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := caseIn(t, s, fmt.Sprintf("KM-OPT-%d", i), refund.StatusHumanReview)
			before := mustApply(t, s, with(step(c, refund.StatusRejected, day0), set))
			got := mustApply(t, s, with(step(before, refund.StatusAppealed, day0.Add(time.Minute)), tt.change))
			want := before
			want.Status, want.UpdatedAt = refund.StatusAppealed, day0.Add(time.Minute)
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("case\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func testApplyInvalid(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	other := caseIn(t, s, "KM20261120002", refund.StatusApproved)
	mustApply(t, s, with(step(other, refund.StatusPayoutPending, day0), func(ch *refund.Change) {
		ch.Payout = original("other-pay", 100)
	}))
	base := step(c, refund.StatusAutoReview, day0)
	file := refund.Evidence{Kind: refund.EvidencePhoto, FileID: "f", FileUniqueID: "u"}
	tests := []struct {
		name   string
		change func(ch *refund.Change)
		code   string
		field  string
	}{
		{"no case", func(ch *refund.Change) { ch.CaseID = 0 }, refund.EINVALID, "case_id"},
		{"unknown status", func(ch *refund.Change) { ch.To, ch.Events[0].Status = "lost", "lost" }, refund.EINVALID, "status"},
		{"no actor", func(ch *refund.Change) { ch.Actor = "" }, refund.EINVALID, "actor"},
		{"no time", func(ch *refund.Change) { ch.At = time.Time{} }, refund.EINVALID, "at"},
		{"no events", func(ch *refund.Change) { ch.Events = nil }, refund.EINVALID, "events"},
		{"last event not in To", func(ch *refund.Change) { ch.Events[0].Status = refund.StatusClosed }, refund.EINVALID, "events"},
		{"event without type", func(ch *refund.Change) { ch.Events[0].Type = "" }, refund.EINVALID, "events"},
		{"event with unknown status", func(ch *refund.Change) {
			ch.Events = append([]refund.EventDraft{{Type: refund.EventStatusChanged, Status: "lost"}}, ch.Events...)
		}, refund.EINVALID, "events"},
		{"negative credit", func(ch *refund.Change) { ch.Credit = -1 }, refund.EINVALID, "credit"},
		{"negative decided amount", func(ch *refund.Change) { ch.Decided = &refund.Amounts{Fee: -1} }, refund.EINVALID, "decided"},
		{"unknown route", func(ch *refund.Change) { ch.Route = "cash" }, refund.EINVALID, "route"},
		{"deadline without a time", func(ch *refund.Change) { ch.Due = &refund.Due{Kind: refund.DueClose} }, refund.EINVALID, "due"},
		{"deadline without a kind", func(ch *refund.Change) { ch.Due = &refund.Due{At: day0} }, refund.EINVALID, "due"},
		{"file without unique id", func(ch *refund.Change) {
			ch.Evidence = []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f"}}
		}, refund.EINVALID, "evidence"},
		{"more files than a case carries", func(ch *refund.Change) {
			ch.Evidence = slices.Repeat([]refund.Evidence{file}, refund.MaxEvidence-len(c.Evidence)+1)
		}, refund.EINVALID, "evidence"},
		{"payout without id", func(ch *refund.Change) { ch.Payout = original("", 100) }, refund.EINVALID, "payout"},
		{"payout of nothing", func(ch *refund.Change) { ch.Payout = original("p", 0) }, refund.EINVALID, "payout"},
		{"payout without route", func(ch *refund.Change) { ch.Payout = &refund.Payout{ID: "p", Amount: 100} }, refund.EINVALID, "payout"},
		{"payout already failed", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.Status = refund.PayoutFailed
		}, refund.EINVALID, "payout"},
		{"payout of another order", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.OrderID = "KM20261120002"
		}, refund.EINVALID, "payout"},
		{"payout in another currency", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.Currency = "USD"
		}, refund.EINVALID, "payout"},
		{"payout to another buyer", func(ch *refund.Change) {
			ch.Payout = original("p", 100)
			ch.Payout.BuyerUserID = buyer + 1
		}, refund.EINVALID, "payout"},
		{"settling no payout", func(ch *refund.Change) { ch.Settle = settle("", true, "") }, refund.EINVALID, "settle"},
		{"outbox message without key", func(ch *refund.Change) {
			ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice}}
		}, refund.EINVALID, "outbox"},
		{"unknown case", func(ch *refund.Change) { ch.CaseID = other.ID + 1000 }, refund.ENOTFOUND, ""},
		{"settling an unknown payout", func(ch *refund.Change) { ch.Settle = settle("nope", true, "") }, refund.ENOTFOUND, ""},
		{"settling another case's payout", func(ch *refund.Change) { ch.Settle = settle("other-pay", true, "") }, refund.ECONFLICT, ""},
	}
	before := takeSnapshot(t, s, c.ID)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := base
			ch.Events = slices.Clone(base.Events)
			ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice, Key: "n-" + tt.name}}
			ch.Credit = 1
			tt.change(&ch)
			_, err := s.Apply(t.Context(), ch)
			wantCode(t, err, tt.code)
			if tt.field != "" {
				wantField(t, err, tt.field)
			}
			wantUnchanged(t, s, before)
		})
	}
	wantNoOutbox(t, s)
	if p, err := s.Payout(t.Context(), "other-pay"); err != nil || p.Status != refund.PayoutPending {
		t.Errorf("other case's payout: %+v, %v; want it still pending", p, err)
	}
}

func testApplyStale(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	// Someone else moved the case on after c was read.
	mustApply(t, s, step(c, refund.StatusHumanReview, day0))
	before := takeSnapshot(t, s, c.ID)
	_, err := s.Apply(t.Context(), fullChange(c, "pay-1", 9550))
	wantCode(t, err, refund.ECONFLICT)
	wantUnchanged(t, s, before)
	wantNoOutbox(t, s)
	_, err = s.Payout(t.Context(), "pay-1")
	wantCode(t, err, refund.ENOTFOUND)
}

func testApplyReopen(t *testing.T, s refund.LifecycleStore) {
	first := caseIn(t, s, "KM20261120001", refund.StatusRejected)
	first = mustApply(t, s, step(first, refund.StatusClosed, day0))
	second := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	before := takeSnapshot(t, s, first.ID)
	_, err := s.Apply(t.Context(), with(step(first, refund.StatusAppealed, day0), func(ch *refund.Change) {
		ch.Appeal = true
		ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice, Key: "appealed"}}
	}))
	wantCode(t, err, refund.ECONFLICT)
	wantUnchanged(t, s, before)
	wantNoOutbox(t, s)
	mustApply(t, s, step(second, refund.StatusClosed, day0))
	if got := mustApply(t, s, step(first, refund.StatusAppealed, day0)); got.Status != refund.StatusAppealed {
		t.Errorf("reopened case is %s", got.Status)
	}
}

func testApplyAllOrNothing(t *testing.T, s refund.LifecycleStore) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c refund.Case) refund.Case
		ch    func(c refund.Case) refund.Change
	}{
		{"beyond the amount paid",
			func(t *testing.T, c refund.Case) refund.Case { return c },
			func(c refund.Case) refund.Change { return fullChange(c, "pay-big", 9551) }},
		{"a second live payout",
			func(t *testing.T, c refund.Case) refund.Case {
				return mustApply(t, s, with(step(c, refund.StatusApproved, day0), func(ch *refund.Change) {
					ch.Payout = original("pay-first", 100)
				}))
			},
			func(c refund.Case) refund.Change { return fullChange(c, "pay-second", 100) }},
		{"a payout id already used",
			func(t *testing.T, c refund.Case) refund.Case {
				other := caseIn(t, s, "KM-USED-ID", refund.StatusApproved)
				mustApply(t, s, with(step(other, refund.StatusPayoutPending, day0), func(ch *refund.Change) {
					ch.Payout = original("pay-used", 100)
				}))
				return c
			},
			func(c refund.Case) refund.Change { return fullChange(c, "pay-used", 100) }},
		{"settling a payout twice",
			func(t *testing.T, c refund.Case) refund.Case {
				return mustApply(t, s, with(step(c, refund.StatusApproved, day0), func(ch *refund.Change) {
					ch.Payout = balance("pay-done", 100)
				}))
			},
			func(c refund.Case) refund.Change {
				return with(fullChange(c, "pay-again", 100), func(ch *refund.Change) {
					ch.Payout, ch.Settle = nil, settle("pay-done", true, "")
				})
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.setup(t, caseIn(t, s, fmt.Sprintf("KM-AON-%d", i), refund.StatusApproved))
			before := takeSnapshot(t, s, c.ID)
			_, err := s.Apply(t.Context(), tt.ch(c))
			wantCode(t, err, refund.ECONFLICT)
			wantUnchanged(t, s, before)
		})
	}
	wantNoOutbox(t, s)
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

func testConcurrentApproval(t *testing.T, s refund.LifecycleStore) {
	tests := []struct {
		name     string
		payoutID func(i int) string
	}{
		// A retried request carries the same payout; two processes
		// deciding at once each mint their own.
		{"same payout", func(int) string { return "pay-1" }},
		{"a payout each", func(i int) string { return fmt.Sprintf("pay-%d", i) }},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := caseIn(t, s, fmt.Sprintf("KM-RACE-%d", n), refund.StatusApproved)
			eventsBefore := len(mustEvents(t, s, c.ID))
			const workers = 10
			errs := make([]error, workers)
			concurrently(workers, func(i int) {
				ch := fullChange(c, tt.payoutID(i), 9550)
				// The notice key is the case's: it is the same news.
				ch.Outbox = []refund.OutboxMessage{{Kind: refund.OutboxNotice, Key: "paid-" + c.Number()}}
				_, errs[i] = s.Apply(t.Context(), ch)
			})
			wins := 0
			for i, err := range errs {
				switch refund.ErrorCode(err) {
				case "":
					wins++
				case refund.ECONFLICT:
				default:
					t.Errorf("approval %d: %v, want success or ECONFLICT", i, err)
				}
			}
			if wins != 1 {
				t.Errorf("%d approvals succeeded, want exactly 1", wins)
			}
			if ps := mustPayouts(t, s, c.ID); len(ps) != 1 {
				t.Errorf("%d payouts, want 1", len(ps))
			}
			if got := mustBalance(t, s, buyer, "CNY"); got != refund.Money(9550*(n+1)) {
				t.Errorf("balance %s, want %s", got, refund.Money(9550*(n+1)))
			}
			if got := len(mustEvents(t, s, c.ID)) - eventsBefore; got != 2 {
				t.Errorf("%d events appended, want the winner's 2", got)
			}
			if items := mustClaim(t, s, refund.OutboxNotice, day0.AddDate(1, 0, 0), 100); len(items) != 1 {
				t.Errorf("outbox notices %v, want one", keys(items))
			}
		})
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

// files returns evidence with the given unique IDs.
func files(uniqueIDs ...string) []refund.Evidence {
	var out []refund.Evidence
	for i, u := range uniqueIDs {
		out = append(out, refund.Evidence{Kind: refund.EvidencePhoto, FileID: fmt.Sprintf("file-%d-%s", i, u), FileUniqueID: u})
	}
	return out
}

func testFacts(t *testing.T, s refund.LifecycleStore) {
	// add submits a case with its files and moves it to status at a time,
	// with an optional payout.
	add := func(orderID, key string, user int64, status refund.Status, at time.Time, p *refund.Payout, evidence []refund.Evidence) refund.Case {
		t.Helper()
		if _, err := s.Order(t.Context(), orderID); err != nil {
			mustUpsert(t, s, sampleOrder(orderID))
		}
		n := sampleCase(orderID, key)
		n.BuyerUserID, n.Evidence = user, evidence
		return mustApply(t, s, with(step(mustCreate(t, s, n), status, at), func(ch *refund.Change) { ch.Payout = p }))
	}
	// Order one: a refunded case, a closed one whose first payout failed
	// and whose second is still pending, and the open case under review.
	a1 := add("KM-O1", "a1", buyer, refund.StatusRefunded, day0.Add(-10*24*time.Hour), balance("a1-pay", 3000), files("shared-2"))
	a2 := add("KM-O1", "a2", buyer, refund.StatusPayoutPending, day0, original("a2-fail", 2000), nil)
	mustApply(t, s, with(step(a2, refund.StatusClosed, day0), func(ch *refund.Change) {
		ch.Settle, ch.Payout = settle("a2-fail", false, "no"), original("a2-pending", 1000)
	}))
	a3 := add("KM-O1", "a3", buyer, refund.StatusAutoReview, day0, nil, files("shared-1", "own-1", "own-1", "shared-2"))
	// The buyer's refunds elsewhere, one long ago, and someone else's.
	add("KM-O2", "b1", buyer, refund.StatusRefunded, day0.Add(-40*24*time.Hour), nil, files("shared-1", "other"))
	b2 := add("KM-O3", "b2", buyer, refund.StatusRefunded, day0.Add(-24*time.Hour), balance("b2-pay", 500), files("own-1-not"))
	add("KM-O4", "c1", buyer+1, refund.StatusRefunded, day0, nil, files("shared-2"))

	tests := []struct {
		name  string
		c     refund.Case
		since time.Time
		want  refund.CaseFacts
	}{
		{"open case, last 30 days", a3, day0.Add(-30 * 24 * time.Hour),
			refund.CaseFacts{RefundedBefore: 4000, BuyerRefunds: 2, ReusedEvidence: 2}},
		{"open case, ever", a3, time.Time{}, refund.CaseFacts{RefundedBefore: 4000, BuyerRefunds: 3, ReusedEvidence: 2}},
		{"since is inclusive", a3, day0.Add(-10 * 24 * time.Hour), refund.CaseFacts{RefundedBefore: 4000, BuyerRefunds: 2, ReusedEvidence: 2}},
		{"since just after a refund", a3, day0.Add(-10*24*time.Hour + time.Microsecond),
			refund.CaseFacts{RefundedBefore: 4000, BuyerRefunds: 1, ReusedEvidence: 2}},
		{"a refunded case does not count itself", b2, day0.Add(-30 * 24 * time.Hour),
			refund.CaseFacts{RefundedBefore: 0, BuyerRefunds: 1, ReusedEvidence: 0}},
		{"the first case sees the later ones' payouts", a1, day0.Add(-30 * 24 * time.Hour),
			refund.CaseFacts{RefundedBefore: 1000, BuyerRefunds: 1, ReusedEvidence: 1}},
		// The refund core asks about files a change is about to add.
		{"files given but not yet stored count", withFiles(a3, "other", "brand-new"), day0,
			refund.CaseFacts{RefundedBefore: 4000, BuyerRefunds: 0, ReusedEvidence: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Facts(t.Context(), tt.c, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Facts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// withFiles returns c with more files, as the refund core has it before
// the change that adds them is applied.
func withFiles(c refund.Case, uniqueIDs ...string) refund.Case {
	c.Evidence = append(slices.Clone(c.Evidence), files(uniqueIDs...)...)
	return c
}

func testDueCases(t *testing.T, s refund.LifecycleStore) {
	due := func(orderID string, status refund.Status, d *refund.Due) refund.Case {
		t.Helper()
		c := caseIn(t, s, orderID, refund.StatusAutoReview)
		return mustApply(t, s, with(step(c, status, day0.Add(-time.Hour)), func(ch *refund.Change) { ch.Due = d }))
	}
	at := func(kind refund.DueKind, d time.Duration) *refund.Due {
		return &refund.Due{Kind: kind, At: day0.Add(d)}
	}
	later := due("KM-LATER", refund.StatusNeedsInfo, at(refund.DueReminder, time.Hour))
	hourAgo := due("KM-HOUR-AGO", refund.StatusNeedsInfo, at(refund.DueClose, -time.Hour))
	now := due("KM-NOW", refund.StatusApproved, at(refund.DueRoute, 0))
	halfHourAgo := due("KM-HALF-AGO", refund.StatusHumanReview, at(refund.DueReview, -30*time.Minute))
	// An old deadline left on cases that are over, or cleared.
	due("KM-CLOSED", refund.StatusClosed, at(refund.DueClose, -2*time.Hour))
	due("KM-REFUNDED", refund.StatusRefunded, at(refund.DueRoute, -3*time.Hour))
	cleared := due("KM-CLEARED", refund.StatusRejected, at(refund.DueAppeal, -4*time.Hour))
	mustApply(t, s, with(step(cleared, refund.StatusAppealed, day0), func(ch *refund.Change) { ch.Due = &refund.Due{} }))
	due("KM-NONE", refund.StatusHumanReview, nil)

	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []refund.Case
	}{
		{"due by now, earliest first", day0, 10, []refund.Case{hourAgo, halfHourAgo, now}},
		{"limit keeps the earliest", day0, 2, []refund.Case{hourAgo, halfHourAgo}},
		{"a later now", day0.Add(time.Hour), 10, []refund.Case{hourAgo, halfHourAgo, now, later}},
		{"nothing due yet", day0.Add(-2 * time.Hour), 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DueCases(t.Context(), tt.now, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueCases(%v, %d)\n got %+v\nwant %+v", tt.now, tt.limit, got, tt.want)
			}
		})
	}
	_, err := s.DueCases(t.Context(), day0, 0)
	wantCode(t, err, refund.EINVALID)
}

func testOutboxLifecycle(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusApproved)
	mustApply(t, s, with(step(c, refund.StatusPayoutPending, day0), func(ch *refund.Change) {
		ch.Outbox = []refund.OutboxMessage{
			{Kind: refund.OutboxPayout, Key: "p1", Payload: []byte(`{"id":"p1"}`)},
			{Kind: refund.OutboxNotice, Key: "n1", Payload: []byte("notice")},
			{Kind: refund.OutboxPayout, Key: "p2", Payload: []byte{0, 1, 2}},
		}
	}))
	ids := map[string]int64{}
	minute := time.Minute
	steps := []struct {
		name     string
		before   func(t *testing.T)
		kind     refund.OutboxKind
		now      time.Time
		limit    int
		want     []string
		attempts []int
	}{
		{"nothing before the change's time", nil, refund.OutboxPayout, day0.Add(-time.Second), 10, []string{}, nil},
		{"oldest first, up to the limit", nil, refund.OutboxPayout, day0, 1, []string{"p1"}, []int{1}},
		{"a leased item is skipped", nil, refund.OutboxPayout, day0, 10, []string{"p2"}, []int{1}},
		{"nothing while leased", nil, refund.OutboxPayout, day0.Add(minute - time.Microsecond), 10, []string{}, nil},
		{"a lapsed lease gives items back", nil, refund.OutboxPayout, day0.Add(minute), 10, []string{"p1", "p2"}, []int{2, 2}},
		{"completed and retried items wait", func(t *testing.T) {
			if err := s.CompleteOutbox(t.Context(), ids["p1"]); err != nil {
				t.Fatal(err)
			}
			if err := s.RetryOutbox(t.Context(), ids["p2"], day0.Add(5*minute), "shop timed out"); err != nil {
				t.Fatal(err)
			}
		}, refund.OutboxPayout, day0.Add(4 * minute), 10, []string{}, nil},
		{"a retried item comes back at its time", nil, refund.OutboxPayout, day0.Add(5 * minute), 10, []string{"p2"}, []int{3}},
		{"kinds are separate queues", nil, refund.OutboxNotice, day0, 10, []string{"n1"}, []int{1}},
		{"a delivered item never comes back", func(t *testing.T) {
			// A worker whose lease lapsed fails after another delivered.
			if err := s.RetryOutbox(t.Context(), ids["p1"], day0, "late failure"); err != nil {
				t.Fatal(err)
			}
			if err := s.CompleteOutbox(t.Context(), ids["p1"]); err != nil {
				t.Fatal(err)
			}
		}, refund.OutboxPayout, day0.Add(time.Hour), 10, []string{"p2"}, []int{4}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			items := mustClaim(t, s, st.kind, st.now, st.limit)
			if got := keys(items); !reflect.DeepEqual(got, st.want) {
				t.Fatalf("claimed %v, want %v", got, st.want)
			}
			for i, it := range items {
				ids[it.Key] = it.ID
				if it.Attempts != st.attempts[i] || it.Kind != st.kind || !it.CreatedAt.Equal(day0) {
					t.Errorf("item %s: attempts %d, kind %s, created %v; want %d, %s, %v",
						it.Key, it.Attempts, it.Kind, it.CreatedAt, st.attempts[i], st.kind, day0)
				}
			}
		})
	}
	if items := mustClaim(t, s, refund.OutboxPayout, day0.Add(2*time.Hour), 10); len(items) == 1 {
		if want := []byte{0, 1, 2}; !bytes.Equal(items[0].Payload, want) {
			t.Errorf("payload %v, want %v", items[0].Payload, want)
		}
	}

	errTests := []struct {
		name string
		err  error
		code string
	}{
		{"complete unknown", s.CompleteOutbox(t.Context(), 9999), refund.ENOTFOUND},
		{"retry unknown", s.RetryOutbox(t.Context(), 9999, day0, "x"), refund.ENOTFOUND},
		{"retry without a time", s.RetryOutbox(t.Context(), ids["p2"], time.Time{}, "x"), refund.EINVALID},
		{"claim without a limit", claimErr(t, s, refund.OutboxPayout, day0, time.Minute, 0), refund.EINVALID},
		{"claim without a lease", claimErr(t, s, refund.OutboxPayout, day0, 0, 1), refund.EINVALID},
		{"claim without a kind", claimErr(t, s, "", day0, time.Minute, 1), refund.EINVALID},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.err, tt.code) })
	}
}

func claimErr(t *testing.T, s refund.LifecycleStore, kind refund.OutboxKind, now time.Time, lease time.Duration, limit int) error {
	_, err := s.ClaimOutbox(t.Context(), kind, now, lease, limit)
	return err
}

func testOutboxDuplicateKey(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusAutoReview)
	msg := func(kind refund.OutboxKind, key, payload string) refund.OutboxMessage {
		return refund.OutboxMessage{Kind: kind, Key: key, Payload: []byte(payload)}
	}
	c = mustApply(t, s, with(step(c, refund.StatusNeedsInfo, day0), func(ch *refund.Change) {
		ch.Outbox = []refund.OutboxMessage{
			msg(refund.OutboxNotice, "k", "first"),
			msg(refund.OutboxNotice, "k", "same change"),
			msg(refund.OutboxPayout, "k", "other kind"),
		}
	}))
	mustApply(t, s, with(step(c, refund.StatusAutoReview, day0.Add(-time.Hour)), func(ch *refund.Change) {
		ch.Outbox = []refund.OutboxMessage{msg(refund.OutboxNotice, "k", "later change"), msg(refund.OutboxNotice, "k2", "new")}
	}))
	tests := []struct {
		kind refund.OutboxKind
		want []string
	}{
		{refund.OutboxNotice, []string{"k:first", "k2:new"}},
		{refund.OutboxPayout, []string{"k:other kind"}},
	}
	for _, tt := range tests {
		var got []string
		for _, it := range mustClaim(t, s, tt.kind, day0, 10) {
			got = append(got, it.Key+":"+string(it.Payload))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s outbox %v, want %v", tt.kind, got, tt.want)
		}
	}
}

func testConcurrentClaims(t *testing.T, s refund.LifecycleStore) {
	c := caseIn(t, s, "KM20261120001", refund.StatusAutoReview)
	const items = 40
	mustApply(t, s, with(step(c, refund.StatusApproved, day0), func(ch *refund.Change) {
		for i := range items {
			ch.Outbox = append(ch.Outbox, refund.OutboxMessage{Kind: refund.OutboxNotice, Key: fmt.Sprint(i)})
		}
	}))
	const workers = 8
	claimed := make([][]int64, workers)
	errs := make([]error, workers)
	concurrently(workers, func(w int) {
		for {
			got, err := s.ClaimOutbox(t.Context(), refund.OutboxNotice, day0, time.Hour, 3)
			if err != nil || len(got) == 0 {
				errs[w] = err
				return
			}
			for _, it := range got {
				claimed[w] = append(claimed[w], it.ID)
			}
		}
	})
	seen := map[int64]int{}
	for w := range workers {
		if errs[w] != nil {
			t.Errorf("worker %d: %v", w, errs[w])
		}
		for _, id := range claimed[w] {
			if prev, ok := seen[id]; ok {
				t.Errorf("item %d claimed by workers %d and %d", id, prev, w)
			}
			seen[id] = w
		}
	}
	if len(seen) != items {
		t.Errorf("%d items claimed, want all %d", len(seen), items)
	}
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
