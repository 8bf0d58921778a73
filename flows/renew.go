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
func Renew(ctx context.Context, every time.Duration, renew func(context.Context) bool) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if !renew(ctx) {
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}
