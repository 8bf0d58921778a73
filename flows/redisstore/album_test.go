package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
)

// item is a stand-in for an album item's update JSON: the store keeps
// whatever it is given.
func item(id int) []byte { return []byte(fmt.Sprintf(`{"update_id":%d}`, id)) }

// sortedItems is a batch in a comparable order (the store gives no order;
// the adapter orders by message).
func sortedItems(items [][]byte) []string {
	var out []string
	for _, it := range items {
		out = append(out, string(it))
	}
	slices.Sort(out)
	return out
}

// takeWhenQuiet takes the album once its quiet period is over.
func takeWhenQuiet(t *testing.T, s *redisstore.Store, chatID int64, group string, claim int64) [][]byte {
	t.Helper()
	for range 50 {
		items, wait, err := s.TakeAlbum(context.Background(), chatID, group, claim)
		if err != nil {
			t.Fatalf("TakeAlbum: %v", err)
		}
		if wait == 0 {
			return items
		}
		time.Sleep(wait)
	}
	t.Fatal("the album never became quiet")
	return nil
}

// TestAlbumCollectsItemsOnce: the first item claims the album, the others
// and a duplicate do not; the batch is taken only once the album was quiet;
// an item coming while the batch is handled waits for a batch of its own,
// and the claimer is told so; items of a batch that was handled are
// duplicates.
func TestAlbumCollectsItemsOnce(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	const quiet = 200 * time.Millisecond

	claim, dup, err := s.AddAlbumItem(ctx, 5, "g1", 100, item(100), quiet)
	if err != nil || dup || claim == 0 {
		t.Fatalf("first item = claim %d, dup %v, %v; want a claim", claim, dup, err)
	}
	for _, id := range []int{101, 102} {
		if c, dup, err := s.AddAlbumItem(ctx, 5, "g1", id, item(id), quiet); err != nil || c != 0 || dup {
			t.Fatalf("item %d = claim %d, dup %v, %v; want it stored for the claimer", id, c, dup, err)
		}
	}
	if _, dup, _ := s.AddAlbumItem(ctx, 5, "g1", 101, item(101), quiet); !dup {
		t.Fatal("an item stored before is not a duplicate")
	}
	if other, _, _ := s.AddAlbumItem(ctx, 5, "g2", 200, item(200), quiet); other == 0 || other == claim {
		t.Fatalf("another album's first item got claim %d; want its own", other)
	}

	items, wait, err := s.TakeAlbum(ctx, 5, "g1", claim)
	if err != nil || items != nil || wait <= 0 || wait > quiet {
		t.Fatalf("TakeAlbum while items come = %q, %v, %v; want a wait of at most %v", items, wait, err, quiet)
	}
	if _, _, err := s.TakeAlbum(ctx, 5, "g1", claim+1000); !errors.Is(err, flows.ErrLeaseLost) {
		t.Fatalf("TakeAlbum with another claim = %v, want ErrLeaseLost", err)
	}
	got := sortedItems(takeWhenQuiet(t, s, 5, "g1", claim))
	if want := sortedItems([][]byte{item(100), item(101), item(102)}); !slices.Equal(got, want) {
		t.Fatalf("batch = %q, want %q", got, want)
	}

	// While the batch is handled: one of its items again, and a new one.
	if _, dup, _ := s.AddAlbumItem(ctx, 5, "g1", 102, item(102), quiet); !dup {
		t.Fatal("an item of the batch in hand is not a duplicate")
	}
	if c, dup, err := s.AddAlbumItem(ctx, 5, "g1", 103, item(103), quiet); c != 0 || dup || err != nil {
		t.Fatalf("a late item = claim %d, dup %v, %v; want it stored for the claimer", c, dup, err)
	}
	// The runtime marks the batch handled; then the claimer finishes it.
	runTurn(t, s, 5, []int{100, 101, 102})
	more, err := s.FinishAlbum(ctx, 5, "g1", claim)
	if err != nil || !more {
		t.Fatalf("FinishAlbum = %v, %v; want the late item waiting", more, err)
	}
	if got := sortedItems(takeWhenQuiet(t, s, 5, "g1", claim)); !slices.Equal(got, []string{string(item(103))}) {
		t.Fatalf("second batch = %q, want the late item alone", got)
	}
	runTurn(t, s, 5, []int{103})
	if more, err := s.FinishAlbum(ctx, 5, "g1", claim); err != nil || more {
		t.Fatalf("last FinishAlbum = %v, %v; want the album over", more, err)
	}
	if _, _, err := s.TakeAlbum(ctx, 5, "g1", claim); !errors.Is(err, flows.ErrLeaseLost) {
		t.Fatalf("TakeAlbum after the album ended = %v; want the claim given up", err)
	}
	// Telegram sending a handled item again: dropped, not a new album.
	if c, dup, err := s.AddAlbumItem(ctx, 5, "g1", 101, item(101), quiet); !dup || c != 0 || err != nil {
		t.Fatalf("a handled item again = claim %d, dup %v, %v; want a duplicate", c, dup, err)
	}
	if n := rdb.Exists(ctx, prefix+"album:5:g1:items", prefix+"album:5:g1:taken", prefix+"album:5:g1:claim").Val(); n != 0 {
		t.Fatalf("%d keys of the finished album remain", n)
	}
}

// runTurn is the runtime handling an input: its updates are marked handled.
func runTurn(t *testing.T, s *redisstore.Store, chatID int64, ids []int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := s.Begin(ctx, chatID, ids)
	if err != nil || c.Duplicate {
		t.Fatalf("Begin(%v) = %+v, %v", ids, c, err)
	}
	if _, err := s.Commit(ctx, chatID, c.Fence, &flows.Session{State: stateC}, ids, nil); err != nil {
		t.Fatal(err)
	}
}

// TestAlbumOfADeadClaimerIsTakenOver: a claim nobody renews runs out and
// another replica claims the album; the dead claimer can no longer take or
// finish it. One that died with a batch in hand leaves exactly that batch
// to the next claimer, however many items came since.
func TestAlbumOfADeadClaimerIsTakenOver(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	const ttl = 300 * time.Millisecond
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{LeaseTTL: ttl})
	ctx := context.Background()
	const quiet = 50 * time.Millisecond

	dead, _, err := s.AddAlbumItem(ctx, 6, "g", 10, item(10), quiet)
	if err != nil || dead == 0 {
		t.Fatalf("claim %d, %v", dead, err)
	}
	s.AddAlbumItem(ctx, 6, "g", 11, item(11), quiet)
	if _, _, c, err := s.ClaimStaleAlbum(ctx); c != 0 || err != nil {
		t.Fatalf("ClaimStaleAlbum of a live claim = %d, %v; want none", c, err)
	}
	// The claimer dies before taking anything.
	time.Sleep(ttl + 50*time.Millisecond)
	chat, group, next, err := s.ClaimStaleAlbum(ctx)
	if err != nil || chat != 6 || group != "g" || next <= dead {
		t.Fatalf("ClaimStaleAlbum = %d %q %d, %v; want album g of chat 6 under a newer claim", chat, group, next, err)
	}
	if _, _, c, _ := s.ClaimStaleAlbum(ctx); c != 0 {
		t.Fatalf("the album was claimed twice (%d)", c)
	}
	if _, _, err := s.TakeAlbum(ctx, 6, "g", dead); !errors.Is(err, flows.ErrLeaseLost) {
		t.Fatalf("the dead claimer's TakeAlbum = %v, want ErrLeaseLost", err)
	}
	want := sortedItems([][]byte{item(10), item(11)})
	if got := sortedItems(takeWhenQuiet(t, s, 6, "g", next)); !slices.Equal(got, want) {
		t.Fatalf("taken over = %q, want %q", got, want)
	}

	// This claimer dies too, with the batch in hand; an item comes after.
	s.AddAlbumItem(ctx, 6, "g", 12, item(12), quiet)
	time.Sleep(ttl + 50*time.Millisecond)
	_, _, third, err := s.ClaimStaleAlbum(ctx)
	if err != nil || third <= next {
		t.Fatalf("third claim = %d, %v", third, err)
	}
	if more, err := s.FinishAlbum(ctx, 6, "g", next); !errors.Is(err, flows.ErrLeaseLost) || more {
		t.Fatalf("the dead claimer's FinishAlbum = %v, %v; want ErrLeaseLost", more, err)
	}
	items, wait, err := s.TakeAlbum(ctx, 6, "g", third)
	if err != nil || wait != 0 || !slices.Equal(sortedItems(items), want) {
		t.Fatalf("the batch in hand = %q, %v, %v; want the same batch again at once", items, wait, err)
	}
	if more, err := s.FinishAlbum(ctx, 6, "g", third); err != nil || !more {
		t.Fatalf("FinishAlbum = %v, %v; want the later item waiting", more, err)
	}
	if got := sortedItems(takeWhenQuiet(t, s, 6, "g", third)); !slices.Equal(got, []string{string(item(12))}) {
		t.Fatalf("later batch = %q, want item 12 alone", got)
	}
	// A live claimer renews; its album is not taken from it.
	time.Sleep(ttl * 2 / 3)
	if err := s.ExtendAlbum(ctx, 6, "g", third); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl * 2 / 3)
	if _, _, c, _ := s.ClaimStaleAlbum(ctx); c != 0 {
		t.Fatalf("a renewed claim was taken over (%d)", c)
	}
	if err := s.ExtendAlbum(ctx, 6, "g", next); !errors.Is(err, flows.ErrLeaseLost) {
		t.Fatalf("a dead claimer's ExtendAlbum = %v, want ErrLeaseLost", err)
	}
}

// TestLaterUpdatesWaitForAnAlbum: while an album item of a chat is not
// handled, a later update of the chat waits in Begin; the album's own
// input, an earlier update and other chats do not.
func TestLaterUpdatesWaitForAnAlbum(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	claim, _, err := s.AddAlbumItem(ctx, 8, "g", 50, item(50), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s.AddAlbumItem(ctx, 8, "g", 51, item(51), time.Millisecond)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.Begin(short, 8, []int{52}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Begin of a later update = %v; want it to wait for the album", err)
	}
	runTurn(t, s, 9, []int{53}) // another chat
	runTurn(t, s, 8, []int{49}) // an earlier update, sent again
	later := make(chan error, 1)
	go func() {
		c, err := s.Begin(ctx, 8, []int{52})
		if err == nil {
			_, err = s.Commit(ctx, 8, c.Fence, &flows.Session{State: stateA}, []int{52}, nil)
		}
		later <- err
	}()
	takeWhenQuiet(t, s, 8, "g", claim)
	runTurn(t, s, 8, []int{50, 51})
	select {
	case err := <-later:
		t.Fatalf("the later update went before the album was finished (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	if more, err := s.FinishAlbum(ctx, 8, "g", claim); err != nil || more {
		t.Fatalf("FinishAlbum = %v, %v", more, err)
	}
	select {
	case err := <-later:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the later update still waits after the album was finished")
	}
}

// TestAlbumItemNotStoredWhenRedisIsDown: an item that could not be stored
// is an error (the webhook then answers 503), never a silent success.
func TestAlbumItemNotStoredWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	s := redisstore.New(rdb, "test:down:", time.Hour)
	if _, _, err := s.AddAlbumItem(context.Background(), 1, "g", 1, item(1), time.Millisecond); err == nil {
		t.Fatal("AddAlbumItem with Redis down succeeded")
	}
}

// TestAlbumItemAfterIDsStartedAgain: when the Bot API's ids start again,
// an album item whose id an old update had is stored, not dropped as that
// update's duplicate, and its album's turn starts the new era of ids.
func TestAlbumItemAfterIDsStartedAgain(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	runTurn(t, s, 4, []int{7})
	runTurn(t, s, 4, []int{7 + redisstore.RestartGap + 100})
	claim, dup, err := s.AddAlbumItem(ctx, 4, "g", 7, item(7), time.Millisecond)
	if err != nil || dup || claim == 0 {
		t.Fatalf("item 7 after the ids started again = claim %d, dup %v, %v; want it stored", claim, dup, err)
	}
	takeWhenQuiet(t, s, 4, "g", claim)
	c, err := s.Begin(ctx, 4, []int{7})
	if err != nil || c.Duplicate || !c.IDsRestarted {
		t.Fatalf("the album's Begin = %+v, %v; want a new era of ids, not a duplicate", c, err)
	}
}
