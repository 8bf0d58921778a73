package sendlimit_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/sendlimit"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
)

// TestReserveSpacing books messages and checks the waits the buckets hand
// out, in the same Redis clock the script uses; slack absorbs the
// microseconds between two calls.
func TestReserveSpacing(t *testing.T) {
	t.Parallel()
	const slack = 20 * time.Millisecond
	tests := []struct {
		name   string
		limits sendlimit.Limits
		chat   int64
		n      int
		// want is the ideal wait of each message, give or take within
		// (slack when zero).
		want   []time.Duration
		within time.Duration
	}{
		{
			name:   "a chat's burst goes at once, then one a second",
			limits: limits(1000, 1, 3, 20, 3),
			chat:   7, n: 5,
			want: []time.Duration{0, 0, 0, time.Second, 2 * time.Second},
		},
		{
			name:   "a group gets its burst, then one every 3 s",
			limits: limits(1000, 1, 3, 20, 2),
			chat:   -100, n: 4,
			want: []time.Duration{0, 0, 3 * time.Second, 6 * time.Second},
		},
		{
			// Ten places of 100 ms a second: each message takes the next
			// one, so the second goes within 100 ms, the third a place
			// later.
			name:   "the global bucket gives messages places of their own",
			limits: limits(10, 100, 100, 100, 100),
			chat:   8, n: 3,
			want:   []time.Duration{0, 50 * time.Millisecond, 150 * time.Millisecond},
			within: 50 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb, prefix := redistest.Open(t)
			l, err := sendlimit.New(rdb, prefix, tt.limits)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Reserve(context.Background(), tt.chat, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d waits, want %d", len(got), len(tt.want))
			}
			tol := slack
			if tt.within > 0 {
				tol = tt.within + slack
			}
			for i := range got {
				if got[i] < tt.want[i]-tol || got[i] > tt.want[i]+tol {
					t.Fatalf("waits = %v, want about %v", got, tt.want)
				}
			}
		})
	}
}

// TestAChatWaitingLateInASecondHoldsUpNoOtherChat: a chat past its burst
// books its next message late in the current second; another chat's
// message now still goes now, in an earlier place of that second.
func TestAChatWaitingLateInASecondHoldsUpNoOtherChat(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	l, err := sendlimit.New(rdb, prefix, limits(25, 2, 1, 20, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Early in a second, so that the waiting message lands in the same one.
	for time.Now().Nanosecond() > int(200*time.Millisecond) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx := context.Background()
	busy, err := l.Reserve(ctx, 7, 2) // the second goes 500 ms later
	if err != nil || busy[1] < 400*time.Millisecond {
		t.Fatalf("busy chat's waits = %v, %v", busy, err)
	}
	other, err := l.Reserve(ctx, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	if other[0] > 100*time.Millisecond {
		t.Fatalf("an idle chat's message waits %v behind a busy chat's later one; want at once", other[0])
	}
}

// TestReplicasShareTheGlobalBucket: three limiters (three replicas) booking
// at once for many chats together never exceed the global rate: sorted,
// their send times are at least one interval apart.
func TestReplicasShareTheGlobalBucket(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	lim := limits(30, 100, 100, 100, 100)
	var (
		mu    sync.Mutex
		times []time.Duration
		wg    sync.WaitGroup
	)
	start := time.Now()
	for replica := range 3 {
		l, err := sendlimit.New(rdb, prefix, lim)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range 20 {
				waits, err := l.Reserve(context.Background(), int64(replica*100+i), 1)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				times = append(times, time.Since(start)+waits[0])
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// No sliding second may hold more than 30, or 31 where a message late
	// in one calendar second meets the next second's first.
	slices.Sort(times)
	busiest := 0
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j] < times[i]+time.Second; j++ {
			n++
		}
		busiest = max(busiest, n)
	}
	if busiest > 31 || busiest < 25 {
		t.Fatalf("busiest second of 60 booked sends holds %d; want at most 31 at 30/s (and the bucket used)", busiest)
	}
}

// TestHoldKeepsEveryoneOffAChat: after a 429 for a chat, no limiter books a
// send to it before the hold ends, even with burst left; other chats are
// not held.
func TestHoldKeepsEveryoneOffAChat(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	ctx := context.Background()
	a, _ := sendlimit.New(rdb, prefix, limits(1000, 1, 3, 20, 3))
	b, _ := sendlimit.New(rdb, prefix, limits(1000, 1, 3, 20, 3))
	if err := a.Hold(ctx, 5, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	waits, err := b.Reserve(ctx, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if waits[0] < 1900*time.Millisecond {
		t.Fatalf("send to a held chat booked after %v, want about 2 s", waits[0])
	}
	if waits, _ := b.Reserve(ctx, 6, 1); waits[0] > 20*time.Millisecond {
		t.Fatalf("another chat waits %v", waits[0])
	}
}

func TestInvalidLimits(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	bad := sendlimit.DefaultLimits()
	bad.Chat.Count = 0
	if _, err := sendlimit.New(rdb, prefix, bad); err == nil {
		t.Fatal("a rate of 0 messages was accepted")
	}
}

// limits builds Limits: global per second, chat per second with burst,
// group per minute with burst.
func limits(global, chat, chatBurst, group, groupBurst int) sendlimit.Limits {
	return sendlimit.Limits{
		Global: sendlimit.Rate{Count: global, Per: time.Second, Burst: 1},
		Chat:   sendlimit.Rate{Count: chat, Per: time.Second, Burst: chatBurst},
		Group:  sendlimit.Rate{Count: group, Per: time.Minute, Burst: groupBurst},
	}
}
