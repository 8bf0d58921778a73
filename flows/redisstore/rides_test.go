package redisstore_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
)

// roundTrips counts what a client sends: a command or a pipeline each.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { r.n.Add(1); return next(ctx, cmd) }
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n.Add(1); return next(ctx, cmds) }
}

// warmScripts runs a turn and a mark once, so that Redis knows their
// scripts before round trips are counted (EVALSHA of an unknown script
// costs two more).
func warmScripts(t *testing.T, s *redisstore.Store) {
	t.Helper()
	ctx := context.Background()
	c, err := s.Begin(ctx, 999, []int{9999})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s.Commit(ctx, 999, c.Fence, &flows.Session{State: stateA}, []int{9999}, []flows.Envelope{text(999, "w")})
	if err != nil || len(bs) != 1 {
		t.Fatalf("warm-up Commit = %+v, %v", bs, err)
	}
	if _, err := s.Done(ctx, bs); err != nil {
		t.Fatal(err)
	}
}

// TestSentMarksRideOnTheTurnsRoundTrips: a Done waiting is carried by the
// next Begin or Commit of the store, which costs no round trip more than
// the turn's own, and is answered as if it had gone alone.
func TestSentMarksRideOnTheTurnsRoundTrips(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	// No Done may go by itself within the test: only a turn can carry it.
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: 200 * time.Millisecond})
	warmScripts(t, s)
	s = redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: time.Hour})
	var trips roundTrips
	rdb.AddHook(&trips)
	ctx := context.Background()
	bs, err := s.Enqueue(ctx, []flows.Envelope{text(1, "a1"), text(1, "a2"), text(2, "b1")})
	if err != nil || len(bs) != 2 {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	type answer struct {
		sent []flows.Sent
		err  error
	}
	mark := func(b flows.Batch) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			sent, err := s.Done(ctx, []flows.Batch{b})
			ch <- answer{sent, err}
		}()
		time.Sleep(100 * time.Millisecond) // waiting for a ride by now
		return ch
	}

	// Chat 1's head rides on a Begin.
	waiting := mark(bs[0])
	before := trips.n.Load()
	c, err := s.Begin(ctx, 50, []int{500})
	if err != nil {
		t.Fatal(err)
	}
	if n := trips.n.Load() - before; n != 1 {
		t.Fatalf("Begin with a mark riding took %d round trips, want 1", n)
	}
	got := receive(t, waiting)
	if got.err != nil || !got.sent[0].More || got.sent[0].Next.Head.Msg.Text != "a2" {
		t.Fatalf("Done on a Begin = %+v, %v; want chat 1's next message a2", got.sent, got.err)
	}

	// Chat 2's head rides on the Commit of the same turn.
	waiting = mark(bs[1])
	before = trips.n.Load()
	if _, err := s.Commit(ctx, 50, c.Fence, &flows.Session{State: stateA}, []int{500}, []flows.Envelope{text(50, "r")}); err != nil {
		t.Fatal(err)
	}
	if n := trips.n.Load() - before; n != 1 {
		t.Fatalf("Commit with a mark riding took %d round trips, want 1", n)
	}
	got = receive(t, waiting)
	if got.err != nil || got.sent[0].More || got.sent[0].Err != nil {
		t.Fatalf("Done on a Commit = %+v, %v; want chat 2's queue empty", got.sent, got.err)
	}
	// The claim was given up with the empty queue: the chat is idle.
	again, err := s.Enqueue(ctx, []flows.Envelope{text(2, "b2")})
	if err != nil || len(again) != 1 {
		t.Fatalf("Enqueue to chat 2 after its queue emptied = %+v, %v; want it claimed anew", again, err)
	}

	// A poll for queues nobody delivers rides too.
	if err := s.Later(ctx, again[0], 0); err != nil {
		t.Fatal(err)
	}
	polled := make(chan []flows.Batch, 1)
	go func() {
		bs, err := s.Claim(ctx, 10)
		if err != nil {
			t.Error(err)
		}
		polled <- bs
	}()
	time.Sleep(100 * time.Millisecond)
	before = trips.n.Load()
	c, err = s.Begin(ctx, 52, []int{502})
	if err != nil {
		t.Fatal(err)
	}
	if n := trips.n.Load() - before; n != 1 {
		t.Fatalf("Begin with a poll riding took %d round trips, want 1", n)
	}
	if bs := receive(t, polled); len(bs) != 1 || bs[0].ChatID != 2 || bs[0].Head.Msg.Text != "b2" {
		t.Fatalf("Claim on a Begin = %+v; want chat 2 with b2", bs)
	}
}

// receive waits a little for what a turn should have carried.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("the turn did not carry the call waiting")
	}
	var zero T
	return zero
}

// TestSentMarksWithoutTurnsGoTogether: marks no turn carries go after
// DoneWait, all those waiting in one round trip.
func TestSentMarksWithoutTurnsGoTogether(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: 300 * time.Millisecond})
	warmScripts(t, s)
	ctx := context.Background()
	var envs []flows.Envelope
	for chat := range int64(8) {
		envs = append(envs, text(chat+1, "m"))
	}
	bs, err := s.Enqueue(ctx, envs)
	if err != nil || len(bs) != len(envs) {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	var trips roundTrips
	rdb.AddHook(&trips)
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(func() {
			sent, err := s.Done(ctx, []flows.Batch{b})
			if err != nil || sent[0].Err != nil || sent[0].More {
				t.Errorf("Done of chat %d = %+v, %v; want an empty queue", b.ChatID, sent, err)
			}
		})
	}
	wg.Wait()
	if n := trips.n.Load(); n != 1 {
		t.Fatalf("%d marks without a turn took %d round trips, want 1", len(bs), n)
	}
}

// TestAPollGivenUpNeverRuns: a Claim whose caller went away while it
// waited for a ride is not carried by a later turn: it would claim chats
// for a dispatcher that is gone, and they would wait out the claim TTL.
func TestAPollGivenUpNeverRuns(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: time.Hour})
	ctx := context.Background()
	bs, err := s.Enqueue(ctx, []flows.Envelope{text(3, "c1")})
	if err != nil || len(bs) != 1 {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	if err := s.Later(ctx, bs[0], 0); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	polled := make(chan error, 1)
	go func() {
		_, err := s.Claim(gone, 10)
		polled <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := receive(t, polled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Claim given up = %v, want context.Canceled", err)
	}
	c, err := s.Begin(ctx, 60, []int{600})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, 60, c.Fence); err != nil {
		t.Fatal(err)
	}
	quick := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: time.Millisecond})
	if got, err := quick.Claim(ctx, 10); err != nil || len(got) != 1 || got[0].ChatID != 3 {
		t.Fatalf("Claim after the given-up one = %+v, %v; want chat 3, claimed by no one", got, err)
	}
}

// TestRidesSurviveARedisThatLostItsScripts: after Redis forgot its
// scripts (a restart), a mark riding on a turn and one going alone are
// both answered, and the turn itself goes through.
func TestRidesSurviveARedisThatLostItsScripts(t *testing.T) {
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: 200 * time.Millisecond})
	ctx := context.Background()
	bs, err := s.Enqueue(ctx, []flows.Envelope{text(1, "a1"), text(1, "a2"), text(2, "b1")})
	if err != nil || len(bs) != 2 {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	alone, err := s.Done(ctx, bs[1:])
	if err != nil || alone[0].Err != nil || alone[0].More {
		t.Fatalf("Done alone after the flush = %+v, %v; want chat 2's queue empty", alone, err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	riding := make(chan []flows.Sent, 1)
	go func() {
		sent, err := s.Done(ctx, bs[:1])
		if err != nil {
			t.Error(err)
		}
		riding <- sent
	}()
	time.Sleep(50 * time.Millisecond)
	c, err := s.Begin(ctx, 70, []int{700})
	if err != nil {
		t.Fatalf("Begin carrying a mark after the flush: %v", err)
	}
	if _, err := s.Commit(ctx, 70, c.Fence, &flows.Session{State: stateA}, []int{700}, nil); err != nil {
		t.Fatal(err)
	}
	if sent := receive(t, riding); sent[0].Err != nil || !sent[0].More || sent[0].Next.Head.Msg.Text != "a2" {
		t.Fatalf("Done riding after the flush = %+v; want chat 1's next message a2", sent)
	}
}

// TestATurnCarriesABoundedShareOfMarks: a burst of marks is spread over
// the turns that come, oldest first, rather than all loaded onto one.
func TestATurnCarriesABoundedShareOfMarks(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: time.Hour})
	ctx := context.Background()
	const marks = 100
	var envs []flows.Envelope
	for chat := range int64(marks) {
		envs = append(envs, text(chat+1, "m"))
	}
	bs, err := s.Enqueue(ctx, envs)
	if err != nil || len(bs) != marks {
		t.Fatalf("Enqueue = %d batches, %v", len(bs), err)
	}
	var answered atomic.Int64
	for _, b := range bs {
		go func() {
			if sent, err := s.Done(ctx, []flows.Batch{b}); err == nil && sent[0].Err == nil {
				answered.Add(1)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // all waiting by now
	turn := func(chat int64) {
		t.Helper()
		c, err := s.Begin(ctx, chat, []int{int(chat)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, chat, c.Fence); err != nil {
			t.Fatal(err)
		}
	}
	turn(500)
	waitForCount(t, &answered, 64)
	time.Sleep(50 * time.Millisecond)
	if n := answered.Load(); n != 64 {
		t.Fatalf("one turn carried %d marks, want 64", n)
	}
	turn(501)
	waitForCount(t, &answered, marks)
}

func waitForCount(t *testing.T, n *atomic.Int64, want int64) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); n.Load() < want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d answered within 5 s, want %d", n.Load(), want)
		}
	}
}

// TestAnEnqueueCarriesTheMarkThatFreesItsChat: work outside a turn
// queueing a message (a notice after a commit) carries the waiting marks
// in front of it, so that the chat whose last message was just sent is
// free again and claimed at once, rather than its new message waiting
// for the mark to go by itself.
func TestAnEnqueueCarriesTheMarkThatFreesItsChat(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	s := redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: 200 * time.Millisecond})
	warmScripts(t, s)
	s = redisstore.NewWithOptions(rdb, prefix, time.Hour, redisstore.Options{DoneWait: time.Hour})
	ctx := context.Background()
	bs, err := s.Enqueue(ctx, []flows.Envelope{text(8, "first")})
	if err != nil || len(bs) != 1 {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	var trips roundTrips
	rdb.AddHook(&trips)
	marked := make(chan []flows.Sent, 1)
	go func() {
		sent, err := s.Done(ctx, bs)
		if err != nil {
			t.Error(err)
		}
		marked <- sent
	}()
	time.Sleep(100 * time.Millisecond)
	again, err := s.Enqueue(ctx, []flows.Envelope{text(8, "notice")})
	if err != nil || len(again) != 1 || again[0].Head.Msg.Text != "notice" {
		t.Fatalf("Enqueue behind the waiting mark = %+v, %v; want chat 8 claimed with the notice", again, err)
	}
	if sent := receive(t, marked); sent[0].Err != nil || sent[0].More {
		t.Fatalf("the mark carried = %+v; want chat 8's queue emptied", sent)
	}
	if n := trips.n.Load(); n != 1 {
		t.Fatalf("mark and Enqueue took %d round trips, want 1", n)
	}
}
