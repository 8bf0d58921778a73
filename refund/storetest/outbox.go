package storetest

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

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
