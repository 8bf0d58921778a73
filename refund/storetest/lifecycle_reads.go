package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// What the lifecycle reads: a case with its order, what the first review
// needs (Facts), and the cases whose deadline has come.

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
