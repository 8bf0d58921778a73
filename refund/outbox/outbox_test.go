package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/outbox"
)

const lease = time.Minute

// recorder is a Deliver that records what it was given and answers with
// the errors queued for each key (nil once they run out).
type recorder struct {
	mu        sync.Mutex
	delivered []refund.OutboxItem
	errs      map[string][]error
}

func (r *recorder) deliver(ctx context.Context, item refund.OutboxItem) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered = append(r.delivered, item)
	if errs := r.errs[item.Key]; len(errs) > 0 {
		r.errs[item.Key] = errs[1:]
		return errs[0]
	}
	return nil
}

func (r *recorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []string
	for _, it := range r.delivered {
		keys = append(keys, it.Key)
	}
	return keys
}

type fixture struct {
	store *fakeStore
	clock *clock
	rec   *recorder
	logs  *logBuffer
}

func newFixture() *fixture {
	return &fixture{store: newFakeStore(), clock: newClock(), rec: &recorder{errs: map[string][]error{}}, logs: &logBuffer{}}
}

// worker returns a payout worker over the fixture; edit may change its
// config.
func (f *fixture) worker(edit func(cfg *outbox.Config)) *outbox.Worker {
	cfg := outbox.Config{
		Store:   f.store,
		Kind:    refund.OutboxPayout,
		Deliver: f.rec.deliver,
		Lease:   lease,
		Now:     f.clock.Now,
		Logger:  slog.New(slog.NewTextHandler(f.logs, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	return outbox.New(cfg)
}

func TestRunOnceDeliversDueItemsOfItsKind(t *testing.T) {
	f := newFixture()
	a := f.store.add(refund.OutboxPayout, "P000001-1", `{"payout_id":"P000001-1"}`)
	notice := f.store.add(refund.OutboxNotice, "n1", `{}`)
	b := f.store.add(refund.OutboxPayout, "P000002-1", `{"payout_id":"P000002-1"}`)

	n, err := f.worker(nil).RunOnce(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("RunOnce = %d, %v; want 2, nil", n, err)
	}
	if got, want := strings.Join(f.rec.keys(), ","), "P000001-1,P000002-1"; got != want {
		t.Errorf("delivered %s, want %s", got, want)
	}
	if got := string(f.rec.delivered[0].Payload); got != `{"payout_id":"P000001-1"}` {
		t.Errorf("payload = %s", got)
	}
	for _, id := range []int64{a, b} {
		if !f.store.get(id).done {
			t.Errorf("item %d not completed", id)
		}
	}
	if r := f.store.get(notice); r.done || r.item.Attempts != 0 {
		t.Errorf("notice item touched by the payout worker: %+v", r)
	}

	if n, err := f.worker(nil).RunOnce(t.Context()); err != nil || n != 0 {
		t.Errorf("second RunOnce = %d, %v; want 0, nil", n, err)
	}
}

func TestRetryWithBackoff(t *testing.T) {
	tests := []struct {
		name    string
		backoff func(int) time.Duration
		want    []time.Duration // wait after attempts 1, 2, 3...
	}{
		{"default doubles from 2s", nil, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}},
		{"custom", func(n int) time.Duration { return time.Duration(n) * time.Minute }, []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			id := f.store.add(refund.OutboxPayout, "P1", `{}`)
			for i := range tt.want {
				f.rec.errs["P1"] = append(f.rec.errs["P1"], fmt.Errorf("shop down #%d", i+1))
			}
			w := f.worker(func(cfg *outbox.Config) { cfg.Backoff = tt.backoff })
			for i, wait := range tt.want {
				if n, err := w.RunOnce(t.Context()); err != nil || n != 0 {
					t.Fatalf("attempt %d: RunOnce = %d, %v; want 0, nil", i+1, n, err)
				}
				r := f.store.get(id)
				if got, want := r.due.Sub(f.clock.Now()), wait; got != want {
					t.Errorf("attempt %d: retry in %v, want %v", i+1, got, want)
				}
				if want := fmt.Sprintf("shop down #%d", i+1); r.lastErr != want {
					t.Errorf("attempt %d: last error %q, want %q", i+1, r.lastErr, want)
				}
				// Not due yet: nothing is delivered a moment early.
				f.clock.Advance(wait - time.Nanosecond)
				if _, err := w.RunOnce(t.Context()); err != nil {
					t.Fatal(err)
				}
				if got := len(f.rec.keys()); got != i+1 {
					t.Fatalf("after attempt %d: %d deliveries, want %d", i+1, got, i+1)
				}
				f.clock.Advance(time.Nanosecond)
			}
			if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
				t.Fatalf("final RunOnce = %d, %v; want 1, nil", n, err)
			}
			if r := f.store.get(id); !r.done || r.item.Attempts != len(tt.want)+1 {
				t.Errorf("item = %+v, want done after %d attempts", r, len(tt.want)+1)
			}
			if !strings.Contains(f.logs.String(), "shop down #1") {
				t.Errorf("failure not logged:\n%s", f.logs)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	tests := []struct {
		attempts int
		want     time.Duration
	}{
		{0, 2 * time.Second},
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{3, 8 * time.Second},
		{11, 2048 * time.Second},
		{12, time.Hour},
		{100, time.Hour},
		{math.MaxInt, time.Hour},
	}
	for _, tt := range tests {
		if got := outbox.DefaultBackoff(tt.attempts); got != tt.want {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", tt.attempts, got, tt.want)
		}
	}
}

func TestPermanentErrorCompletesItem(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"marked", outbox.Permanent(errors.New("Forbidden: bot was blocked by the user"))},
		{"marked and wrapped", fmt.Errorf("send notice: %w", outbox.Permanent(errors.New("Forbidden: bot was blocked by the user")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture()
			id := f.store.add(refund.OutboxPayout, "P1", `{}`)
			f.rec.errs["P1"] = []error{tt.err}
			w := f.worker(nil)
			if n, err := w.RunOnce(t.Context()); err != nil || n != 0 {
				t.Fatalf("RunOnce = %d, %v; want 0, nil", n, err)
			}
			if r := f.store.get(id); !r.done || !r.due.IsZero() {
				t.Errorf("item = %+v, want completed without a retry", r)
			}
			f.clock.Advance(24 * time.Hour)
			if _, err := w.RunOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := len(f.rec.keys()); got != 1 {
				t.Errorf("%d deliveries, want 1", got)
			}
			if logs := f.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "blocked by the user") {
				t.Errorf("permanent failure not logged as an error:\n%s", logs)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	if outbox.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	cause := errors.New("blocked")
	err := fmt.Errorf("deliver: %w", outbox.Permanent(cause))
	if !outbox.IsPermanent(err) || !errors.Is(err, cause) {
		t.Errorf("IsPermanent(%v) = %v, errors.Is(cause) = %v; want both true", err, outbox.IsPermanent(err), errors.Is(err, cause))
	}
	if outbox.IsPermanent(cause) || outbox.IsPermanent(nil) {
		t.Error("IsPermanent true for an unmarked error")
	}
}

// TestLeaseExpiryRedelivers has a worker claim an item and crash before
// it can record anything (modelled as a claim with no outcome): nobody
// else may deliver it until its lease ends, and then the same item is
// delivered again.
func TestLeaseExpiryRedelivers(t *testing.T) {
	f := newFixture()
	id := f.store.add(refund.OutboxPayout, "P1", `{"payout_id":"P1"}`)
	if items, err := f.store.ClaimOutbox(t.Context(), refund.OutboxPayout, f.clock.Now(), lease, 10); err != nil || len(items) != 1 {
		t.Fatalf("the crashing worker's claim = %v, %v", items, err)
	}

	survivor := f.worker(nil)
	f.clock.Advance(lease - time.Second)
	if n, err := survivor.RunOnce(t.Context()); err != nil || n != 0 {
		t.Fatalf("RunOnce within the lease = %d, %v; want 0, nil", n, err)
	}
	f.clock.Advance(time.Second)
	if n, err := survivor.RunOnce(t.Context()); err != nil || n != 1 {
		t.Fatalf("RunOnce after the lease = %d, %v; want 1, nil", n, err)
	}
	got := f.rec.delivered
	if len(got) != 1 || got[0].ID != id || got[0].Key != "P1" || got[0].Attempts != 2 {
		t.Errorf("redelivered %+v, want item %d, key P1, attempt 2", got, id)
	}
	if !f.store.get(id).done {
		t.Error("redelivered item not completed")
	}
}

func TestRunOnceStopsWhenLeaseRunsOut(t *testing.T) {
	f := newFixture()
	f.store.add(refund.OutboxPayout, "P1", `{}`)
	second := f.store.add(refund.OutboxPayout, "P2", `{}`)
	w := f.worker(func(cfg *outbox.Config) {
		cfg.Deliver = func(ctx context.Context, item refund.OutboxItem) error {
			f.clock.Advance(lease) // a slow receiver
			return f.rec.deliver(ctx, item)
		}
	})
	if n, err := w.RunOnce(t.Context()); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v; want 1, nil", n, err)
	}
	if r := f.store.get(second); r.done || len(f.rec.keys()) != 1 {
		t.Errorf("delivered %v, second item %+v; want the second left for another worker", f.rec.keys(), r)
	}
}

func TestRunOnceStopsOnCancel(t *testing.T) {
	f := newFixture()
	first := f.store.add(refund.OutboxPayout, "P1", `{}`)
	second := f.store.add(refund.OutboxPayout, "P2", `{}`)
	ctx, cancel := context.WithCancel(t.Context())
	w := f.worker(func(cfg *outbox.Config) {
		cfg.Deliver = func(ctx context.Context, item refund.OutboxItem) error {
			cancel() // shutdown begins while the first item is delivered
			return f.rec.deliver(ctx, item)
		}
	})
	n, err := w.RunOnce(ctx)
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("RunOnce = %d, %v; want 1, context.Canceled", n, err)
	}
	if !f.store.get(first).done {
		t.Error("a delivery that happened was not recorded during shutdown")
	}
	if r := f.store.get(second); r.done || len(f.rec.keys()) != 1 {
		t.Errorf("second item %+v delivered after cancel", r)
	}
}

func TestRunOnceStoreErrors(t *testing.T) {
	t.Run("claim", func(t *testing.T) {
		f := newFixture()
		f.store.claimErrs = []error{errors.New("connection refused")}
		_, err := f.worker(nil).RunOnce(t.Context())
		if err == nil || !strings.Contains(err.Error(), "claim") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("RunOnce error = %v, want the claim failure", err)
		}
	})
	t.Run("complete", func(t *testing.T) {
		f := newFixture()
		f.store.add(refund.OutboxPayout, "P1", `{}`)
		f.store.add(refund.OutboxPayout, "P2", `{}`)
		f.store.completeErr = errors.New("connection reset")
		n, err := f.worker(nil).RunOnce(t.Context())
		if err == nil || !strings.Contains(err.Error(), "connection reset") || n != 1 {
			t.Errorf("RunOnce = %d, %v; want 1 and the completion failure", n, err)
		}
		// Going on would deliver items whose completion cannot be
		// recorded either, only to deliver them again later.
		if got := f.rec.keys(); len(got) != 1 {
			t.Errorf("delivered %v after the store failed, want only P1", got)
		}
	})
}

func TestDeliverPanicIsRetried(t *testing.T) {
	f := newFixture()
	id := f.store.add(refund.OutboxPayout, "P1", `{}`)
	w := f.worker(func(cfg *outbox.Config) {
		cfg.Deliver = func(context.Context, refund.OutboxItem) error { panic("nil map") }
	})
	if n, err := w.RunOnce(t.Context()); err != nil || n != 0 {
		t.Fatalf("RunOnce = %d, %v; want 0, nil", n, err)
	}
	if r := f.store.get(id); r.done || !strings.Contains(r.lastErr, "nil map") || r.due.IsZero() {
		t.Errorf("item = %+v, want a retry naming the panic", r)
	}
}

func TestLongErrorIsCut(t *testing.T) {
	f := newFixture()
	id := f.store.add(refund.OutboxPayout, "P1", `{}`)
	f.rec.errs["P1"] = []error{errors.New(strings.Repeat("错", 2000))}
	if _, err := f.worker(nil).RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := f.store.get(id)
	if len(r.lastErr) > 1100 || !strings.HasSuffix(r.lastErr, "错…") {
		t.Errorf("last error is %d bytes ending %q, want about 1000 cut on a rune", len(r.lastErr), r.lastErr[len(r.lastErr)-10:])
	}
}

// runWorker starts w.Run and returns a function that stops it and
// reports what Run returned.
func runWorker(t *testing.T, w *outbox.Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
			return nil
		}
	}
}

// waitClaim waits for the worker's next claim and returns how many items
// it took.
func waitClaim(t *testing.T, claimed <-chan int) int {
	t.Helper()
	select {
	case n := <-claimed:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no claim within 5s")
		return 0
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestKickWakesRun(t *testing.T) {
	f := newFixture()
	f.store.claimed = make(chan int)
	w := f.worker(func(cfg *outbox.Config) { cfg.Poll = time.Hour })
	stop := runWorker(t, w)
	if n := waitClaim(t, f.store.claimed); n != 0 {
		t.Fatalf("first pass claimed %d, want 0", n)
	}
	id := f.store.add(refund.OutboxPayout, "P1", `{}`)
	w.Kick()
	w.Kick() // kicks never block, however many there are
	if n := waitClaim(t, f.store.claimed); n != 1 {
		t.Fatalf("kicked pass claimed %d, want 1", n)
	}
	// The two kicks collapse into at most one more pass.
	go func() {
		for range f.store.claimed {
		}
	}()
	waitFor(t, "the kicked item's delivery", func() bool { return f.store.get(id).done })
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	close(f.store.claimed)
}

func TestKickWithoutRunDoesNotBlock(t *testing.T) {
	w := newFixture().worker(nil)
	for range 3 {
		w.Kick()
	}
}

func TestRunDrainsFullBatchesWithoutWaiting(t *testing.T) {
	f := newFixture()
	f.store.claimed = make(chan int)
	for i := range 5 {
		f.store.add(refund.OutboxPayout, fmt.Sprintf("P%d", i), `{}`)
	}
	w := f.worker(func(cfg *outbox.Config) { cfg.Batch = 2; cfg.Poll = time.Hour })
	stop := runWorker(t, w)
	for _, want := range []int{2, 2, 1} {
		if n := waitClaim(t, f.store.claimed); n != want {
			t.Fatalf("claimed %d, want %d", n, want)
		}
	}
	waitFor(t, "5 deliveries", func() bool { return len(f.rec.keys()) == 5 })
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestRunSurvivesStoreErrors(t *testing.T) {
	f := newFixture()
	f.store.claimed = make(chan int)
	f.store.claimErrs = []error{errors.New("database restarting"), errors.New("database restarting")}
	id := f.store.add(refund.OutboxPayout, "P1", `{}`)
	w := f.worker(func(cfg *outbox.Config) { cfg.Poll = time.Millisecond })
	stop := runWorker(t, w)
	for range 3 {
		waitClaim(t, f.store.claimed)
	}
	go func() {
		for range f.store.claimed {
		}
	}()
	waitFor(t, "delivery once the store came back", func() bool { return f.store.get(id).done })
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	close(f.store.claimed)
	if logs := f.logs.String(); strings.Count(logs, "database restarting") != 2 {
		t.Errorf("want both store errors logged:\n%s", logs)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Run("while sleeping", func(t *testing.T) {
		f := newFixture()
		f.store.claimed = make(chan int)
		stop := runWorker(t, f.worker(func(cfg *outbox.Config) { cfg.Poll = time.Hour }))
		waitClaim(t, f.store.claimed)
		if err := stop(); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
	t.Run("while delivering", func(t *testing.T) {
		f := newFixture()
		id := f.store.add(refund.OutboxPayout, "P1", `{}`)
		delivering := make(chan struct{})
		stop := runWorker(t, f.worker(func(cfg *outbox.Config) {
			cfg.Deliver = func(ctx context.Context, item refund.OutboxItem) error {
				close(delivering)
				<-ctx.Done()
				return fmt.Errorf("post: %w", ctx.Err())
			}
		}))
		<-delivering
		if err := stop(); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		// A clean stop hands the item back at once, without a backoff, so
		// the next process need not wait out the lease.
		if r := f.store.get(id); r.done || !r.due.Equal(f.clock.Now()) || r.lastErr != "stopped while delivering" {
			t.Errorf("item = %+v, want handed back for now", r)
		}
	})
}

func TestNewPanicsOnWiringMistakes(t *testing.T) {
	deliver := func(context.Context, refund.OutboxItem) error { return nil }
	tests := []struct {
		name string
		cfg  outbox.Config
	}{
		{"no store", outbox.Config{Kind: refund.OutboxPayout, Deliver: deliver}},
		{"no kind", outbox.Config{Store: newFakeStore(), Deliver: deliver}},
		{"no deliver", outbox.Config{Store: newFakeStore(), Kind: refund.OutboxPayout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			outbox.New(tt.cfg)
		})
	}
}
