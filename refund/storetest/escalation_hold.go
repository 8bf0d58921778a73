package storetest

import (
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Holding an escalation: one holder, released by them, closed, and the
// holder's last reply.

func testConcurrentTake(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	const n = 10
	at := desk0.Add(time.Minute)
	got := make([]refund.Escalation, n)
	errs := make([]error, n)
	concurrently(n, func(i int) { got[i], errs[i] = s.Take(t.Context(), e.ID, agentID(i), at) })
	winner := -1
	for i, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("agents %d and %d both took escalation %d", winner, i, e.ID)
			}
			winner = i
		case refund.ECONFLICT:
		default:
			t.Errorf("agent %d: %v, want success or ECONFLICT", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no agent took escalation %d", e.ID)
	}
	want := e
	want.Status, want.AgentUserID, want.TakenAt, want.FirstTakenAt = refund.EscalationHeld, agentID(winner), at, at
	wantEscalation(t, got[winner], want)
	// What a loser reads to tell the agent who has the chat.
	wantEscalation(t, mustEscalation(t, s, e.ID), want)
}

func testTake(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	alice, bob := agentID(1), agentID(2)
	t1 := time.Date(2026, 11, 22, 18, 5, 0, 999, shanghai())
	t2 := desk0.Add(time.Hour)
	steps := []struct {
		name  string
		do    func() error
		code  string
		agent int64
	}{
		{"Alice takes", func() error { _, err := s.Take(t.Context(), e.ID, alice, t1); return err }, "", alice},
		{"Alice takes again", func() error { _, err := s.Take(t.Context(), e.ID, alice, t2); return err }, "", alice},
		{"Bob cannot take it from her", func() error { _, err := s.Take(t.Context(), e.ID, bob, t2); return err },
			refund.ECONFLICT, alice},
		{"no agent", func() error { _, err := s.Take(t.Context(), e.ID, 0, t2); return err }, refund.EINVALID, alice},
		{"no time", func() error { _, err := s.Take(t.Context(), e.ID, bob, time.Time{}); return err },
			refund.EINVALID, alice},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantCode(t, st.do(), st.code)
			got := mustEscalation(t, s, e.ID)
			want := e
			// The first take's time stays: the hold did not restart.
			want.Status, want.AgentUserID, want.TakenAt, want.FirstTakenAt = refund.EscalationHeld, st.agent, norm(t1), norm(t1)
			wantEscalation(t, got, want)
			if pos, err := s.QueuePosition(t.Context(), e.ID); err != nil || pos != 0 {
				t.Errorf("QueuePosition of a held escalation = %d, %v; want 0", pos, err)
			}
		})
	}
	t.Run("nobody takes a closed escalation", func(t *testing.T) {
		mustClose(t, s, e.ID, t2)
		for _, agent := range []int64{alice, bob} {
			_, err := s.Take(t.Context(), e.ID, agent, t2)
			wantCode(t, err, refund.ECONFLICT)
		}
		if got := mustEscalation(t, s, e.ID); got.Status != refund.EscalationClosed {
			t.Errorf("status %s after takes of a closed escalation, want closed", got.Status)
		}
	})
}

func testRelease(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	alice, bob := agentID(1), agentID(2)
	mustTake(t, s, e.ID, alice, desk0)
	if err := s.TouchAgentReply(t.Context(), e.ID, alice, desk0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	held := mustEscalation(t, s, e.ID)

	_, err := s.Release(t.Context(), e.ID, bob)
	wantCode(t, err, refund.ECONFLICT)
	wantEscalation(t, mustEscalation(t, s, e.ID), held)
	_, err = s.Release(t.Context(), e.ID, 0)
	wantCode(t, err, refund.EINVALID)

	got, err := s.Release(t.Context(), e.ID, alice)
	if err != nil {
		t.Fatalf("Release by the holder: %v", err)
	}
	// Back to the queue with nothing of Alice's hold left, so that the
	// next holder's silence is counted from their own take; only when the
	// chat was first taken stays, for the queue's wait history.
	requeued := e
	requeued.FirstTakenAt = desk0
	wantEscalation(t, got, requeued)
	wantEscalation(t, mustEscalation(t, s, e.ID), requeued)
	if pos, err := s.QueuePosition(t.Context(), e.ID); err != nil || pos != 1 {
		t.Errorf("QueuePosition after release = %d, %v; want 1", pos, err)
	}
	_, err = s.Release(t.Context(), e.ID, alice)
	wantCode(t, err, refund.ECONFLICT)

	t2 := desk0.Add(time.Hour)
	if got := mustTake(t, s, e.ID, bob, t2); got.AgentUserID != bob || !got.TakenAt.Equal(t2) || !got.LastAgentReplyAt.IsZero() ||
		!got.FirstTakenAt.Equal(desk0) {
		t.Errorf("Bob's take after release = %+v, want held by Bob since %v, no reply, first taken at %v", got, t2, desk0)
	}
	mustClose(t, s, e.ID, t2)
	_, err = s.Release(t.Context(), e.ID, bob)
	wantCode(t, err, refund.ECONFLICT)
}

func testCloseEscalation(t *testing.T, s AgentEscalationStore) {
	tests := []struct {
		name string
		take bool
	}{
		{"queued", false},
		{"held", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chat := buyerChat + int64(i)
			e := mustOpenEscalation(t, s, newEscalation(chat))
			if tt.take {
				e = mustTake(t, s, e.ID, agentID(1), desk0)
			}
			closedAt := time.Date(2026, 11, 22, 19, 0, 0, 1999, shanghai())
			mustClose(t, s, e.ID, closedAt)
			// The last holder stays on a closed escalation, for the record.
			want := e
			want.Status, want.ClosedAt = refund.EscalationClosed, norm(closedAt)
			wantEscalation(t, mustEscalation(t, s, e.ID), want)

			mustClose(t, s, e.ID, closedAt.Add(time.Hour))
			wantEscalation(t, mustEscalation(t, s, e.ID), want)

			_, err := s.OpenEscalationByChat(t.Context(), chat)
			wantCode(t, err, refund.ENOTFOUND)
			if pos, err := s.QueuePosition(t.Context(), e.ID); err != nil || pos != 0 {
				t.Errorf("QueuePosition of a closed escalation = %d, %v; want 0", pos, err)
			}
			next := mustOpenEscalation(t, s, newEscalation(chat))
			if next.ID == e.ID || next.Status != refund.EscalationQueued {
				t.Errorf("new escalation after close = %+v, want a new queued one", next)
			}
			// Closing the old one again must not touch the new one.
			mustClose(t, s, e.ID, closedAt.Add(2*time.Hour))
			if got, err := s.OpenEscalationByChat(t.Context(), chat); err != nil || got.ID != next.ID {
				t.Errorf("OpenEscalationByChat = %d, %v; want %d", got.ID, err, next.ID)
			}
		})
	}
	wantCode(t, s.CloseEscalation(t.Context(), 1_000_000, desk0), refund.ENOTFOUND)
	wantCode(t, s.CloseEscalation(t.Context(), 1, time.Time{}), refund.EINVALID)
	if got := mustOpenIDs(t, s); len(got) != 2 {
		t.Errorf("open escalations %v, want the 2 opened after closing", got)
	}
}

func testTouchAgentReply(t *testing.T, s AgentEscalationStore) {
	alice, bob := agentID(1), agentID(2)
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	wantCode(t, s.TouchAgentReply(t.Context(), e.ID, alice, desk0), refund.ECONFLICT)
	mustTake(t, s, e.ID, alice, desk0)
	steps := []struct {
		name  string
		agent int64
		at    time.Time
		code  string
		want  time.Time
	}{
		{"a reply", alice, time.Date(2026, 11, 22, 18, 10, 0, 999, shanghai()), "", desk0.Add(10 * time.Minute)},
		{"a later reply", alice, desk0.Add(20 * time.Minute), "", desk0.Add(20 * time.Minute)},
		// A replica with a slow clock must not make the hold look staler.
		{"an earlier reply", alice, desk0.Add(15 * time.Minute), "", desk0.Add(20 * time.Minute)},
		// Another agent's reply must not excuse the holder's silence.
		{"a reply by another agent", bob, desk0.Add(30 * time.Minute), refund.ECONFLICT, desk0.Add(20 * time.Minute)},
		{"no agent", 0, desk0.Add(30 * time.Minute), refund.EINVALID, desk0.Add(20 * time.Minute)},
		{"no time", alice, time.Time{}, refund.EINVALID, desk0.Add(20 * time.Minute)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantCode(t, s.TouchAgentReply(t.Context(), e.ID, st.agent, st.at), st.code)
			got := mustEscalation(t, s, e.ID)
			if !got.LastAgentReplyAt.Equal(st.want) || !got.TakenAt.Equal(desk0) || got.AgentUserID != alice {
				t.Errorf("LastAgentReplyAt, TakenAt, holder = %v, %v, %d; want %v, %v, %d",
					got.LastAgentReplyAt, got.TakenAt, got.AgentUserID, st.want, desk0, alice)
			}
		})
	}
	t.Run("the released holder's late reply", func(t *testing.T) {
		if _, err := s.Release(t.Context(), e.ID, alice); err != nil {
			t.Fatal(err)
		}
		mustTake(t, s, e.ID, bob, desk0.Add(40*time.Minute))
		wantCode(t, s.TouchAgentReply(t.Context(), e.ID, alice, desk0.Add(45*time.Minute)), refund.ECONFLICT)
		if got := mustEscalation(t, s, e.ID); !got.LastAgentReplyAt.IsZero() || got.AgentUserID != bob {
			t.Errorf("after Alice's late reply: held by %d, last reply %v; want Bob's hold untouched", got.AgentUserID, got.LastAgentReplyAt)
		}
	})
	mustClose(t, s, e.ID, desk0.Add(time.Hour))
	wantCode(t, s.TouchAgentReply(t.Context(), e.ID, bob, desk0.Add(time.Hour)), refund.ECONFLICT)
}
