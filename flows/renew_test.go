package flows

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestRenewKeepsRenewingUntilStopped: renewals come every interval, and
// none after stop, after renew answers false, or after ctx ends.
func TestRenewKeepsRenewingUntilStopped(t *testing.T) {
	t.Parallel()
	const every = 10 * time.Millisecond
	for _, tc := range []struct {
		name string
		// end ends the hold once renewals came; it returns what renew
		// answers from then on.
		end       func(stop func(), cancel context.CancelFunc)
		refuseAll bool
	}{
		{name: "stop", end: func(stop func(), _ context.CancelFunc) { stop() }},
		{name: "context", end: func(_ func(), cancel context.CancelFunc) { cancel() }},
		{name: "renew refuses", refuseAll: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var n atomic.Int64
			stop := Renew(ctx, every, func(context.Context) bool {
				n.Add(1)
				return !tc.refuseAll
			})
			defer stop()
			deadline := time.Now().Add(5 * time.Second)
			want := int64(3)
			if tc.refuseAll {
				want = 1
			}
			for n.Load() < want && time.Now().Before(deadline) {
				time.Sleep(every)
			}
			if n.Load() < want {
				t.Fatalf("%d renewals in 5 s, want %d", n.Load(), want)
			}
			if tc.end != nil {
				tc.end(stop, cancel)
			}
			time.Sleep(2 * every) // a renewal in flight at the end may finish
			after := n.Load()
			time.Sleep(5 * every)
			if got := n.Load(); got != after {
				t.Fatalf("%d renewals after the hold ended, want none", got-after)
			}
			if tc.refuseAll && after != 1 {
				t.Fatalf("%d renewals after renew refused the first, want none", after-1)
			}
		})
	}
}
