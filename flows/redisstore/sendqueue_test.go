package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
)

// done1 marks one chat's head sent.
func done1(ctx context.Context, s *redisstore.Store, b flows.Batch) (flows.Batch, bool, error) {
	sent, err := s.Done(ctx, []flows.Batch{b})
	if err != nil {
		return flows.Batch{}, false, err
	}
	return sent[0].Next, sent[0].More, sent[0].Err
}

func text(chat int64, s string) flows.Envelope {
	return flows.Envelope{ChatID: chat, Msg: flows.Message{Text: s}}
}

// TestCommitQueuesTheTurnsMessagesAndClaimsIdleChats: a turn's messages
// are queued with its commit; the first to an idle chat is claimed for the
// committing replica, so it needs no poll; each chat's messages come out in
// order; a chat being delivered is not claimed twice.
func TestCommitQueuesTheTurnsMessagesAndClaimsIdleChats(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()

	c, err := s.Begin(ctx, 1, []int{10})
	if err != nil {
		t.Fatal(err)
	}
	out := []flows.Envelope{text(1, "a1"), text(1, "a2"), text(2, "b1")}
	claimed, err := s.Commit(ctx, 1, c.Fence, &flows.Session{State: stateA}, []int{10}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 || claimed[0].ChatID != 1 || claimed[0].Head.Msg.Text != "a1" ||
		claimed[1].ChatID != 2 || claimed[1].Head.Msg.Text != "b1" {
		t.Fatalf("commit claimed %+v; want chats 1 and 2 with their first messages", claimed)
	}
	if again, err := s.Claim(ctx, 10); err != nil || len(again) != 0 {
		t.Fatalf("Claim of claimed chats = %+v, %v; want none", again, err)
	}
	// A message queued while chat 1 is being delivered joins its queue.
	if more, err := s.Enqueue(ctx, []flows.Envelope{text(1, "a3")}); err != nil || len(more) != 0 {
		t.Fatalf("Enqueue to a claimed chat = %+v, %v; want no second claim", more, err)
	}
	var got []string
	b := claimed[0]
	for more := true; more; {
		got = append(got, b.Head.Msg.Text)
		if b, more, err = done1(ctx, s, b); err != nil {
			t.Fatal(err)
		}
	}
	if want := "a1 a2 a3"; strings.Join(got, " ") != want {
		t.Fatalf("chat 1 delivered %q, want %q", strings.Join(got, " "), want)
	}
	if _, more, err := done1(ctx, s, claimed[1]); err != nil || more {
		t.Fatalf("Done of chat 2's only message = more %v, %v", more, err)
	}
	if n, err := s.Queued(ctx); err != nil || n != 0 {
		t.Fatalf("Queued = %d, %v after delivering all", n, err)
	}
	// Both chats are idle again: the next message claims its chat.
	if next, err := s.Enqueue(ctx, []flows.Envelope{text(2, "b2")}); err != nil || len(next) != 1 {
		t.Fatalf("Enqueue to an idle chat = %+v, %v; want it claimed", next, err)
	}
}

// TestACommitWithALostLeaseQueuesNothing: a turn that lost its chat is
// neither saved nor sent.
func TestACommitWithALostLeaseQueuesNothing(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	c, err := s.Begin(ctx, 5, []int{50})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, 5, c.Fence+1, &flows.Session{}, []int{50}, []flows.Envelope{text(5, "x")}); !errors.Is(err, flows.ErrLeaseLost) {
		t.Fatalf("commit with a stale fence = %v, want ErrLeaseLost", err)
	}
	if n, err := s.Queued(ctx); err != nil || n != 0 {
		t.Fatalf("Queued = %d, %v after a refused commit", n, err)
	}
}

// TestADeadDispatchersChatsAreTakenOverAfterTheClaimTTL: a claim not
// renewed runs out, another replica claims the chat with the message the
// dead one had not marked sent, and the dead one's late Done is refused.
// A chat given back with a wait is claimed only after it.
func TestADeadDispatchersChatsAreTakenOverAfterTheClaimTTL(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	ttl := 300 * time.Millisecond
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{ClaimTTL: ttl})
	ctx := context.Background()
	dead, err := s.Enqueue(ctx, []flows.Envelope{text(7, "m1"), text(7, "m2"), text(8, "n1")})
	if err != nil || len(dead) != 2 {
		t.Fatalf("Enqueue = %+v, %v", dead, err)
	}
	// Chat 8's claim is kept alive throughout; chat 7's is not.
	for end := time.Now().Add(2 * ttl); time.Now().Before(end); time.Sleep(ttl / 4) {
		if err := s.KeepClaims(ctx, dead[1:]); err != nil {
			t.Fatal(err)
		}
	}
	taken, err := s.Claim(ctx, 10)
	if err != nil || len(taken) != 1 || taken[0].ChatID != 7 || taken[0].Head.Msg.Text != "m1" ||
		taken[0].Token == dead[0].Token {
		t.Fatalf("Claim after the TTL = %+v, %v; want chat 7 again from m1 under a new token", taken, err)
	}
	if _, _, err := done1(ctx, s, dead[0]); !errors.Is(err, flows.ErrClaimLost) {
		t.Fatalf("the dead claim's Done = %v, want ErrClaimLost", err)
	}
	if err := s.Later(ctx, taken[0], 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if early, err := s.Claim(ctx, 10); err != nil || len(early) != 0 {
		t.Fatalf("Claim during the wait = %+v, %v; want none", early, err)
	}
	for end := time.Now().Add(450 * time.Millisecond); time.Now().Before(end); time.Sleep(ttl / 4) {
		if err := s.KeepClaims(ctx, dead[1:]); err != nil {
			t.Fatal(err)
		}
	}
	late, err := s.Claim(ctx, 10)
	if err != nil || len(late) != 1 || late[0].Head.Msg.Text != "m1" {
		t.Fatalf("Claim after the wait = %+v, %v; want chat 7 from m1", late, err)
	}
}

// TestDoneMarksManyChatsInOneRoundTrip: the heads of several chats are
// marked together, each answered on its own: the next message, an empty
// queue, or a lost claim.
func TestDoneMarksManyChatsInOneRoundTrip(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	bs, err := s.Enqueue(ctx, []flows.Envelope{text(1, "a1"), text(1, "a2"), text(2, "b1"), text(3, "c1")})
	if err != nil || len(bs) != 3 {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	bs[2].Token++ // a claim that is not this dispatcher's
	sent, err := s.Done(ctx, bs)
	if err != nil || len(sent) != 3 {
		t.Fatalf("Done = %+v, %v", sent, err)
	}
	if !sent[0].More || sent[0].Next.Head.Msg.Text != "a2" || sent[0].Err != nil {
		t.Errorf("chat 1: %+v, want its next message a2", sent[0])
	}
	if sent[1].More || sent[1].Err != nil {
		t.Errorf("chat 2: %+v, want an empty queue", sent[1])
	}
	if !errors.Is(sent[2].Err, flows.ErrClaimLost) {
		t.Errorf("chat 3: %+v, want ErrClaimLost", sent[2])
	}
}

// countingBooker books every message for now and counts, in Redis, the
// messages it was asked to book.
type countingBooker struct{ key string }

func (b countingBooker) QueueReserve(ctx context.Context, pipe redis.Pipeliner, _ int64, n int) func() ([]time.Duration, error) {
	pipe.IncrBy(ctx, b.key, int64(n))
	return func() ([]time.Duration, error) { return make([]time.Duration, n), nil }
}

// TestCommitBooksAPrivateChatsReplies: a turn's replies to its private
// chat are booked in the commit's round trip and handed to the batch it
// claims; a menu losing its buttons is not booked, nor a group's replies.
func TestCommitBooksAPrivateChatsReplies(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{Booker: countingBooker{key: prefix + "booked"}})
	ctx := context.Background()
	for _, tc := range []struct {
		chat   int64
		out    []flows.Envelope
		booked int
	}{
		{chat: 11, out: []flows.Envelope{{ChatID: 11, Unbutton: 5}, text(11, "r1"), text(11, "r2"), text(-200, "card")}, booked: 2},
		{chat: -300, out: []flows.Envelope{text(-300, "team")}, booked: 0},
	} {
		c, err := s.Begin(ctx, tc.chat, []int{int(-tc.chat) + 7})
		if err != nil {
			t.Fatal(err)
		}
		bs, err := s.Commit(ctx, tc.chat, c.Fence, &flows.Session{}, []int{int(-tc.chat) + 7}, tc.out)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			want := 0
			if b.ChatID == tc.chat {
				want = tc.booked
			}
			if len(b.Booked) != want {
				t.Errorf("chat %d's batch of a turn in %d has %d booked times, want %d", b.ChatID, tc.chat, len(b.Booked), want)
			}
		}
	}
	if n, _ := rdb.Get(ctx, prefix+"booked").Int(); n != 2 {
		t.Fatalf("booked %d messages in all, want 2", n)
	}
}

// TestAClaimCarriesTheMessagesQueuedBehindItsHead: the batch a commit
// claims knows the messages the same commit queued behind its head, so
// that they are sent without a Done between them; Done and Later then
// remove those sent (Batch.Sent) with the head.
func TestAClaimCarriesTheMessagesQueuedBehindItsHead(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	bs, err := s.Enqueue(ctx, []flows.Envelope{text(1, "a1"), text(2, "b1"), text(1, "a2"), text(1, "a3"), text(2, "b2")})
	if err != nil || len(bs) != 2 {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	then := func(b flows.Batch) []string {
		var out []string
		for _, env := range b.Then {
			out = append(out, env.Msg.Text)
		}
		return out
	}
	if got := then(bs[0]); !slices.Equal(got, []string{"a2", "a3"}) || bs[0].Head.Msg.Text != "a1" {
		t.Fatalf("chat 1's batch: head %q, then %q; want a1, then a2 a3", bs[0].Head.Msg.Text, got)
	}
	if got := then(bs[1]); !slices.Equal(got, []string{"b2"}) {
		t.Fatalf("chat 2's batch: then %q; want b2", got)
	}
	// Queued meanwhile by another turn: behind what the batch knows.
	if _, err := s.Enqueue(ctx, []flows.Envelope{text(1, "a4")}); err != nil {
		t.Fatal(err)
	}
	// a1 and a2 sent, a3 is the head: Done removes all three.
	sent := flows.Batch{ChatID: 1, Token: bs[0].Token, Head: bs[0].Then[1], Sent: 2}
	next, more, err := done1(ctx, s, sent)
	if err != nil || !more || next.Head.Msg.Text != "a4" {
		t.Fatalf("Done after a1..a3 = %+v, %v, %v; want a4 next", next, more, err)
	}
	// b1 sent, b2 failed for now: Later removes b1 and keeps b2.
	if err := s.Later(ctx, flows.Batch{ChatID: 2, Token: bs[1].Token, Head: bs[1].Then[0], Sent: 1}, 0); err != nil {
		t.Fatal(err)
	}
	again, err := s.Claim(ctx, 10)
	if err != nil || len(again) != 1 || again[0].ChatID != 2 || again[0].Head.Msg.Text != "b2" {
		t.Fatalf("Claim after Later = %+v, %v; want chat 2 from b2", again, err)
	}
}
