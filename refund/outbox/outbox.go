// Package outbox delivers the messages of a refund.Outbox at least once:
// it claims due items under a lease, hands each to a Deliver function, and
// records the outcome. A worker that dies mid-batch loses nothing, because
// its items come back when their lease ends; the price is that a receiver
// may see an item twice, so every Deliver must be safe to repeat (the
// item's Key is there to make it so).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/refundbot/refundbot/refund"
)

// Deliver sends one item to its receiver. A nil error means the receiver
// has it; any other error has the item tried again later, unless it is
// wrapped with Permanent. Deliver must honour ctx, which ends on shutdown.
type Deliver func(ctx context.Context, item refund.OutboxItem) error

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent failure: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the worker logs it and
// completes the item instead of trying again for ever, e.g. when Telegram
// says the buyer blocked the bot. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// Defaults for the zero values of Config.
const (
	DefaultLease = time.Minute
	DefaultBatch = 20
	DefaultPoll  = time.Second
)

// The bounds of DefaultBackoff: the first retry comes soon enough to ride
// out a blip, and a receiver that is down for a day is still asked
// hourly rather than forgotten.
const (
	minBackoff = 2 * time.Second
	maxBackoff = time.Hour
)

// recordTimeout bounds the store call that records an outcome. It is
// detached from the worker's context so that a delivery that did happen is
// still recorded while shutting down, instead of being repeated.
const recordTimeout = 10 * time.Second

// maxLastErr bounds the error text kept with an item, so that a receiver
// answering with a large error page cannot bloat the outbox table.
const maxLastErr = 1000

// DefaultBackoff waits 2s after the first attempt and doubles with each
// further one up to an hour. It has no jitter: the outbox's items are
// retried on their own schedules, so there is no herd to spread.
func DefaultBackoff(attempts int) time.Duration {
	d := minBackoff
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= maxBackoff {
			return maxBackoff
		}
	}
	return d
}

// Config is what a Worker needs. Store, Kind and Deliver are required;
// the others have defaults.
type Config struct {
	Store   refund.Outbox
	Kind    refund.OutboxKind
	Deliver Deliver
	// Lease is how long a claimed item is hidden from other workers. It
	// also bounds one delivery, so that a hung receiver cannot make two
	// workers deliver the same item at once. Default DefaultLease.
	Lease time.Duration
	// Batch is how many items one claim takes. Default DefaultBatch.
	Batch int
	// Poll is how long Run sleeps when nothing was due. Default
	// DefaultPoll.
	Poll time.Duration
	// Backoff is how long to wait before the next try after a failed
	// attempt; attempts counts every try so far, this one included.
	// Default DefaultBackoff.
	Backoff func(attempts int) time.Duration
	// Now is the clock for leases and retry times. Default time.Now.
	Now func() time.Time
	// Logger receives failed deliveries and store errors. Default
	// discards them.
	Logger *slog.Logger
}

// Worker delivers one kind of outbox item. Several workers, in one process
// or many, can share an outbox: the store's leases keep them apart.
type Worker struct {
	cfg  Config
	kick chan struct{}
}

// New returns a worker for cfg. It panics when Store, Kind or Deliver is
// missing, because that is a wiring mistake, not a runtime condition.
func New(cfg Config) *Worker {
	switch {
	case cfg.Store == nil:
		panic("outbox: Config.Store is required")
	case cfg.Kind == "":
		panic("outbox: Config.Kind is required")
	case cfg.Deliver == nil:
		panic("outbox: Config.Deliver is required")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("outbox", string(cfg.Kind))
	// One buffered slot is enough: kicks that arrive while the worker is
	// busy collapse into one extra pass, and none is lost.
	return &Worker{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Kick tells Run that new work is waiting, so that it looks now rather
// than at the next poll. It never blocks, so a producer can call it right
// after committing, and it is a no-op when nobody runs the worker.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers items until ctx ends, then returns nil. A failing store is
// logged and tried again at the next poll rather than ending Run, so that
// a database restart does not take the bot down.
func (w *Worker) Run(ctx context.Context) error {
	for {
		claimed, _, err := w.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			w.cfg.Logger.ErrorContext(ctx, "outbox pass failed; retrying at the next poll", "err", err)
		}
		if err == nil && claimed == w.cfg.Batch {
			// A full batch suggests more is due: keep going without
			// waiting for the poll.
			continue
		}
		timer := time.NewTimer(w.cfg.Poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// RunOnce claims one batch of due items and delivers them one by one,
// recording each outcome. It returns how many were delivered; err is a
// store error or the end of ctx. Items claimed but not reached when it
// stops come back when their lease ends.
func (w *Worker) RunOnce(ctx context.Context) (delivered int, err error) {
	_, delivered, err = w.runOnce(ctx)
	return delivered, err
}

func (w *Worker) runOnce(ctx context.Context) (claimed, delivered int, err error) {
	start := w.cfg.Now()
	items, err := w.cfg.Store.ClaimOutbox(ctx, w.cfg.Kind, start, w.cfg.Lease, w.cfg.Batch)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox %s: claim: %w", w.cfg.Kind, err)
	}
	leaseEnd := start.Add(w.cfg.Lease)
	for _, item := range items {
		if err := ctx.Err(); err != nil {
			return len(items), delivered, fmt.Errorf("outbox %s: %w", w.cfg.Kind, err)
		}
		if !w.cfg.Now().Before(leaseEnd) {
			// The rest of the batch may already belong to another
			// worker; delivering it here would only add duplicates.
			w.cfg.Logger.WarnContext(ctx, "outbox lease ran out before the batch was delivered",
				"lease", w.cfg.Lease, "left", len(items)-delivered)
			return len(items), delivered, nil
		}
		ok, err := w.deliver(ctx, item)
		if ok {
			delivered++
		}
		if err != nil {
			return len(items), delivered, err
		}
	}
	return len(items), delivered, nil
}

// deliver sends one item and records the outcome. ok reports a delivery;
// err is a failure to record it, or the end of ctx.
func (w *Worker) deliver(ctx context.Context, item refund.OutboxItem) (ok bool, err error) {
	log := w.cfg.Logger.With("item", item.ID, "key", item.Key, "attempts", item.Attempts)
	dctx, cancel := context.WithTimeout(ctx, w.cfg.Lease)
	derr := w.call(dctx, item)
	cancel()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if derr != nil && ctx.Err() != nil {
		// The failure is our shutdown, not the receiver's: hand the item
		// back at once, without a backoff, so the next process (after a
		// deploy, seconds later) delivers it instead of waiting out the
		// lease. A crash cannot do this; the lease covers that case.
		if err := w.cfg.Store.RetryOutbox(rctx, item.ID, w.cfg.Now(), "stopped while delivering"); err != nil {
			log.WarnContext(ctx, "outbox item left to its lease", "err", err)
		}
		return false, fmt.Errorf("outbox %s: item %d: %w", w.cfg.Kind, item.ID, ctx.Err())
	}
	switch {
	case derr == nil:
		if err := w.cfg.Store.CompleteOutbox(rctx, item.ID); err != nil {
			return true, fmt.Errorf("outbox %s: complete item %d: %w", w.cfg.Kind, item.ID, err)
		}
		return true, nil
	case IsPermanent(derr):
		log.ErrorContext(ctx, "outbox item dropped: delivery failed for good", "err", derr)
		if err := w.cfg.Store.CompleteOutbox(rctx, item.ID); err != nil {
			return false, fmt.Errorf("outbox %s: complete failed item %d: %w", w.cfg.Kind, item.ID, err)
		}
		return false, nil
	default:
		next := w.cfg.Now().Add(w.cfg.Backoff(item.Attempts))
		log.WarnContext(ctx, "outbox delivery failed; will retry", "next", next, "err", derr)
		if err := w.cfg.Store.RetryOutbox(rctx, item.ID, next, lastErr(derr)); err != nil {
			return false, fmt.Errorf("outbox %s: retry item %d: %w", w.cfg.Kind, item.ID, err)
		}
		return false, nil
	}
}

// call runs Deliver, turning a panic into an error: a payload that makes
// the receiver's code panic would otherwise crash the bot again on every
// redelivery, whereas an error backs off.
func (w *Worker) call(ctx context.Context, item refund.OutboxItem) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("deliver panicked: %v", p)
		}
	}()
	return w.cfg.Deliver(ctx, item)
}

// lastErr is err's text, cut to maxLastErr bytes on a rune boundary.
func lastErr(err error) string {
	s := err.Error()
	if len(s) <= maxLastErr {
		return s
	}
	cut := maxLastErr
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
