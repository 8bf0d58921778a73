package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The queue's order, and silent holds put back in it.

func testQueueOrder(t *testing.T, s AgentEscalationStore) {
	open := func(chat int64, due time.Duration, created time.Duration) refund.Escalation {
		e := newEscalation(chat)
		e.Due, e.CreatedAt = time.Time{}, desk0.Add(created)
		if due != 0 {
			e.Due = desk0.Add(due)
		}
		return mustOpenEscalation(t, s, e)
	}
	// Opened in an order that matches none of the orders to check.
	noDue := open(1, 0, 0)
	later := open(2, 2*time.Hour, time.Minute)
	soonNewer := open(3, time.Hour, 2*time.Minute)
	noDueTwin := open(4, 0, 0) // created with noDue: the ID breaks the tie
	soon := open(5, time.Hour, time.Minute)
	held := open(6, 3*time.Hour, 0)
	closed := open(7, -time.Hour, 0)
	mustTake(t, s, held.ID, agentID(1), desk0)
	mustClose(t, s, closed.ID, desk0)

	wantPositions := func(t *testing.T, want map[int64]int) {
		t.Helper()
		for id, pos := range want {
			got, err := s.QueuePosition(t.Context(), id)
			if err != nil || got != pos {
				t.Errorf("QueuePosition(%d) = %d, %v; want %d", id, got, err, pos)
			}
		}
	}
	wantPositions(t, map[int64]int{soon.ID: 1, soonNewer.ID: 2, later.ID: 3, noDue.ID: 4, noDueTwin.ID: 5,
		held.ID: 0, closed.ID: 0})
	want := []int64{soon.ID, soonNewer.ID, later.ID, held.ID, noDue.ID, noDueTwin.ID}
	if got := mustOpenIDs(t, s); !slices.Equal(got, want) {
		t.Errorf("OpenEscalations = %v, want %v", got, want)
	}

	t.Run("a taken escalation leaves the queue and comes back to its place", func(t *testing.T) {
		mustTake(t, s, soon.ID, agentID(2), desk0)
		wantPositions(t, map[int64]int{soon.ID: 0, soonNewer.ID: 1, noDueTwin.ID: 4})
		if _, err := s.Release(t.Context(), soon.ID, agentID(2)); err != nil {
			t.Fatal(err)
		}
		wantPositions(t, map[int64]int{soon.ID: 1, soonNewer.ID: 2, noDueTwin.ID: 5})
	})
}

func mustReleaseSilentHolds(t *testing.T, s refund.EscalationStore, before time.Time) []refund.Escalation {
	t.Helper()
	released, err := s.ReleaseSilentHolds(t.Context(), before)
	if err != nil {
		t.Fatalf("ReleaseSilentHolds(%v): %v", before, err)
	}
	return released
}

func testReleaseSilentHolds(t *testing.T, s AgentEscalationStore) {
	// hold opens an escalation for a chat and gives it to that chat's
	// agent, who replies at replied unless it is 0.
	hold := func(chat int64, taken, replied time.Duration) refund.Escalation {
		e := mustOpenEscalation(t, s, newEscalation(chat))
		mustTake(t, s, e.ID, agentID(int(chat)), desk0.Add(taken))
		if replied != 0 {
			if err := s.TouchAgentReply(t.Context(), e.ID, agentID(int(chat)), desk0.Add(replied)); err != nil {
				t.Fatal(err)
			}
		}
		return mustEscalation(t, s, e.ID)
	}
	silent := hold(1, 0, 0)
	answered := hold(2, 0, 20*time.Minute)
	takenLate := hold(3, 20*time.Minute, 0)
	answeredEarly := hold(4, 5*time.Minute, 10*time.Minute)
	takenAtCutoff := hold(5, 15*time.Minute, 0)
	queued := mustOpenEscalation(t, s, newEscalation(6)) // nobody's silence
	closed := hold(7, 0, 0)
	mustClose(t, s, closed.ID, desk0)
	closed = mustEscalation(t, s, closed.ID)
	// Silent for most of the time, but the reply landed before the sweep.
	repliedLast := hold(8, 0, 0)
	if err := s.TouchAgentReply(t.Context(), repliedLast.ID, repliedLast.AgentUserID, desk0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	repliedLast = mustEscalation(t, s, repliedLast.ID)
	// Replied a microsecond before the cut-off, and exactly at it.
	justBefore := hold(9, 0, 90*time.Minute-time.Microsecond)
	atCutoff := hold(10, 0, 90*time.Minute)

	held := map[int64]refund.Escalation{}
	for _, e := range []refund.Escalation{silent, answered, takenLate, answeredEarly, takenAtCutoff,
		repliedLast, justBefore, atCutoff} {
		held[e.ID] = e
	}
	// Each step releases what has fallen silent since the last one.
	steps := []struct {
		name   string
		before time.Time
		want   []int64
	}{
		{"before any hold", desk0, nil},
		// Strictly before: a hold taken at the cut-off is not silent yet.
		{"a quarter hour in", desk0.Add(15 * time.Minute), []int64{silent.ID, answeredEarly.ID}},
		{"again", desk0.Add(15 * time.Minute), nil},
		// Compared at the stored precision: nanoseconds do not count.
		{"less than a microsecond later", desk0.Add(15*time.Minute + 999*time.Nanosecond), nil},
		{"a microsecond later", desk0.Add(15*time.Minute + time.Microsecond), []int64{takenAtCutoff.ID}},
		// Longest silent first; equally silent by ID.
		{"an hour in", desk0.Add(time.Hour), []int64{answered.ID, takenLate.ID}},
		{"an hour and a half in", desk0.Add(90 * time.Minute), []int64{justBefore.ID}},
	}
	released := map[int64]bool{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := mustReleaseSilentHolds(t, s, st.before)
			if !slices.Equal(ids(got), st.want) {
				t.Fatalf("ReleaseSilentHolds(%v) = %v, want %v", st.before, ids(got), st.want)
			}
			for _, e := range got {
				// As it was held, so that the sweeper can tell the agent.
				wantEscalation(t, e, held[e.ID])
				released[e.ID] = true
			}
			for id, h := range held {
				if !released[id] {
					wantEscalation(t, mustEscalation(t, s, id), h)
					continue
				}
				// Back in the queue with nothing of the silent holder.
				want := h
				want.Status, want.AgentUserID, want.TakenAt, want.LastAgentReplyAt = refund.EscalationQueued, 0, time.Time{}, time.Time{}
				wantEscalation(t, mustEscalation(t, s, id), want)
				if pos, err := s.QueuePosition(t.Context(), id); err != nil || pos == 0 {
					t.Errorf("QueuePosition of released escalation %d = %d, %v; want a place in the queue", id, pos, err)
				}
			}
			wantEscalation(t, mustEscalation(t, s, queued.ID), queued)
			wantEscalation(t, mustEscalation(t, s, closed.ID), closed)
		})
	}
	t.Run("the released holder's late reply is ECONFLICT", func(t *testing.T) {
		err := s.TouchAgentReply(t.Context(), silent.ID, silent.AgentUserID, desk0.Add(3*time.Hour))
		wantCode(t, err, refund.ECONFLICT)
		if got := mustEscalation(t, s, silent.ID); got.Status != refund.EscalationQueued || !got.LastAgentReplyAt.IsZero() {
			t.Errorf("after a late reply: %+v, want queued with no reply", got)
		}
	})
	for _, e := range []refund.Escalation{repliedLast, atCutoff} {
		if got := mustEscalation(t, s, e.ID); got.Status != refund.EscalationHeld {
			t.Errorf("escalation %d replied to at %v is %s, want still held", e.ID, e.LastAgentReplyAt, got.Status)
		}
	}
}

func testConcurrentReleaseSilentHolds(t *testing.T, s AgentEscalationStore) {
	const silentHolds, callers = 12, 8
	before := desk0.Add(time.Hour)
	for i := range silentHolds {
		e := mustOpenEscalation(t, s, newEscalation(buyerChat+int64(i)))
		mustTake(t, s, e.ID, agentID(i), desk0.Add(time.Duration(i)*time.Minute))
	}
	// Held but not silent, and queued: neither is released.
	busy := mustOpenEscalation(t, s, newEscalation(buyerChat+100))
	mustTake(t, s, busy.ID, agentID(100), before)
	queued := mustOpenEscalation(t, s, newEscalation(buyerChat+101))

	got := make([][]refund.Escalation, callers)
	errs := make([]error, callers)
	concurrently(callers, func(i int) { got[i], errs[i] = s.ReleaseSilentHolds(t.Context(), before) })
	seen := map[int64]int{}
	total := 0
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
			continue
		}
		total += len(got[i])
		for _, e := range got[i] {
			if prev, ok := seen[e.ID]; ok {
				t.Errorf("escalation %d released by callers %d and %d", e.ID, prev, i)
			}
			seen[e.ID] = i
			if e.Status != refund.EscalationHeld || e.AgentUserID == 0 {
				t.Errorf("released escalation %d returned as %s by %d, want as held", e.ID, e.Status, e.AgentUserID)
			}
		}
	}
	if total != silentHolds {
		t.Errorf("callers released %d holds in all, want %d", total, silentHolds)
	}
	open, err := s.OpenEscalations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range open {
		wantHeld := e.ID == busy.ID
		if (e.Status == refund.EscalationHeld) != wantHeld {
			t.Errorf("escalation %d is %s after the sweeps", e.ID, e.Status)
		}
	}
	wantEscalation(t, mustEscalation(t, s, queued.ID), queued)
}

func testReleaseSilentHoldsRacingReplies(t *testing.T, s AgentEscalationStore) {
	const n = 10
	before := desk0.Add(time.Hour)
	holds := make([]refund.Escalation, n)
	for i := range holds {
		e := mustOpenEscalation(t, s, newEscalation(buyerChat+int64(i)))
		holds[i] = mustTake(t, s, e.ID, agentID(i), desk0)
	}
	// Every holder replies, at a time that keeps the hold, while a sweep
	// runs: each reply either lands first and keeps the hold, or finds the
	// hold released.
	var released []refund.Escalation
	var sweepErr error
	touchErrs := make([]error, n)
	concurrently(n+1, func(i int) {
		if i == n {
			released, sweepErr = s.ReleaseSilentHolds(t.Context(), before)
			return
		}
		touchErrs[i] = s.TouchAgentReply(t.Context(), holds[i].ID, holds[i].AgentUserID, before)
	})
	if sweepErr != nil {
		t.Fatalf("ReleaseSilentHolds: %v", sweepErr)
	}
	wasReleased := map[int64]bool{}
	for _, e := range released {
		wasReleased[e.ID] = true
	}
	for i, h := range holds {
		got := mustEscalation(t, s, h.ID)
		switch code := refund.ErrorCode(touchErrs[i]); {
		case touchErrs[i] == nil:
			if wasReleased[h.ID] || got.Status != refund.EscalationHeld || !got.LastAgentReplyAt.Equal(before) {
				t.Errorf("escalation %d: reply recorded, but released %v, now %s, last reply %v",
					h.ID, wasReleased[h.ID], got.Status, got.LastAgentReplyAt)
			}
		case code == refund.ECONFLICT:
			if !wasReleased[h.ID] || got.Status != refund.EscalationQueued {
				t.Errorf("escalation %d: reply refused, but released %v, now %s", h.ID, wasReleased[h.ID], got.Status)
			}
		default:
			t.Errorf("reply to escalation %d: %v, want success or ECONFLICT", h.ID, touchErrs[i])
		}
	}
}
