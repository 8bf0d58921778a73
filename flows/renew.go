package flows

import (
	"context"
	"sync"
	"time"
)

// Renew calls renew every interval until ctx ends, renew answers false
// (the hold is lost, or not worth keeping), or the returned stop is
// called: the one keep-alive of the leases and claims a turn or an album
// holds while it runs long. A zero interval renews nothing.
//
// It runs on a timer, not a goroutine of its own: nearly every turn ends
// long before its first renewal, and a goroutine and a ticker per turn
// were a cost of every update.
func Renew(ctx context.Context, every time.Duration, renew func(context.Context) bool) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		if ctx.Err() != nil || !renew(ctx) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// Sleep waits d, or until ctx ends, whose error it then returns: the one
// wait of the runtime's retries and back-offs that a shutdown cuts short.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
