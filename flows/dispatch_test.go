package flows_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund"
)

// chatSender records what it sends per chat; a chat in gate waits for its
// channel before each send, as a chat out of budget waits for Telegram.
type chatSender struct {
	mu    sync.Mutex
	sent  map[int64][]string
	gate  map[int64]chan struct{}
	fail  map[string]error // by text, once
	delay time.Duration
	links []flows.Link
}

func newChatSender() *chatSender {
	return &chatSender{sent: map[int64][]string{}, gate: map[int64]chan struct{}{}, fail: map[string]error{}}
}

func (s *chatSender) Post(ctx context.Context, chatID int64, m flows.Message) (int, error) {
	s.mu.Lock()
	gate, delay := s.gate[chatID], s.delay
	err, failing := s.fail[m.Text]
	delete(s.fail, m.Text)
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	time.Sleep(delay)
	if failing {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[chatID] = append(s.sent[chatID], m.Text)
	return len(s.sent[chatID]), nil
}

func (s *chatSender) Send(ctx context.Context, chatID int64, m flows.Message) error {
	_, err := s.Post(ctx, chatID, m)
	return err
}

func (s *chatSender) PostAlbum(context.Context, int64, []refund.Evidence, flows.Message) ([]int, error) {
	return nil, errors.New("no albums here")
}
func (s *chatSender) Edit(context.Context, int64, int, flows.Message) error { return nil }
func (s *chatSender) AnswerCallback(context.Context, string, string) error  { return nil }
func (s *chatSender) RemoveKeyboard(context.Context, int64, int) error      { return nil }

func (s *chatSender) Link(_ context.Context, esc int64, _ int, kind flows.LinkKind) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.links = append(s.links, flows.Link{Escalation: esc, Kind: kind})
	return nil
}

func (s *chatSender) texts(chat int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent[chat])
}

var errPermanent = errors.New("bad request")

func startDispatcher(t *testing.T, q flows.SendQueue, s *chatSender) (*flows.Dispatcher, context.CancelFunc, <-chan struct{}) {
	t.Helper()
	return runDispatcher(t, flows.DispatcherConfig{Queue: q, Sender: s, Linker: s,
		Retryable: func(err error) bool { return !errors.Is(err, errPermanent) },
		Poll:      20 * time.Millisecond, RetryAfter: 50 * time.Millisecond, KeepClaims: 100 * time.Millisecond})
}

// runDispatcher runs a dispatcher of cfg until the returned cancel, or
// the test's end; the channel closes when it stopped.
func runDispatcher(t *testing.T, cfg flows.DispatcherConfig) (*flows.Dispatcher, context.CancelFunc, <-chan struct{}) {
	t.Helper()
	d, err := flows.NewDispatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, cancel, done
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("within 5 s: %s", what)
}

func texts(chat int64, prefix string, n int) []flows.Envelope {
	out := make([]flows.Envelope, n)
	for i := range out {
		out[i] = flows.Envelope{ChatID: chat, Msg: flows.Message{Text: fmt.Sprintf("%s%d", prefix, i+1)}}
	}
	return out
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

// TestAChatWaitingForItsBudgetHoldsUpNoOtherChat: while every send to one
// chat waits (its budget is spent), the other chats' messages go out; the
// waiting chat's then follow, in order.
func TestAChatWaitingForItsBudgetHoldsUpNoOtherChat(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	q := redisstore.New(rdb, prefix, time.Hour)
	s := newChatSender()
	gate := make(chan struct{})
	s.gate[-100] = gate
	d, _, _ := startDispatcher(t, q, s)
	ctx := context.Background()
	if err := d.Enqueue(ctx, texts(-100, "team", 30)...); err != nil {
		t.Fatal(err)
	}
	if err := d.Enqueue(ctx, texts(7, "buyer", 3)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the buyer's messages go out while the team chat waits", func() bool {
		return slices.Equal(s.texts(7), names("buyer", 3))
	})
	if got := s.texts(-100); len(got) != 0 {
		t.Fatalf("the waiting chat got %q", got)
	}
	close(gate)
	waitFor(t, "the team chat's 30 in order", func() bool { return slices.Equal(s.texts(-100), names("team", 30)) })
}

// TestMessagesQueuedAtAStopAreDeliveredOnceByTheNextDispatcher: a
// dispatcher stopped with a backlog finishes the message in flight and gives
// the rest back; the next one (a restart, another replica) sends them, so
// each chat gets every message once, in order.
func TestMessagesQueuedAtAStopAreDeliveredOnceByTheNextDispatcher(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	q := redisstore.New(rdb, prefix, time.Hour)
	first := newChatSender()
	first.delay = 10 * time.Millisecond
	d, stop, stopped := startDispatcher(t, q, first)
	ctx := context.Background()
	for chat := int64(1); chat <= 3; chat++ {
		if err := d.Enqueue(ctx, texts(chat, "m", 40)...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "some messages out", func() bool { return len(first.texts(1)) >= 5 })
	stop()
	<-stopped
	second := newChatSender()
	startDispatcher(t, q, second)
	for chat := int64(1); chat <= 3; chat++ {
		waitFor(t, fmt.Sprintf("chat %d's backlog out", chat), func() bool {
			return len(first.texts(chat))+len(second.texts(chat)) >= 40
		})
		if got := append(first.texts(chat), second.texts(chat)...); !slices.Equal(got, names("m", 40)) {
			t.Fatalf("chat %d got %q across the stop; want m1..m40 once each", chat, got)
		}
	}
	// The last marks of sent messages may still be on their way.
	waitFor(t, "the queues empty", func() bool { n, err := q.Queued(ctx); return err == nil && n == 0 })
}

// TestFailedSendsAreRetriedOrDropped: a send that may succeed later is
// tried again, after the others of its chat wait; one Telegram refuses for
// good is dropped so that it does not block the chat for ever. Links of
// sent messages are recorded.
func TestFailedSendsAreRetriedOrDropped(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	q := redisstore.New(rdb, prefix, time.Hour)
	s := newChatSender()
	s.fail["m2"] = errors.New("502 bad gateway")
	s.fail["m3"] = errPermanent
	d, _, _ := startDispatcher(t, q, s)
	envs := texts(9, "m", 4)
	envs[0].Link = &flows.Link{Escalation: 12, Kind: flows.LinkCard}
	if err := d.Enqueue(context.Background(), envs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "m4 out", func() bool { return len(s.texts(9)) == 3 })
	if got, want := s.texts(9), []string{"m1", "m2", "m4"}; !slices.Equal(got, want) {
		t.Fatalf("sent %q, want %q (m2 retried, m3 dropped)", got, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.links) != 1 || s.links[0] != (flows.Link{Escalation: 12, Kind: flows.LinkCard}) {
		t.Fatalf("links = %+v", s.links)
	}
}

// countingPacer books every message for now and counts the messages it
// was asked to book.
type countingPacer struct {
	mu     sync.Mutex
	booked int
}

func (p *countingPacer) Reserve(_ context.Context, _ int64, n int) ([]time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.booked += n
	return make([]time.Duration, n), nil
}

// TestMessagesBookedWithTheCommitAreNotBookedAgain: the dispatcher sends a
// message at the time its commit booked and books only those without one,
// so a reply costs the limiter no round trip of its own.
func TestMessagesBookedWithTheCommitAreNotBookedAgain(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	q := redisstore.New(rdb, prefix, time.Hour)
	s := newChatSender()
	pacer := &countingPacer{}
	d, _, _ := runDispatcher(t, flows.DispatcherConfig{Queue: q, Sender: s, Pacer: pacer,
		Retryable: func(error) bool { return true }, Poll: 20 * time.Millisecond})

	bs, err := q.Enqueue(context.Background(), texts(4, "m", 3))
	if err != nil || len(bs) != 1 {
		t.Fatalf("Enqueue = %+v, %v", bs, err)
	}
	now := time.Now()
	bs[0].Booked = []time.Time{now, now} // as a commit books two replies
	d.Start(bs)
	waitFor(t, "three messages out", func() bool { return len(s.texts(4)) == 3 })
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	if pacer.booked != 1 {
		t.Fatalf("the dispatcher booked %d messages; want 1, the one the commit did not", pacer.booked)
	}
}

// spacingPacer books each chat's messages gap apart, as the limiter books
// a chat past its burst.
type spacingPacer struct {
	mu   sync.Mutex
	gap  time.Duration
	next map[int64]time.Time
}

func (p *spacingPacer) Reserve(_ context.Context, chat int64, n int) ([]time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	waits := make([]time.Duration, n)
	for i := range waits {
		at := p.next[chat]
		if at.Before(now) {
			at = now
		}
		waits[i] = at.Sub(now)
		p.next[chat] = at.Add(p.gap)
	}
	return waits, nil
}

// TestChatsWaitingForTheirTimeHoldNoGoroutine: chats whose next message
// waits for its time within the limits are parked on timers, not on a
// goroutine each; a stop gives them back at once, and the next dispatcher
// sends the rest, each message once and in order.
func TestChatsWaitingForTheirTimeHoldNoGoroutine(t *testing.T) {
	rdb, prefix := redistest.Open(t)
	q := redisstore.New(rdb, prefix, time.Hour)
	// Enough chats that the drainers' kept goroutines (64 at most wait
	// for work) are far fewer.
	const chats = 400
	s := newChatSender()
	d, cancel, stopped := runDispatcher(t, flows.DispatcherConfig{Queue: q, Sender: s,
		Pacer:     &spacingPacer{gap: time.Hour, next: map[int64]time.Time{}},
		Retryable: func(error) bool { return true }, Poll: 20 * time.Millisecond})
	before := runtime.NumGoroutine()
	for chat := int64(1); chat <= chats; chat++ {
		if err := d.Enqueue(context.Background(), texts(chat, "m", 2)...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every chat's first message out", func() bool {
		for chat := int64(1); chat <= chats; chat++ {
			if len(s.texts(chat)) != 1 {
				return false
			}
		}
		return true
	})
	// Each chat's second message waits an hour, on a timer.
	time.Sleep(50 * time.Millisecond)
	// What may be left: 64 kept drainers at most, and a few of Redis's
	// connections.
	if n := runtime.NumGoroutine() - before; n > chats/4 {
		t.Fatalf("%d goroutines more while %d chats wait for their time; want far fewer than one per chat", n, chats)
	}
	if busy := d.Busy(); busy != chats {
		t.Fatalf("Busy = %d while parked, want %d", busy, chats)
	}
	cancel()
	<-stopped
	next := newChatSender()
	startDispatcher(t, q, next)
	for chat := int64(1); chat <= chats; chat++ {
		waitFor(t, fmt.Sprintf("chat %d's second message", chat), func() bool { return len(next.texts(chat)) == 1 })
		if got := append(s.texts(chat), next.texts(chat)...); !slices.Equal(got, names("m", 2)) {
			t.Fatalf("chat %d got %q across the stop; want m1, m2 once each", chat, got)
		}
	}
}

// doneCounter counts the Done calls a dispatcher makes.
type doneCounter struct {
	flows.SendQueue
	mu    sync.Mutex
	calls int
}

func (q *doneCounter) Done(ctx context.Context, bs []flows.Batch) ([]flows.Sent, error) {
	q.mu.Lock()
	q.calls++
	q.mu.Unlock()
	return q.SendQueue.Done(ctx, bs)
}

// TestATurnsMessagesGoOutWithOneMark: the messages one commit queued for
// an idle chat are sent one after the other and marked sent together, so
// that nothing else (a direct send of the desk, a mark's wait for a
// round trip) comes between a turn's replies.
func TestATurnsMessagesGoOutWithOneMark(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Open(t)
	q := &doneCounter{SendQueue: redisstore.New(rdb, prefix, time.Hour)}
	s := newChatSender()
	d, _, _ := runDispatcher(t, flows.DispatcherConfig{Queue: q, Sender: s,
		Retryable: func(error) bool { return true }, Poll: 20 * time.Millisecond})
	if err := d.Enqueue(context.Background(), texts(5, "r", 3)...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three replies out", func() bool { return len(s.texts(5)) == 3 })
	waitFor(t, "the queue empty", func() bool { return d.Busy() == 0 })
	if got := s.texts(5); !slices.Equal(got, names("r", 3)) {
		t.Fatalf("sent %q, want r1..r3 in order", got)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.calls != 1 {
		t.Fatalf("%d Done calls for one turn's three messages, want 1", q.calls)
	}
}
