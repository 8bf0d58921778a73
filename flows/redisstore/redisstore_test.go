package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund"
)

// The store keeps whatever state a dialog names; these stand for any.
const (
	stateA flows.State = "awaiting_order"
	stateB flows.State = "awaiting_phone"
	stateC flows.State = "collecting_evidence"
)

func TestSessionRoundTripAndUpdateMarks(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()

	claim, err := s.Begin(ctx, 42, []int{100})
	if err != nil || claim.Duplicate || claim.Flooded || claim.Session.State != "" || claim.Fence == 0 {
		t.Fatalf("fresh Begin = %+v, %v; want an empty session under a lease", claim, err)
	}
	want := flows.Session{State: stateC, Lang: "en", Nonce: "abcdefgh",
		Order:    &flows.OrderSnapshot{ID: "KM1", AmountPaid: 9500, Category: refund.CategoryGameCard},
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f", FileUniqueID: "u"}},
		Version:  3, UpdatedAt: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	if _, err := s.Commit(ctx, 42, claim.Fence, &want, []int{100, 101}, nil); err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]int{{100}, {101}, {99, 101}} {
		if c, err := s.Begin(ctx, 42, ids); err != nil || !c.Duplicate {
			t.Fatalf("Begin(%v) = %+v, %v; want a duplicate", ids, c, err)
		}
	}
	got, err := s.Begin(ctx, 42, []int{102})
	if err != nil || got.Duplicate {
		t.Fatalf("Begin(102) = %+v, %v", got, err)
	}
	if got.Fence <= claim.Fence {
		t.Fatalf("second fence %d, first %d: fences must grow", got.Fence, claim.Fence)
	}
	g := got.Session
	if g.State != want.State || g.Order.ID != "KM1" || len(g.Evidence) != 1 || g.Version != 3 || !g.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("round trip = %+v, want %+v", g, want)
	}
	if ttl := rdb.TTL(ctx, prefix+"sess:42").Val(); ttl <= time.Hour {
		t.Fatalf("session TTL = %v, want longer than the idle timeout so expiry can be announced", ttl)
	}
	if ttl := rdb.TTL(ctx, prefix+"upd:100").Val(); ttl < 24*time.Hour {
		t.Fatalf("update mark TTL = %v, want at least Telegram's 24 h redelivery window", ttl)
	}
	if _, err := s.Commit(ctx, 42, got.Fence, nil, []int{103}, nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Begin(ctx, 42, nil); c.Session.State != "" {
		t.Fatalf("after delete got %+v", c.Session)
	}
}

func TestUnreadableSessionStartsOver(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	rdb.Set(ctx, prefix+"sess:7", "{not json", time.Minute)
	c, err := s.Begin(ctx, 7, []int{1})
	if err != nil || c.Duplicate || c.Session.State != "" {
		t.Fatalf("Begin = %+v, %v; want a fresh session", c, err)
	}
}

// TestLeaseSerializesAChat: a second Begin on the chat waits for the first
// holder's Commit, and then sees what it saved; another chat never waits.
func TestLeaseSerializesAChat(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	first, err := s.Begin(ctx, 1, []int{10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, 2, []int{20}); err != nil {
		t.Fatalf("another chat waited or failed: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	if _, err := s.Begin(short, 1, []int{11}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Begin while held = %v, want it to wait until the deadline", err)
	}
	second := make(chan flows.Claim, 1)
	go func() {
		c, err := s.Begin(ctx, 1, []int{11})
		if err != nil {
			t.Error(err)
		}
		second <- c
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case c := <-second:
		t.Fatalf("second Begin got %+v while the first held the lease", c)
	default:
	}
	if _, err := s.Commit(ctx, 1, first.Fence, &flows.Session{State: stateA, Version: 1}, []int{10}, nil); err != nil {
		t.Fatal(err)
	}
	c := <-second
	if c.Session.State != stateA || c.Fence <= first.Fence {
		t.Fatalf("after the commit the waiter got %+v; want the saved state and a newer fence", c)
	}
}

// TestFencingRefusesAStaleHolder: a holder whose lease ran out and was
// taken by another can neither save, nor extend, nor release the new
// holder's lease.
func TestFencingRefusesAStaleHolder(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{LeaseTTL: 100 * time.Millisecond})
	ctx := context.Background()
	stale, err := s.Begin(ctx, 3, []int{30})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the holder "paused" past its lease
	current, err := s.Begin(ctx, 3, []int{30})
	if err != nil || current.Duplicate {
		t.Fatalf("Begin after expiry = %+v, %v; want the update handled again", current, err)
	}
	if _, err := s.Commit(ctx, 3, stale.Fence, &flows.Session{State: stateB}, []int{30}, nil); !errors.Is(err, flows.ErrLeaseLost) {
		t.Fatalf("stale Commit = %v, want ErrLeaseLost", err)
	}
	if err := s.Extend(ctx, 3, stale.Fence); !errors.Is(err, flows.ErrLeaseLost) {
		t.Fatalf("stale Extend = %v, want ErrLeaseLost", err)
	}
	if err := s.Release(ctx, 3, stale.Fence); err != nil {
		t.Fatal(err)
	}
	if err := s.Extend(ctx, 3, current.Fence); err != nil {
		t.Fatalf("the stale Release took the current holder's lease: %v", err)
	}
	if _, err := s.Commit(ctx, 3, current.Fence, &flows.Session{State: stateA}, []int{30}, nil); err != nil {
		t.Fatal(err)
	}
	c, err := s.Begin(ctx, 3, []int{31})
	if err != nil || c.Session.State != stateA {
		t.Fatalf("saved state = %+v, %v; want the current holder's", c.Session, err)
	}
	if err := s.Release(ctx, 3, c.Fence); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Begin(ctx, 3, []int{31}); err != nil || c.Duplicate {
		t.Fatalf("after Release the update is %+v, %v; want it handled again", c, err)
	}
}

// TestFloodLimit: past the limit within the window inputs are flooded, the
// first of them flagged once; duplicates do not count; the window ends.
func TestFloodLimit(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{FloodLimit: 3, FloodWindow: 300 * time.Millisecond})
	ctx := context.Background()
	var got []string
	for id := 1; id <= 6; id++ {
		c, err := s.Begin(ctx, 9, []int{id})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.FirstFlooded:
			got = append(got, "first-flood")
		case c.Flooded:
			got = append(got, "flood")
		default:
			got = append(got, "ok")
			if _, err := s.Commit(ctx, 9, c.Fence, &flows.Session{}, []int{id}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if id == 2 { // a redelivered update is a duplicate, not another input
			if c, _ := s.Begin(ctx, 9, []int{2}); !c.Duplicate {
				t.Fatalf("redelivery = %+v, want duplicate", c)
			}
		}
	}
	if want := "ok ok ok first-flood flood flood"; strings.Join(got, " ") != want {
		t.Fatalf("inputs = %v, want %s", got, want)
	}
	if c, _ := s.Begin(ctx, 9, []int{5}); !c.Duplicate {
		t.Fatalf("a flooded update redelivered = %+v, want duplicate", c)
	}
	if c, err := s.Begin(ctx, 10, []int{100}); err != nil || c.Flooded {
		t.Fatalf("another chat = %+v, %v; want it unaffected", c, err)
	}
	for id := 200; id < 210; id++ { // a group, such as the agents' team chat, is never flooded
		c, err := s.Begin(ctx, -100, []int{id})
		if err != nil || c.Flooded {
			t.Fatalf("group input %d = %+v, %v; want it handled", id, c, err)
		}
		if _, err := s.Commit(ctx, -100, c.Fence, &flows.Session{}, []int{id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(350 * time.Millisecond)
	if c, err := s.Begin(ctx, 9, []int{7}); err != nil || c.Flooded {
		t.Fatalf("after the window = %+v, %v; want served again", c, err)
	}
}

// A lockout reaches the user's turns with their claim, for the order
// locked only, for as long as it lasts.
func TestOwnershipLockout(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	locks := func(user int64) map[string]time.Duration {
		t.Helper()
		c, err := s.Begin(ctx, user, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, user, c.Fence); err != nil {
			t.Fatal(err)
		}
		return c.OwnershipLocks
	}
	for i := 1; i <= 3; i++ {
		if l := locks(5); len(l) != 0 {
			t.Fatalf("before failure %d: locks %v", i, l)
		}
		n, err := s.Fail(ctx, 5, "KM1", 3, time.Hour)
		if err != nil || n != i {
			t.Fatalf("Fail #%d = %d, %v", i, n, err)
		}
	}
	l := locks(5)
	if d := l["KM1"]; d < 59*time.Minute || d > time.Hour || len(l) != 1 {
		t.Fatalf("after 3 failures locks %v; want KM1 for about an hour, nothing else", l)
	}
	if l := locks(6); len(l) != 0 {
		t.Fatalf("another user is locked too: %v", l)
	}
	// A short lock runs out and is not handed over after it did, while a
	// longer one of the same user lasts.
	for _, lock := range []struct {
		order string
		d     time.Duration
	}{{"KM8", time.Hour}, {"KM9", 150 * time.Millisecond}} {
		for range 3 {
			if _, err := s.Fail(ctx, 7, lock.order, 3, lock.d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if l := locks(7); l["KM9"] <= 0 || l["KM8"] <= 0 {
		t.Fatalf("locks %v; want KM8 and KM9", l)
	}
	time.Sleep(200 * time.Millisecond)
	if l := locks(7); len(l) != 1 || l["KM8"] < 59*time.Minute {
		t.Fatalf("locks %v after the short one ran out; want KM8 only", l)
	}
}

// When the Bot API's ids start again, the marks of the old ids must not
// swallow the new updates; a redelivery within the new era is still a
// duplicate, and one that comes a little late is no restart.
func TestUpdateIDsStartingAgain(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	handle := func(chat int64, id int) flows.Claim {
		t.Helper()
		c, err := s.Begin(ctx, chat, []int{id})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Duplicate && !c.Flooded {
			if _, err := s.Commit(ctx, chat, c.Fence, &flows.Session{State: stateA}, []int{id}, nil); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	for id := 1; id <= 5; id++ {
		handle(1, id)
	}
	handle(2, 5000)
	if c := handle(1, 5000-redisstore.RestartGap); c.Duplicate || c.IDsRestarted {
		t.Fatalf("an update %d behind the highest = %+v, want handled, no restart", redisstore.RestartGap, c)
	}
	// The server lost its state: ids start at 1 again.
	c := handle(3, 1)
	if c.Duplicate || !c.IDsRestarted {
		t.Fatalf("id 1 after 5000 = %+v, want handled as new, and the restart reported", c)
	}
	for id := 2; id <= 5; id++ {
		if c := handle(3, id); c.Duplicate || c.IDsRestarted {
			t.Fatalf("new id %d = %+v, want handled, the restart reported once", id, c)
		}
	}
	if c := handle(3, 3); !c.Duplicate {
		t.Fatalf("a redelivery in the new era = %+v, want a duplicate", c)
	}

	// Another bot behind the same prefix: its ids are not this one's.
	if changed, err := s.ClaimBot(ctx, 111); err != nil || changed {
		t.Fatalf("first ClaimBot = %v, %v; want no change", changed, err)
	}
	if changed, err := s.ClaimBot(ctx, 111); err != nil || changed {
		t.Fatalf("same bot again = %v, %v; want no change", changed, err)
	}
	if c := handle(3, 4); !c.Duplicate {
		t.Fatalf("a redelivery for the same bot = %+v, want a duplicate", c)
	}
	if changed, err := s.ClaimBot(ctx, 222); err != nil || !changed {
		t.Fatalf("another bot = %v, %v; want changed", changed, err)
	}
	if c := handle(3, 4); c.Duplicate {
		t.Fatalf("update 4 of the new bot = %+v, want handled: the old bot's mark does not count", c)
	}
}

// Marks made before eras existed hold "1", which is era 1: an upgrade
// must not hand every recent update again.
func TestMarksFromBeforeErasStillCount(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	if err := rdb.Set(ctx, prefix+"upd:77", 1, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Begin(ctx, 9, []int{77}); err != nil || !c.Duplicate {
		t.Fatalf("Begin over an old mark = %+v, %v; want a duplicate", c, err)
	}
}

// TestAnAgentsPrivateChatHasNoFloodLimit: a staff member answering five
// held chats in their private chat writes more than a buyer types; their
// answers and commands are never dropped as a flood, while a buyer's
// chat still is.
func TestAnAgentsPrivateChatHasNoFloodLimit(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{FloodLimit: 3})
	ctx := context.Background()
	if err := s.SetAgentChat(ctx, 9017, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		chat    int64
		flooded bool
	}{{9017, false}, {1001, true}} {
		flooded := false
		for i := range 10 {
			id := int(tc.chat)*100 + i
			c, err := s.Begin(ctx, tc.chat, []int{id})
			if err != nil {
				t.Fatal(err)
			}
			if c.Flooded {
				flooded = true
				continue
			}
			if _, err := s.Commit(ctx, tc.chat, c.Fence, &flows.Session{}, []int{id}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if flooded != tc.flooded {
			t.Errorf("chat %d: flooded = %v after 10 inputs over a limit of 3, want %v", tc.chat, flooded, tc.flooded)
		}
	}
}
