package storetest

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// StatsStore is a store that reports refund.Stats, with the case and
// escalation sides the contract fills it through. Like
// AgentEscalationStore it is declared here because only the contract
// needs these together; the metrics package declares its own one-method
// interface.
type StatsStore interface {
	refund.LifecycleStore
	refund.EscalationStore
	Stats(ctx context.Context, now time.Time) (refund.Stats, error)
}

// RunStats runs the stats contract against stores made by open, one fresh
// store per subtest. open must register any cleanup with t.Cleanup.
func RunStats(t *testing.T, open func(t *testing.T) StatsStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s StatsStore)
	}{
		{"an empty store reports every known key at zero", testStatsEmpty},
		{"cases are counted by status", testStatsCases},
		{"first reviews are counted once per case, by how they ended", testStatsFirstReviews},
		{"escalations are counted by reason, open ones apart", testStatsEscalations},
		{"outbox: undelivered items per kind, failing ones and the oldest due one", testStatsOutbox},
		{"payouts are counted by status", testStatsPayouts},
		{"a cancelled context fails Stats", testStatsCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

func mustStats(t *testing.T, s StatsStore, now time.Time) refund.Stats {
	t.Helper()
	st, err := s.Stats(t.Context(), now)
	if err != nil {
		t.Fatalf("Stats(%v): %v", now, err)
	}
	return st
}

// wantCounts compares a stats map with the counts wanted, every other
// known key being zero.
func wantCounts[K comparable](t *testing.T, what string, got map[K]int64, zeroes []K, want map[K]int64) {
	t.Helper()
	full := make(map[K]int64)
	for _, k := range zeroes {
		full[k] = 0
	}
	maps.Copy(full, want)
	if !maps.Equal(got, full) {
		t.Errorf("%s\n got %v\nwant %v", what, got, full)
	}
}

func testStatsEmpty(t *testing.T, s StatsStore) {
	st := mustStats(t, s, day0)
	wantCounts(t, "cases", st.Cases, refund.Statuses(), nil)
	wantCounts(t, "first reviews", st.FirstReviews, refund.FirstReviewOutcomes(), nil)
	wantCounts(t, "escalations", st.Escalations, refund.EscalationReasons(), nil)
	if st.EscalationsOpen != 0 || st.EscalationsOverdue != 0 {
		t.Errorf("open escalations %d, overdue %d, want 0 and 0", st.EscalationsOpen, st.EscalationsOverdue)
	}
	wantCounts(t, "payouts", st.Payouts, refund.PayoutStatuses(), nil)
	want := map[refund.OutboxKind]refund.OutboxStats{}
	for _, k := range refund.OutboxKinds() {
		want[k] = refund.OutboxStats{}
	}
	if !maps.Equal(st.Outbox, want) {
		t.Errorf("outbox %+v, want %+v", st.Outbox, want)
	}
	if r := st.AutoApprovalRatio(); r != 0 {
		t.Errorf("auto-approval ratio %v with no reviews, want 0", r)
	}
}

func testStatsCases(t *testing.T, s StatsStore) {
	caseIn(t, s, "KM-S1", refund.StatusSubmitted)
	caseIn(t, s, "KM-S2", refund.StatusSubmitted)
	caseIn(t, s, "KM-H1", refund.StatusHumanReview)
	caseIn(t, s, "KM-C1", refund.StatusClosed)
	// A second case for an order whose first was closed: both count.
	mustCreate(t, s, sampleCase("KM-C1", "key-KM-C1-again"))
	c := caseIn(t, s, "KM-R1", refund.StatusPayoutPending)
	mustApply(t, s, step(c, refund.StatusRefunded, day0.Add(time.Hour)))

	st := mustStats(t, s, day0)
	wantCounts(t, "cases", st.Cases, refund.Statuses(), map[refund.Status]int64{
		refund.StatusSubmitted: 3, refund.StatusHumanReview: 1, refund.StatusClosed: 1, refund.StatusRefunded: 1})
	// Moving cases by hand, with no review, is no first review.
	wantCounts(t, "first reviews", st.FirstReviews, refund.FirstReviewOutcomes(), nil)
}

// reviewOrder is an unused, delivered game card bought an hour before
// now (or older), so that the default policy's outcome follows from the
// reason, the files and the amount alone.
func reviewOrder(id string, paid refund.Money, deliveredAgo time.Duration) refund.Order {
	now := time.Now().UTC()
	return refund.Order{ID: id, BuyerTelegramID: buyer, ContactPhone: "13800138000", Product: "点卡",
		Category: refund.CategoryGameCard, AmountPaid: paid, ListPrice: paid, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: now.Add(-deliveredAgo - time.Minute),
		DeliveredAt: now.Add(-deliveredAgo)}
}

func testStatsFirstReviews(t *testing.T, s StatsStore) {
	ctx := t.Context()
	svc, err := refund.NewService(refund.ServiceConfig{Store: s, Policy: refund.DefaultPolicy(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	file := func(id string) []refund.Evidence {
		return []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f-" + id, FileUniqueID: "u-" + id}}
	}
	submit := func(o refund.Order, reason refund.Reason, files []refund.Evidence) refund.Case {
		t.Helper()
		mustUpsert(t, s, o)
		c, err := svc.Submit(ctx, refund.NewCase{OrderID: o.ID, BuyerUserID: buyer, ChatID: buyer, Reason: reason,
			Statement: "申请退款", RequestedAmount: o.AmountPaid, Currency: "CNY", Language: "zh-CN",
			SubmissionKey: "key-" + o.ID, Evidence: files})
		if err != nil {
			t.Fatalf("Submit(%s): %v", o.ID, err)
		}
		return c
	}
	review := func(c refund.Case, want refund.Status) refund.Case {
		t.Helper()
		got, err := svc.Review(ctx, c.ID)
		if err != nil {
			t.Fatalf("Review(%s): %v", c.Number(), err)
		}
		if got.Status != want {
			// The policy changed under the test: the counts below would
			// check the wrong thing.
			t.Fatalf("Review(%s of order %s) left it %s, want %s", got.Number(), c.OrderID, got.Status, want)
		}
		return got
	}
	hour := time.Hour

	fast := submit(reviewOrder("KM-FAST", 9500, hour), refund.ReasonInvalidCode, file("fast"))
	// An agent's note before the review is not the review.
	if _, err := svc.Note(ctx, fast.ID, refund.ActorAgent(7), "checked the card"); err != nil {
		t.Fatalf("Note: %v", err)
	}
	review(fast, refund.StatusApproved)
	review(submit(reviewOrder("KM-ADV", 9500, hour), refund.ReasonDuplicateCharge, nil), refund.StatusApproved)
	review(submit(reviewOrder("KM-POL", 9500, hour), refund.ReasonMistakenPurchase, nil), refund.StatusApproved)
	review(submit(reviewOrder("KM-REJ", 9500, 48*hour), refund.ReasonInvalidCode, file("rej")), refund.StatusRejected)
	human := review(submit(reviewOrder("KM-HUM", 30000, hour), refund.ReasonInvalidCode, file("hum")), refund.StatusHumanReview)
	info := review(submit(reviewOrder("KM-INFO", 9500, hour), refund.ReasonInvalidCode, nil), refund.StatusNeedsInfo)
	submit(reviewOrder("KM-NEW", 9500, hour), refund.ReasonInvalidCode, file("new"))

	// Later reviews and human decisions change the cases but not how
	// their first review ended.
	if c, err := svc.AddEvidence(ctx, info.ID, buyer, file("info")); err != nil || c.Status != refund.StatusApproved {
		t.Fatalf("AddEvidence(%s) = %s, %v; want approved", info.Number(), c.Status, err)
	}
	if c, err := svc.Decide(ctx, human.ID, refund.ActorAgent(7), refund.Verdict{Outcome: refund.OutcomeApprove}); err != nil ||
		c.Status != refund.StatusApproved {
		t.Fatalf("Decide(%s) = %s, %v; want approved", human.Number(), c.Status, err)
	}
	again, err := svc.Review(ctx, fast.ID)
	if err != nil || again.Status != refund.StatusApproved {
		t.Fatalf("second Review(%s) = %s, %v", fast.Number(), again.Status, err)
	}

	st := mustStats(t, s, time.Now())
	wantCounts(t, "first reviews", st.FirstReviews, refund.FirstReviewOutcomes(), map[refund.FirstReviewOutcome]int64{
		refund.FirstReviewFastLane: 1, refund.FirstReviewAdvance: 1, refund.FirstReviewPolicy: 1,
		refund.FirstReviewRejected: 1, refund.FirstReviewHuman: 1, refund.FirstReviewNeedsInfo: 1})
	if got, want := st.AutoApprovalRatio(), 0.5; got != want {
		t.Errorf("auto-approval ratio %v, want %v", got, want)
	}
	wantCounts(t, "cases", st.Cases, refund.Statuses(), map[refund.Status]int64{
		refund.StatusApproved: 5, refund.StatusRejected: 1, refund.StatusSubmitted: 1})
}

func testStatsEscalations(t *testing.T, s StatsStore) {
	open := func(chat int64, reason refund.EscalationReason) refund.Escalation {
		t.Helper()
		e := newEscalation(chat)
		e.Reason = reason
		return mustOpenEscalation(t, s, e)
	}
	open(9001, refund.EscalateAsked)
	held := open(9002, refund.EscalateAsked)
	mustTake(t, s, held.ID, agentID(1), desk0)
	closed := open(9003, refund.EscalateFlagged)
	mustClose(t, s, closed.ID, desk0)
	// The chat whose escalation closed escalates again: two escalations.
	open(9003, refund.EscalateRepeated)
	c := caseIn(t, s, "KM-E1", refund.StatusHumanReview)
	e := newEscalation(9004)
	// No deadline: queued after the others, and never overdue.
	e.Reason, e.CaseID, e.Due = refund.EscalateHumanReview, c.ID, time.Time{}
	mustOpenEscalation(t, s, e)

	st := mustStats(t, s, desk0)
	wantCounts(t, "escalations", st.Escalations, refund.EscalationReasons(), map[refund.EscalationReason]int64{
		refund.EscalateAsked: 2, refund.EscalateFlagged: 1, refund.EscalateRepeated: 1, refund.EscalateHumanReview: 1})
	if st.EscalationsOpen != 4 {
		t.Errorf("open escalations %d, want 4 (two queued, one held, one queued after a close)", st.EscalationsOpen)
	}
	due := newEscalation(0).Due
	if st.EscalationsOverdue != 0 {
		t.Errorf("overdue escalations %d at %v, before their deadline %v: want 0", st.EscalationsOverdue, desk0, due)
	}
	// Past the deadline: the three open ones that have it (queued or
	// held) are overdue; the closed one and the one without are not.
	if got := mustStats(t, s, due.Add(time.Second)).EscalationsOverdue; got != 3 {
		t.Errorf("overdue escalations %d after their deadline, want 3", got)
	}
}

func testStatsPayouts(t *testing.T, s StatsStore) {
	pay := func(c refund.Case, id string, at time.Time) refund.Case {
		t.Helper()
		return mustApply(t, s, with(step(c, refund.StatusPayoutPending, at), func(ch *refund.Change) { ch.Payout = original(id, 1000) }))
	}
	settleAs := func(c refund.Case, to refund.Status, st *refund.Settlement, at time.Time) refund.Case {
		t.Helper()
		return mustApply(t, s, with(step(c, to, at), func(ch *refund.Change) { ch.Settle = st }))
	}
	// One payout pending; one failed, then replaced by one the shop
	// confirmed; a balance refund, confirmed at once.
	pay(caseIn(t, s, "KM-P1", refund.StatusApproved), "p1", day0)
	c := pay(caseIn(t, s, "KM-P2", refund.StatusApproved), "p2", day0)
	c = settleAs(c, refund.StatusPayoutFailed, settle("p2", false, "card expired"), day0.Add(time.Minute))
	c = pay(c, "p3", day0.Add(2*time.Minute))
	settleAs(c, refund.StatusRefunded, settle("p3", true, ""), day0.Add(3*time.Minute))
	b := caseIn(t, s, "KM-P4", refund.StatusApproved)
	mustApply(t, s, with(step(b, refund.StatusPayoutPending, day0), func(ch *refund.Change) { ch.Payout = balance("p4", 1000) }))

	wantCounts(t, "payouts", mustStats(t, s, day0.Add(time.Hour)).Payouts, refund.PayoutStatuses(), map[refund.PayoutStatus]int64{
		refund.PayoutPending: 1, refund.PayoutFailed: 1, refund.PayoutConfirmed: 2})
}

func testStatsOutbox(t *testing.T, s StatsStore) {
	ctx := t.Context()
	c := caseIn(t, s, "KM-O1", refund.StatusSubmitted)
	// Each message is written by a change at its own time, which is when
	// it was created and became due.
	write := func(c refund.Case, to refund.Status, at time.Time, msgs ...refund.OutboxMessage) refund.Case {
		t.Helper()
		return mustApply(t, s, with(step(c, to, at), func(ch *refund.Change) { ch.Outbox = msgs }))
	}
	msg := func(kind refund.OutboxKind, n int) refund.OutboxMessage {
		return refund.OutboxMessage{Kind: kind, Key: fmt.Sprintf("%s-%d", kind, n), Payload: []byte("{}")}
	}
	c = write(c, refund.StatusAutoReview, day0, msg(refund.OutboxNotice, 1))
	c = write(c, refund.StatusApproved, day0.Add(time.Minute), msg(refund.OutboxNotice, 2), msg(refund.OutboxPayout, 1))
	c = write(c, refund.StatusPayoutPending, day0.Add(2*time.Minute), msg(refund.OutboxNotice, 3), msg(refund.OutboxPayout, 2))
	// Written after the time the stats are taken at: pending, not yet due.
	write(c, refund.StatusRefunded, day0.Add(time.Hour), msg(refund.OutboxAgent, 1))

	now := day0.Add(10 * time.Minute)
	// notice-1 is leased to a worker: undelivered but not due, so the
	// oldest due notice is notice-2.
	if got := keys(mustClaim(t, s, refund.OutboxNotice, now, 1)); len(got) != 1 || got[0] != "notice-1" {
		t.Fatalf("claimed %v, want [notice-1]", got)
	}
	// payout-1 is delivered; payout-2 failed and waits for its retry.
	payouts := mustClaim(t, s, refund.OutboxPayout, now, 2)
	if len(payouts) != 2 {
		t.Fatalf("claimed %v, want both payouts", keys(payouts))
	}
	if err := s.CompleteOutbox(ctx, payouts[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryOutbox(ctx, payouts[1].ID, now.Add(time.Minute), "503"); err != nil {
		t.Fatal(err)
	}

	st := mustStats(t, s, now)
	want := map[refund.OutboxKind]refund.OutboxStats{
		refund.OutboxNotice: {Pending: 3, OldestDue: norm(day0.Add(time.Minute))},
		refund.OutboxPayout: {Pending: 1, Failing: 1},
		refund.OutboxAgent:  {Pending: 1},
	}
	if !maps.Equal(st.Outbox, want) {
		t.Errorf("outbox at %v\n got %+v\nwant %+v", now, st.Outbox, want)
	}
	if got := st.Outbox[refund.OutboxNotice].Lag(now); got != 9*time.Minute {
		t.Errorf("notice lag %v, want 9m", got)
	}
	if got := st.Outbox[refund.OutboxPayout].Lag(now); got != 0 {
		t.Errorf("payout lag %v with nothing due, want 0", got)
	}
	// Once its retry time has come the failed payout is due again, and
	// lags by its whole age: the shop has not had it since it was written.
	later := now.Add(time.Hour)
	if got := mustStats(t, s, later).Outbox[refund.OutboxPayout]; got != (refund.OutboxStats{Pending: 1, Failing: 1, OldestDue: norm(day0.Add(2 * time.Minute))}) {
		t.Errorf("payout outbox at %v: %+v, want the failed payout due", later, got)
	}
}

func testStatsCancelledContext(t *testing.T, s StatsStore) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Stats(ctx, day0); err == nil {
		t.Error("Stats with a cancelled context succeeded")
	}
}
