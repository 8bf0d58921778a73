package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// An escalation's forum topic: one topic one escalation, found by its
// thread.

func mustSetThread(t *testing.T, s refund.EscalationStore, id int64, thread int) {
	t.Helper()
	if err := s.SetThread(t.Context(), id, thread); err != nil {
		t.Fatalf("SetThread(%d, %d): %v", id, thread, err)
	}
}

// wantByThread checks that a forum topic finds the escalation as stored.
func wantByThread(t *testing.T, s refund.EscalationStore, thread int, want refund.Escalation) {
	t.Helper()
	got, err := s.EscalationByThread(t.Context(), thread)
	if err != nil {
		t.Fatalf("EscalationByThread(%d): %v", thread, err)
	}
	wantEscalation(t, got, want)
}

func testThreadRoundTrip(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	other := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	// Thread IDs are message IDs, which can pass 2^31 in a busy chat.
	const thread = 1<<31 + 7
	mustSetThread(t, s, e.ID, thread)
	want := e
	want.ThreadID = thread

	wantEscalation(t, mustEscalation(t, s, e.ID), want)
	byChat, err := s.OpenEscalationByChat(t.Context(), buyerChat)
	if err != nil {
		t.Fatalf("OpenEscalationByChat: %v", err)
	}
	wantEscalation(t, byChat, want)
	open, err := s.OpenEscalations(t.Context())
	if err != nil {
		t.Fatalf("OpenEscalations: %v", err)
	}
	if len(open) != 2 {
		t.Fatalf("OpenEscalations = %v, want 2", ids(open))
	}
	for _, got := range open {
		switch got.ID {
		case e.ID:
			wantEscalation(t, got, want)
		case other.ID:
			wantEscalation(t, got, other)
		default:
			t.Errorf("OpenEscalations lists unknown escalation %d", got.ID)
		}
	}
	wantByThread(t, s, thread, want)
	// OpenEscalation finding the chat's escalation returns it with its topic.
	again, created, err := s.OpenEscalation(t.Context(), newEscalation(buyerChat))
	if err != nil || created {
		t.Fatalf("OpenEscalation of an open chat: created %v, %v", created, err)
	}
	wantEscalation(t, again, want)

	// The topic stays through a hold, its release and the close, and the
	// sweep reports it with the hold.
	held := mustTake(t, s, e.ID, agentID(1), desk0)
	if held.ThreadID != thread {
		t.Errorf("Take returned thread %d, want %d", held.ThreadID, thread)
	}
	wantByThread(t, s, thread, held)
	released, err := s.ReleaseSilentHolds(t.Context(), desk0.Add(time.Hour))
	if err != nil {
		t.Fatalf("ReleaseSilentHolds: %v", err)
	}
	if len(released) != 1 {
		t.Fatalf("ReleaseSilentHolds released %v, want [%d]", ids(released), e.ID)
	}
	wantEscalation(t, released[0], held)
	want.FirstTakenAt = desk0
	wantByThread(t, s, thread, want)
	mustClose(t, s, e.ID, desk0)
	closed := want
	closed.Status, closed.ClosedAt = refund.EscalationClosed, desk0
	// A message in a closed escalation's topic still finds it, so that the
	// agent can be told it is closed.
	wantByThread(t, s, thread, closed)

	for _, unknown := range []int{thread + 1, 1, 0, -thread} {
		_, err := s.EscalationByThread(t.Context(), unknown)
		wantCode(t, err, refund.ENOTFOUND)
	}
	wantEscalation(t, mustEscalation(t, s, other.ID), other)
}

func testSetThread(t *testing.T, s AgentEscalationStore) {
	first := mustOpenEscalation(t, s, newEscalation(buyerChat))
	second := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	closed := mustOpenEscalation(t, s, newEscalation(buyerChat+2))
	mustSetThread(t, s, closed.ID, 300)
	mustClose(t, s, closed.ID, desk0)
	steps := []struct {
		name   string
		id     int64
		thread int
		code   string
	}{
		{"a topic", first.ID, 100, ""},
		// A retried topic creation sets it twice.
		{"the same topic again", first.ID, 100, ""},
		{"another escalation's topic", second.ID, 100, refund.ECONFLICT},
		{"a closed escalation's topic", second.ID, 300, refund.ECONFLICT},
		{"no topic", second.ID, 0, refund.EINVALID},
		{"a negative topic", second.ID, -100, refund.EINVALID},
		{"an unknown escalation", closed.ID + 100, 400, refund.ENOTFOUND},
		// An unknown escalation is ENOTFOUND whatever the topic.
		{"an unknown escalation, another's topic", closed.ID + 100, 100, refund.ENOTFOUND},
		{"the second's topic", second.ID, 200, ""},
		// A recreated topic replaces the old one, which is then free.
		{"the second's new topic", second.ID, 201, ""},
		{"the second's old topic to the first", first.ID, 200, ""},
		{"the first's old topic to the second", second.ID, 100, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantCode(t, s.SetThread(t.Context(), st.id, st.thread), st.code)
		})
	}
	tests := []struct {
		thread int
		id     int64
	}{
		{100, second.ID},
		{200, first.ID},
		{300, closed.ID},
		{201, 0},
		{400, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("thread %d", tt.thread), func(t *testing.T) {
			got, err := s.EscalationByThread(t.Context(), tt.thread)
			if tt.id == 0 {
				wantCode(t, err, refund.ENOTFOUND)
				return
			}
			if err != nil {
				t.Fatalf("EscalationByThread(%d): %v", tt.thread, err)
			}
			wantEscalation(t, got, mustEscalation(t, s, tt.id))
			if got.ID != tt.id || got.ThreadID != tt.thread {
				t.Errorf("EscalationByThread(%d) = escalation %d with thread %d, want %d", tt.thread, got.ID, got.ThreadID, tt.id)
			}
		})
	}
}

func testConcurrentSetThread(t *testing.T, s AgentEscalationStore) {
	const n, thread = 10, 500
	es := make([]refund.Escalation, n)
	for i := range es {
		es[i] = mustOpenEscalation(t, s, newEscalation(buyerChat+int64(i)))
	}
	errs := make([]error, n)
	concurrently(n, func(i int) { errs[i] = s.SetThread(t.Context(), es[i].ID, thread) })
	winner := -1
	for i, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("escalations %d and %d both got thread %d", es[winner].ID, es[i].ID, thread)
			}
			winner = i
		case refund.ECONFLICT:
		default:
			t.Errorf("escalation %d: %v, want success or ECONFLICT", es[i].ID, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no escalation got thread %d", thread)
	}
	got, err := s.EscalationByThread(t.Context(), thread)
	if err != nil || got.ID != es[winner].ID {
		t.Errorf("EscalationByThread = %d, %v; want %d", got.ID, err, es[winner].ID)
	}
	for i, e := range es {
		want := 0
		if i == winner {
			want = thread
		}
		if got := mustEscalation(t, s, e.ID); got.ThreadID != want {
			t.Errorf("escalation %d has thread %d, want %d", e.ID, got.ThreadID, want)
		}
	}
}
