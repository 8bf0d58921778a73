package flows

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The tests are inside the package to read how many goroutines Workers
// started and how many wait: reuse is not visible from outside.

func (w *Workers) counts() (started, idle int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started, len(w.idle)
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// waitClosed fails the test if Close does not return within 5 s.
func waitClosed(t *testing.T, w *Workers) {
	t.Helper()
	done := make(chan struct{})
	go func() { w.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

func TestWorkersRunEveryFunction(t *testing.T) {
	tests := []struct {
		name    string
		idleFor time.Duration
		calls   int
		// callers is how many goroutines call Go at once.
		callers int
	}{
		{"kept, one caller", 10 * time.Second, 1000, 1},
		{"kept, many callers", 10 * time.Second, 1000, 8},
		// Waits that run out while Go hands work over race with it.
		{"waits running out at once", time.Microsecond, 2000, 8},
		{"nothing kept", 0, 200, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(tt.idleFor, 1<<20)
			var ran atomic.Int64
			var done, callers sync.WaitGroup
			done.Add(tt.calls)
			for c := range tt.callers {
				callers.Go(func() {
					for i := c; i < tt.calls; i += tt.callers {
						w.Go(func() { ran.Add(1); done.Done() })
					}
				})
			}
			callers.Wait()
			done.Wait()
			if got := ran.Load(); got != int64(tt.calls) {
				t.Errorf("ran %d functions, want %d", got, tt.calls)
			}
			waitClosed(t, w)
			if _, idle := w.counts(); idle != 0 {
				t.Errorf("%d goroutines idle after Close", idle)
			}
		})
	}
}

func TestWorkersReuseAnIdleGoroutine(t *testing.T) {
	w := NewWorkers(10*time.Second, 1<<20)
	defer w.Close()
	const calls = 100
	for i := range calls {
		done := make(chan struct{})
		w.Go(func() { close(done) })
		<-done
		// The goroutine parks itself after f returns: the next Go finds
		// it idle only from then on.
		waitUntil(t, "the goroutine is idle", func() bool { _, idle := w.counts(); return idle >= 1 })
		if started, _ := w.counts(); started != 1 {
			t.Fatalf("after %d calls one after another, %d goroutines were started, want 1", i+1, started)
		}
	}
}

// TestWorkersKeepAtMostMaxIdle: after a burst wider than maxIdle, only
// maxIdle goroutines wait; the others exit at once, with their stacks.
func TestWorkersKeepAtMostMaxIdle(t *testing.T) {
	const burst, maxIdle = 50, 8
	w := NewWorkers(time.Hour, maxIdle)
	defer w.Close()
	release := make(chan struct{})
	var running, done sync.WaitGroup
	running.Add(burst)
	done.Add(burst)
	for range burst {
		w.Go(func() {
			defer done.Done()
			running.Done()
			<-release
		})
	}
	running.Wait() // all burst functions run at once, each on its own goroutine
	close(release)
	done.Wait()
	waitUntil(t, "the burst's goroutines park or exit", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.idle) == maxIdle
	})
	time.Sleep(10 * time.Millisecond)
	if started, idle := w.counts(); started != burst || idle != maxIdle {
		t.Fatalf("after a burst of %d: %d started, %d idle; want %d started, %d idle", burst, started, idle, burst, maxIdle)
	}
}

func TestWorkersNeverWaitForRunningWork(t *testing.T) {
	w := NewWorkers(10*time.Second, 1<<20)
	defer w.Close()
	const n = 50
	for round := range 2 {
		gate := make(chan struct{})
		var running sync.WaitGroup
		running.Add(n)
		var finished sync.WaitGroup
		finished.Add(n)
		for range n {
			// Every function blocks until all n run: Go must start them all
			// at once, bounding nothing.
			w.Go(func() { running.Done(); <-gate; finished.Done() })
		}
		waited := make(chan struct{})
		go func() { running.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: not all %d functions run at once", round, n)
		}
		close(gate)
		finished.Wait()
		waitUntil(t, "all goroutines are idle", func() bool { _, idle := w.counts(); return idle >= n })
		// The second round runs on the first round's goroutines.
		if started, _ := w.counts(); started != n {
			t.Fatalf("round %d: %d goroutines started for %d functions at once, want %d", round, started, n, n)
		}
	}
}

func TestWorkersIdleGoroutinesExit(t *testing.T) {
	tests := []struct {
		name    string
		idleFor time.Duration
	}{
		{"after their wait", 20 * time.Millisecond},
		{"at once when nothing is kept", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWorkers(tt.idleFor, 1<<20)
			gate := make(chan struct{})
			var done sync.WaitGroup
			done.Add(3)
			for range 3 {
				w.Go(func() { <-gate; done.Done() })
			}
			close(gate)
			done.Wait()
			// running is what Close waits for; nothing here calls Close.
			exited := make(chan struct{})
			go func() { w.running.Wait(); close(exited) }()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				t.Fatal("idle goroutines did not exit")
			}
			if _, idle := w.counts(); idle != 0 {
				t.Errorf("%d goroutines listed idle after they exited", idle)
			}
		})
	}
}

func TestWorkersClose(t *testing.T) {
	w := NewWorkers(time.Hour, 1<<20)
	gate := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	w.Go(func() { started.Done() })
	w.Go(func() { started.Done(); <-gate })
	started.Wait()
	waitUntil(t, "one goroutine is idle", func() bool { _, idle := w.counts(); return idle >= 1 })

	closed := make(chan struct{})
	go func() { w.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a function was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the functions ended (an idle goroutine was kept)")
	}

	// After Close, Go still runs f and keeps no goroutine.
	ran := make(chan struct{})
	w.Go(func() { close(ran) })
	<-ran
	if _, idle := w.counts(); idle != 0 {
		t.Errorf("%d goroutines kept after Close", idle)
	}
	waitClosed(t, w) // a second Close returns too
}

// deepStack uses about depth × 100 bytes of stack, as a turn's calls into
// Redis, PostgreSQL and the Bot API do, which a new goroutine grows to.
//
//go:noinline
func deepStack(depth int) byte {
	var frame [64]byte
	frame[depth%64] = byte(depth)
	if depth == 0 {
		return frame[0]
	}
	return deepStack(depth-1) + frame[depth%64]
}

// BenchmarkWorkers compares a goroutine per function with kept goroutines,
// for functions that need a 16 KiB stack, at most 8 at a time.
func BenchmarkWorkers(b *testing.B) {
	tests := []struct {
		name  string
		start func() (goFunc func(func()), stop func())
	}{
		{"go statement", func() (func(func()), func()) {
			return func(f func()) { go f() }, func() {}
		}},
		{"Workers", func() (func(func()), func()) {
			w := NewWorkers(10*time.Second, 1<<20)
			return w.Go, w.Close
		}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			goFunc, stop := tt.start()
			defer stop()
			slots := make(chan struct{}, 8)
			var sink atomic.Int64
			var wg sync.WaitGroup
			for b.Loop() {
				slots <- struct{}{}
				wg.Add(1)
				goFunc(func() {
					defer wg.Done()
					sink.Add(int64(deepStack(160)))
					<-slots
				})
			}
			wg.Wait()
		})
	}
}
