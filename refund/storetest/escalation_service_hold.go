package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The service's holds: who may take a chat, how it is handed over and
// decided, and every step in the case's history.

func testServiceTake(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	_, err := d.svc.Take(ctx, e.ID, d.removed)
	wantCodeOf(t, "Take by a removed agent", err, refund.EUNAUTHORIZED)
	held, err := d.svc.Take(ctx, e.ID, d.alice)
	if err != nil || held.Status != refund.EscalationHeld || held.AgentUserID != d.alice.UserID {
		t.Fatalf("Take by alice = %+v, %v", held, err)
	}
	_, err = d.svc.Take(ctx, e.ID, d.bob)
	wantCodeOf(t, "Take of alice's chat by bob", err, refund.ECONFLICT)
	d.advance(time.Minute)
	if again, err := d.svc.Take(ctx, e.ID, d.alice); err != nil || !again.TakenAt.Equal(held.TakenAt) {
		t.Fatalf("alice taking her own chat again = %+v, %v; want her hold as it was", again, err)
	}
	if notes := d.agentNotes(t); len(notes) != 1 {
		t.Fatalf("case history by agents %q, want one take however often it was pressed", notes)
	}
	_, err = d.svc.Release(ctx, e.ID, d.bob)
	wantCodeOf(t, "Release of alice's chat by bob", err, refund.ECONFLICT)
	if _, err := d.svc.Release(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	_, err = d.svc.Take(ctx, e.ID, d.bob)
	wantCodeOf(t, "Take of a released (closed) escalation", err, refund.ECONFLICT)
	_, err = d.svc.OpenByChat(ctx, buyerChat)
	wantCodeOf(t, "OpenByChat after release", err, refund.ENOTFOUND)
	_, err = d.svc.Take(ctx, 987654321, d.alice)
	wantCodeOf(t, "Take of an unknown escalation", err, refund.ENOTFOUND)
}

func testServiceHandOversLogged(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	if _, err := d.svc.Take(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Note(ctx, e, d.alice, "买家提供了充值记录"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Release(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	alice := refund.ActorAgent(d.alice.UserID)
	want := []string{alice + " agent_took", alice + " agent_note 买家提供了充值记录", alice + " agent_released"}
	if got := d.agentNotes(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("case history by agents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err := d.svc.Note(ctx, d.escalate(t, 0), d.alice, "no case")
	wantCodeOf(t, "Note on an escalation without a case", err, refund.EINVALID)
}

func testServiceDecide(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	if _, err := d.svc.Take(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	_, err := d.svc.Decide(ctx, e, d.alice, refund.Verdict{Outcome: refund.OutcomeApprove, Amount: 99999999})
	wantCodeOf(t, "Decide with more than was paid", err, refund.EINVALID)
	if open, err := d.svc.OpenByChat(ctx, buyerChat); err != nil || open.ID != e.ID {
		t.Fatalf("a refused verdict ended the escalation: %+v, %v", open, err)
	}
	c, err := d.svc.Decide(ctx, e, d.alice, refund.Verdict{Outcome: refund.OutcomeReject, Note: "卡密已使用，非平台问题"})
	if err != nil || c.Status != refund.StatusRejected {
		t.Fatalf("Decide reject = %s, %v", c.Status, err)
	}
	_, err = d.svc.OpenByChat(ctx, buyerChat)
	wantCodeOf(t, "OpenByChat after the decision", err, refund.ENOTFOUND)
	_, err = d.svc.Decide(ctx, e, d.alice, refund.Verdict{Outcome: refund.OutcomeApprove})
	wantCodeOf(t, "Decide of a decided case", err, refund.ECONFLICT)
	_, err = d.svc.Decide(ctx, refund.Escalation{ID: e.ID}, d.alice, refund.Verdict{Outcome: refund.OutcomeApprove})
	wantCodeOf(t, "Decide without a case", err, refund.EINVALID)
}

func testServiceRequeueSilent(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	if _, err := d.svc.Take(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	d.advance(10 * time.Minute)
	if err := d.svc.Replied(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	err := d.svc.Replied(ctx, e.ID, d.bob)
	wantCodeOf(t, "Replied by someone not holding the chat", err, refund.ECONFLICT)
	d.advance(10 * time.Minute)
	if released, err := d.svc.RequeueSilent(ctx, 15*time.Minute); err != nil || len(released) != 0 {
		t.Fatalf("RequeueSilent 10 minutes after a reply = %+v, %v; want none", released, err)
	}
	d.advance(10 * time.Minute)
	released, err := d.svc.RequeueSilent(ctx, 15*time.Minute)
	if err != nil || len(released) != 1 || released[0].AgentUserID != d.alice.UserID {
		t.Fatalf("RequeueSilent 20 minutes after a reply = %+v, %v; want alice's hold", released, err)
	}
	if now, err := d.svc.Escalation(ctx, e.ID); err != nil || now.Status != refund.EscalationQueued {
		t.Fatalf("escalation after requeue %+v, %v; want queued", now, err)
	}
	notes := d.agentNotes(t)
	if len(notes) != 2 || !strings.Contains(notes[1], "agent_released no answer within the hold timeout") {
		t.Fatalf("case history by agents %q, want the take and the silent requeue", notes)
	}
}

func testServiceConcurrentTake(t *testing.T, d *deskFixture) {
	e := d.escalate(t, d.caseID)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		agent := d.alice
		if i%2 == 1 {
			agent = d.bob
		}
		wg.Go(func() { _, errs[i] = d.svc.Take(context.WithoutCancel(t.Context()), e.ID, agent) })
	}
	wg.Wait()
	held, err := d.svc.Escalation(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		mine := (i%2 == 0) == (held.AgentUserID == d.alice.UserID)
		switch {
		case mine && err != nil:
			t.Errorf("take %d by the holder failed: %v", i, err)
		case !mine && refund.ErrorCode(err) != refund.ECONFLICT:
			t.Errorf("take %d by the other agent: %v, want ECONFLICT", i, err)
		}
	}
}

func testServiceRate(t *testing.T, d *deskFixture) {
	ctx := t.Context()
	e := d.escalate(t, d.caseID)
	_, err := d.svc.Rate(ctx, e.ID, buyerChat, 5)
	wantCodeOf(t, "Rate of an open escalation", err, refund.EINVALID)
	if _, err := d.svc.Take(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Release(ctx, e.ID, d.alice); err != nil {
		t.Fatal(err)
	}
	_, err = d.svc.Rate(ctx, e.ID, buyerChat+1, 5)
	wantCodeOf(t, "Rate by someone else", err, refund.ENOTFOUND)
	_, err = d.svc.Rate(ctx, e.ID, buyerChat, 6)
	wantCodeOf(t, "Rate of 6", err, refund.EINVALID)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = d.svc.Rate(context.WithoutCancel(ctx), e.ID, buyerChat, 4) })
	}
	wg.Wait()
	rated := 0
	for _, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			rated++
		case refund.ECONFLICT:
		default:
			t.Errorf("concurrent Rate: %v", err)
		}
	}
	if got, _ := d.svc.Escalation(ctx, e.ID); rated != 1 || got.Rating != 4 {
		t.Fatalf("%d ratings went through, escalation rated %d; want exactly one 4", rated, got.Rating)
	}
	events, err := d.cases.Events(ctx, d.caseID)
	if err != nil {
		t.Fatal(err)
	}
	logged := 0
	for _, ev := range events {
		if ev.Type == refund.EventRated && ev.Actor == refund.ActorBuyer && ev.Note == "4/5" {
			logged++
		}
	}
	if logged != 1 {
		t.Fatalf("%d rating events in the case's history, want 1", logged)
	}
}
