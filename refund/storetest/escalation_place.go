package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The buyer's place message, and the history of waits the queue's
// estimate is made from.

func testPlace(t *testing.T, s AgentEscalationStore) {
	ctx := t.Context()
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	other := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	edited := time.Date(2026, 11, 22, 18, 30, 0, 123456789, shanghai())

	// Nothing to edit before the message is out, whatever the text.
	if err := s.RecordPlace(ctx, e.ID, "1 ahead"); err != nil {
		t.Fatalf("RecordPlace: %v", err)
	}
	if ok, err := s.SwapPlace(ctx, e.ID, "1 ahead", "0 ahead", edited); err != nil || ok {
		t.Fatalf("SwapPlace before LinkPlace = %v, %v; want false", ok, err)
	}
	if err := s.LinkPlace(ctx, e.ID, 2_147_483_650); err != nil {
		t.Fatalf("LinkPlace: %v", err)
	}
	want := e
	want.PlaceMessageID, want.PlaceText = 2_147_483_650, "1 ahead"
	wantEscalation(t, mustEscalation(t, s, e.ID), want)
	wantEscalation(t, mustEscalation(t, s, other.ID), other)

	steps := []struct {
		name     string
		from, to string
		at       time.Time
		ok       bool
		text     string
		editedAt time.Time
	}{
		{"from a text it does not show", "2 ahead", "0 ahead", edited, false, "1 ahead", time.Time{}},
		{"from the text it shows", "1 ahead", "0 ahead", edited, true, "0 ahead", norm(edited)},
		{"the same swap again loses", "1 ahead", "0 ahead", edited.Add(time.Minute), false, "0 ahead", norm(edited)},
		{"back without a time keeps the edit time", "0 ahead", "1 ahead", time.Time{}, true, "1 ahead", norm(edited)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ok, err := s.SwapPlace(ctx, e.ID, st.from, st.to, st.at)
			if err != nil || ok != st.ok {
				t.Fatalf("SwapPlace(%q → %q) = %v, %v; want %v", st.from, st.to, ok, err, st.ok)
			}
			got := mustEscalation(t, s, e.ID)
			if got.PlaceText != st.text || !got.PlaceEditedAt.Equal(st.editedAt) {
				t.Errorf("place %q edited %v, want %q edited %v", got.PlaceText, got.PlaceEditedAt, st.text, st.editedAt)
			}
			if !got.PlaceEditedAt.IsZero() {
				wantUTC(t, "PlaceEditedAt", got.PlaceEditedAt)
			}
		})
	}

	t.Run("a newer place message replaces the old", func(t *testing.T) {
		if err := s.LinkPlace(ctx, e.ID, 77); err != nil {
			t.Fatal(err)
		}
		if got := mustEscalation(t, s, e.ID); got.PlaceMessageID != 77 {
			t.Errorf("place message %d, want 77", got.PlaceMessageID)
		}
	})
	t.Run("concurrent swaps of one text: exactly one wins", func(t *testing.T) {
		const n = 8
		oks := make([]bool, n)
		errs := make([]error, n)
		concurrently(n, func(i int) { oks[i], errs[i] = s.SwapPlace(ctx, e.ID, "1 ahead", "0 ahead", edited) })
		won := 0
		for i := range n {
			if errs[i] != nil {
				t.Errorf("swap %d: %v", i, errs[i])
			}
			if oks[i] {
				won++
			}
		}
		if won != 1 {
			t.Errorf("%d swaps won, want 1", won)
		}
	})
	t.Run("only a queued escalation's place is edited", func(t *testing.T) {
		mustTake(t, s, e.ID, agentID(1), desk0)
		if ok, err := s.SwapPlace(ctx, e.ID, "0 ahead", "gone", edited); err != nil || ok {
			t.Errorf("SwapPlace of a held escalation = %v, %v; want false", ok, err)
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		wantField(t, s.LinkPlace(ctx, e.ID, 0), "message_id")
		wantCode(t, s.LinkPlace(ctx, 999_999, 5), refund.ENOTFOUND)
		wantCode(t, s.RecordPlace(ctx, 999_999, "x"), refund.ENOTFOUND)
		if ok, err := s.SwapPlace(ctx, 999_999, "", "x", edited); err != nil || ok {
			t.Errorf("SwapPlace of an unknown escalation = %v, %v; want false", ok, err)
		}
	})
}

func testRecentWaits(t *testing.T, s AgentEscalationStore) {
	ctx := t.Context()
	// taken opens an escalation at created and takes it at taken (both
	// after desk0), returning its wait as the store should report it.
	var bID int64
	taken := func(chat int64, created, took time.Duration) refund.QueueWait {
		e := newEscalation(chat)
		e.CreatedAt = desk0.Add(created).In(shanghai())
		e = mustOpenEscalation(t, s, e)
		mustTake(t, s, e.ID, agentID(int(chat)), desk0.Add(took))
		bID = e.ID
		return refund.QueueWait{CreatedAt: desk0.Add(created), TakenAt: desk0.Add(took)}
	}
	old := taken(1, 0, time.Minute)
	a := taken(2, time.Minute, 10*time.Minute)
	b := taken(3, 2*time.Minute, 20*time.Minute)
	// A released hold keeps its first take: taking it again is no new wait.
	if _, err := s.Release(ctx, bID, agentID(3)); err != nil {
		t.Fatal(err)
	}
	mustTake(t, s, bID, agentID(9), desk0.Add(40*time.Minute))
	c := taken(4, 3*time.Minute, 30*time.Minute)
	mustOpenEscalation(t, s, newEscalation(5)) // queued: no wait yet

	tests := []struct {
		name  string
		since time.Time
		limit int
		want  []refund.QueueWait
	}{
		{"everything, most recent first", desk0, 10, []refund.QueueWait{c, b, a, old}},
		{"since a time, inclusive", desk0.Add(10 * time.Minute), 10, []refund.QueueWait{c, b, a}},
		{"bounded by limit", desk0, 2, []refund.QueueWait{c, b}},
		{"none since", desk0.Add(time.Hour), 10, nil},
		{"no limit", desk0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RecentWaits(ctx, tt.since, tt.limit)
			if err != nil {
				t.Fatalf("RecentWaits: %v", err)
			}
			for _, w := range got {
				wantUTC(t, "CreatedAt", w.CreatedAt)
				wantUTC(t, "TakenAt", w.TakenAt)
			}
			if !slices.EqualFunc(got, tt.want, func(x, y refund.QueueWait) bool {
				return x.CreatedAt.Equal(y.CreatedAt) && x.TakenAt.Equal(y.TakenAt)
			}) {
				t.Errorf("RecentWaits(%v, %d) = %v, want %v", tt.since, tt.limit, got, tt.want)
			}
		})
	}
}
