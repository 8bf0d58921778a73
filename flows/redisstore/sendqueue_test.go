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
)

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
		if b, more, err = s.Done(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if want := "a1 a2 a3"; strings.Join(got, " ") != want {
		t.Fatalf("chat 1 delivered %q, want %q", strings.Join(got, " "), want)
	}
	if _, more, err := s.Done(ctx, claimed[1]); err != nil || more {
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
	if _, _, err := s.Done(ctx, dead[0]); !errors.Is(err, flows.ErrClaimLost) {
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
