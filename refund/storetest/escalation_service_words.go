package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The service's side of the buyer's waiting words, rating comments and
// the queue's wait estimate.

func testServiceCommentRating(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	if _, err := d.svc.Take(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Release(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	_, err := d.svc.CommentRating(ctx, e.ID, buyerChat, "还没打分")
	wantCodeOf(t, "CommentRating before the rating", err, refund.EINVALID)
	if _, err := d.svc.Rate(ctx, e.ID, buyerChat, 3); err != nil {
		t.Fatal(err)
	}
	for _, words := range []string{" \x00\u202e ", strings.Repeat("长", refund.MaxRatingCommentRunes+1)} {
		_, err := d.svc.CommentRating(ctx, e.ID, buyerChat, words)
		wantCodeOf(t, "CommentRating of nothing or too much", err, refund.EINVALID)
		if refund.ErrorField(err) != "comment" {
			t.Errorf("CommentRating(%d runes) names %q, want comment", len([]rune(words)), refund.ErrorField(err))
		}
	}
	// Kept as the buyer's data: what only hides text goes (a NUL, which
	// PostgreSQL refuses; a right-to-left override), the words stay.
	got, err := d.svc.CommentRating(ctx, e.ID, buyerChat, "  客服\x00态度好，\u202e但是慢\n加我QQ 123456 ")
	if err != nil {
		t.Fatalf("CommentRating: %v", err)
	}
	const want = "客服态度好，但是慢\n加我QQ 123456"
	if got.RatingComment != want || got.Rating != 3 {
		t.Errorf("escalation rated %d with %q, want 3 with %q", got.Rating, got.RatingComment, want)
	}
	_, err = d.svc.CommentRating(ctx, e.ID, buyerChat, "再来一条")
	wantCodeOf(t, "a second comment", err, refund.ECONFLICT)
	events, err := d.cases.Events(ctx, d.caseID)
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for _, ev := range events {
		if ev.Type == refund.EventRatingComment {
			logged = append(logged, ev.Actor+" "+ev.Note)
		}
	}
	if len(logged) != 1 || logged[0] != refund.ActorBuyer+" "+want {
		t.Errorf("rating comments in the case's history %q, want one by the buyer with the words", logged)
	}
}

func testServiceKeepWaiting(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	_, err := d.svc.KeepWaiting(ctx, e.ID, " \u202e\x00 ")
	wantCodeOf(t, "KeepWaiting of nothing", err, refund.EINVALID)
	long := strings.Repeat("等", refund.MaxWaitingRunes+10)
	for i, text := range []string{"还在吗\x00", long} {
		if kept, err := d.svc.KeepWaiting(ctx, e.ID, text); err != nil || !kept {
			t.Fatalf("KeepWaiting %d = %v, %v; want kept", i, kept, err)
		}
	}
	for range refund.MaxWaitingMessages - 2 {
		if kept, err := d.svc.KeepWaiting(ctx, e.ID, "又一条"); err != nil || !kept {
			t.Fatalf("KeepWaiting within the limit = %v, %v", kept, err)
		}
	}
	if kept, err := d.svc.KeepWaiting(ctx, e.ID, "满了"); err != nil || kept {
		t.Fatalf("KeepWaiting past %d messages = %v, %v; want not kept", refund.MaxWaitingMessages, kept, err)
	}
	ms, err := d.svc.Waiting(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != refund.MaxWaitingMessages || ms[0].Text != "还在吗" || !ms[0].At.Equal(d.clock()) {
		t.Fatalf("waiting messages: %d, first %+v; want %d, the first cleaned, at now", len(ms), ms[0], refund.MaxWaitingMessages)
	}
	if n := len([]rune(ms[1].Text)); n != refund.MaxWaitingRunes || !strings.HasSuffix(ms[1].Text, "…") {
		t.Errorf("a long message kept as %d runes, want cut to %d with an ellipsis", n, refund.MaxWaitingRunes)
	}
	if err := d.svc.ClearWaiting(ctx, e.ID, ms[len(ms)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if ms, err := d.svc.Waiting(ctx, e.ID); err != nil || len(ms) != 0 {
		t.Errorf("after ClearWaiting: %d messages, %v; want none", len(ms), err)
	}
}

func testServiceEstimateWait(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	estimate := func(t *testing.T, wantOK bool, wantPer time.Duration) {
		t.Helper()
		est, err := d.svc.EstimateWait(ctx)
		if err != nil {
			t.Fatalf("EstimateWait: %v", err)
		}
		if est.OK != wantOK || (wantOK && est.PerPlace != wantPer) {
			t.Fatalf("EstimateWait = %+v, want OK %v, %v a place", est, wantOK, wantPer)
		}
	}
	estimate(t, false, 0) // no history at all

	// Seven buyers queue at once; the desk takes one every 3 minutes, the
	// first 2 minutes in. One more is given to an agent as it opens and
	// says nothing of the queue's pace.
	var queued []refund.Escalation
	for i := range 7 {
		e, _, err := d.svc.Escalate(ctx, refund.Escalation{BuyerChatID: buyerChat + 10 + int64(i),
			BuyerUserID: buyerChat + 10 + int64(i), Language: "zh-CN", Reason: refund.EscalateAsked})
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, e)
	}
	d.advance(2 * time.Minute)
	for i, e := range queued {
		if i > 0 {
			d.advance(3 * time.Minute)
		}
		if i == 3 {
			at, _, err := d.svc.Escalate(ctx, refund.Escalation{BuyerChatID: buyerChat + 99, BuyerUserID: buyerChat + 99,
				Language: "zh-CN", Reason: refund.EscalateAsked})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.svc.Take(ctx, at.ID, d.bob); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.svc.Take(ctx, e.ID, d.alice); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			estimate(t, false, 0) // four waits: too few to go by
		}
	}
	estimate(t, true, 3*time.Minute)
	est, _ := d.svc.EstimateWait(ctx)
	for _, tt := range []struct {
		ahead int
		want  time.Duration
		ok    bool
	}{{0, 3 * time.Minute, true}, {2, 9 * time.Minute, true}, {59, 180 * time.Minute, true}, {60, 0, false}, {-1, 0, false}} {
		if got, ok := est.For(tt.ahead); got != tt.want || ok != tt.ok {
			t.Errorf("For(%d) = %v, %v; want %v, %v", tt.ahead, got, ok, tt.want, tt.ok)
		}
	}

	// Nobody at the desk: no take for half an hour and nobody online.
	d.advance(31 * time.Minute)
	estimate(t, false, 0)
	if err := d.svc.SetOnline(ctx, d.alice, true); err != nil {
		t.Fatal(err)
	}
	estimate(t, true, 3*time.Minute)
	// The history is three hours deep: past it, there is none.
	d.advance(3 * time.Hour)
	estimate(t, false, 0)
}
