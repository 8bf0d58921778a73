package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund"
)

func TestSessionRoundTripAndUpdateMarks(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()

	sess, dup, err := s.Begin(ctx, 42, []int{100})
	if err != nil || dup || sess.State != "" {
		t.Fatalf("fresh Begin = %+v, %v, %v; want empty session", sess, dup, err)
	}
	want := flows.Session{State: flows.StateCollectingEvidence, Lang: "en", Nonce: "abcdefgh",
		Order:    &flows.OrderSnapshot{ID: "KM1", AmountPaid: 9500, Category: refund.CategoryGameCard},
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f", FileUniqueID: "u"}},
		Version:  3, UpdatedAt: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	if err := s.Commit(ctx, 42, &want, []int{100, 101}); err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]int{{100}, {101}, {99, 101}} {
		if _, dup, err := s.Begin(ctx, 42, ids); err != nil || !dup {
			t.Fatalf("Begin(%v) duplicate = %v, %v; want true", ids, dup, err)
		}
	}
	got, dup, err := s.Begin(ctx, 42, []int{102})
	if err != nil || dup {
		t.Fatalf("Begin(102) = %v, %v", dup, err)
	}
	if got.State != want.State || got.Order.ID != "KM1" || len(got.Evidence) != 1 || got.Version != 3 || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("round trip = %+v, want %+v", got, want)
	}
	if ttl := rdb.TTL(ctx, prefix+"sess:42").Val(); ttl <= time.Hour {
		t.Fatalf("session TTL = %v, want longer than the idle timeout so expiry can be announced", ttl)
	}
	if ttl := rdb.TTL(ctx, prefix+"upd:100").Val(); ttl < 24*time.Hour {
		t.Fatalf("update mark TTL = %v, want at least Telegram's 24 h redelivery window", ttl)
	}
	if err := s.Commit(ctx, 42, nil, []int{103}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Begin(ctx, 42, nil); got.State != "" {
		t.Fatalf("after delete got %+v", got)
	}
}

func TestUnreadableSessionStartsOver(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	rdb.Set(ctx, prefix+"sess:7", "{not json", time.Minute)
	sess, dup, err := s.Begin(ctx, 7, []int{1})
	if err != nil || dup || sess.State != "" {
		t.Fatalf("Begin = %+v, %v, %v; want a fresh session", sess, dup, err)
	}
}

func TestOwnershipLockout(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if d, err := s.Locked(ctx, 5, "KM1", 3); err != nil || d != 0 {
			t.Fatalf("before failure %d: locked %v, %v", i, d, err)
		}
		n, err := s.Fail(ctx, 5, "KM1", 3, time.Hour)
		if err != nil || n != i {
			t.Fatalf("Fail #%d = %d, %v", i, n, err)
		}
	}
	d, err := s.Locked(ctx, 5, "KM1", 3)
	if err != nil || d < 59*time.Minute || d > time.Hour {
		t.Fatalf("after 3 failures locked for %v, %v; want about an hour", d, err)
	}
	if d, _ := s.Locked(ctx, 5, "KM2", 3); d != 0 {
		t.Fatalf("another order is locked too: %v", d)
	}
	if d, _ := s.Locked(ctx, 6, "KM1", 3); d != 0 {
		t.Fatalf("another user is locked too: %v", d)
	}
}
