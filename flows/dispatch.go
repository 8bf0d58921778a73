package flows

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// DispatcherConfig wires a Dispatcher.
type DispatcherConfig struct {
	Queue  SendQueue
	Sender Sender
	// Linker records links of sent messages (Envelope.Link); nil is a bot
	// without a desk, whose messages carry none.
	Linker Linker
	// Pacer books each message within the messenger's limits before it is
	// sent, unless the commit booked it (Batch.Booked); Sender must then
	// not pace again. Nil sends unpaced.
	Pacer Pacer
	// Retryable reports whether a failed send may succeed later (network,
	// Telegram's 5xx and 429). Any other failure drops the message, logged
	// and counted: a message Telegram refuses (a blocked bot, a deleted
	// chat) must not hold up the chat's queue for ever.
	Retryable func(error) bool
	// MaxChats bounds the chats delivered to at once by this replica.
	MaxChats int
	// Poll is how often the queue is looked at for messages no one
	// delivers: queued by another replica's background work, left by a
	// replica that died, or waiting out a failure.
	Poll time.Duration
	// RetryAfter is how long a chat whose send failed (after the Sender's
	// own retries) waits before any replica tries it again.
	RetryAfter time.Duration
	// KeepClaims is how often the claims of the chats being delivered are
	// renewed: well within the queue's claim TTL.
	KeepClaims time.Duration
	// Grace is how long a message in flight may take to finish once the
	// dispatcher stops, so that a shutdown does not cut a send in half
	// and send it again after the restart.
	Grace time.Duration
	// OnRefused, when set, hears of every message Telegram refused for
	// good (the desk forgets an agent's private chat that blocked the
	// bot).
	OnRefused func(ctx context.Context, env Envelope, err error)
	Observer  DispatchObserver
	Logger    *slog.Logger
	Now       func() time.Time
}

// DispatchObserver is told of every delivered and dropped message, for
// metrics.
type DispatchObserver interface {
	// MessageSent reports a message out, waited the time since it was
	// queued.
	MessageSent(waited time.Duration)
	MessageDropped()
	// SendThrottled reports a message held for the limits; scope is chat
	// or group.
	SendThrottled(scope string, waited time.Duration)
}

// Pacer books messages within the messenger's limits, shared by every
// replica; sendlimit.Limiter implements it.
type Pacer interface {
	Reserve(ctx context.Context, chatID int64, n int) ([]time.Duration, error)
}

// lateBooking is how far past its booked time a message may still use it:
// a time left unused must not let a later message skip its own wait.
const lateBooking = 50 * time.Millisecond

// Dispatcher delivers the send queues: one goroutine per chat that has
// messages, sending them in order at the pace the Sender keeps, while the
// turns that queued them have long moved on.
type Dispatcher struct {
	cfg DispatcherConfig

	mu     sync.Mutex
	active map[int64]Batch // chats being delivered, with their claims
	// handoff holds a chat's new claim taken while its drainer was ending
	// (it had just emptied the queue): the drainer goes on with it.
	handoff map[int64]Batch
	// parked are the chats waiting for their next message's time within
	// the limits, on a timer each.
	parked map[int64]*time.Timer
	// drainers run the chats' drains on goroutines kept between them,
	// whose stacks have grown to a send's already.
	drainers *Workers
	// early holds what was claimed before Run started.
	early []Batch
	stop  bool
	wg    sync.WaitGroup
	wake  chan struct{}
	// run is the context of Run, which drainers outlive by Grace at most.
	run context.Context
}

// keptDrainerIdle is how long a drainer's goroutine waits for another
// chat to drain before it exits; keptDrainers bounds how many wait, about
// as many as a busy bot sends to at once (a burst's others exit).
const (
	keptDrainerIdle = 10 * time.Second
	keptDrainers    = 64
)

// Defaults of DispatcherConfig.
const (
	DefaultDispatchChats = 1000
	DefaultDispatchPoll  = 200 * time.Millisecond
	DefaultSendRetry     = time.Second
	DefaultSendGrace     = 2 * time.Second
	DefaultClaimKeep     = 3 * time.Second
)

// NewDispatcher checks cfg and returns a Dispatcher; a missing part is
// named.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	switch {
	case cfg.Queue == nil:
		return nil, errors.New("flows: the dispatcher needs a Queue")
	case cfg.Sender == nil:
		return nil, errors.New("flows: the dispatcher needs a Sender")
	case cfg.Retryable == nil:
		return nil, errors.New("flows: the dispatcher needs Retryable")
	}
	if cfg.MaxChats <= 0 {
		cfg.MaxChats = DefaultDispatchChats
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultDispatchPoll
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultSendRetry
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultSendGrace
	}
	if cfg.KeepClaims <= 0 {
		cfg.KeepClaims = DefaultClaimKeep
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Dispatcher{cfg: cfg, active: map[int64]Batch{}, handoff: map[int64]Batch{}, parked: map[int64]*time.Timer{},
		wake: make(chan struct{}, 1), drainers: NewWorkers(keptDrainerIdle, keptDrainers)}, nil
}

// Run delivers until ctx ends, then lets each chat's message in flight
// finish and gives the claims back, so that the next replica (or this one
// restarted) goes on at once. Batches handed to Start before Run are
// delivered once it runs.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	d.run = ctx
	early := d.early
	d.early = nil
	d.mu.Unlock()
	d.Start(early)
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	keep := time.NewTicker(d.cfg.KeepClaims)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			d.mu.Lock()
			d.stop = true
			d.mu.Unlock()
			d.unpark()
			d.wg.Wait()
			d.drainers.Close()
			return nil
		case <-poll.C:
		case <-d.wake:
		case <-keep.C:
			d.extend(ctx)
			continue
		}
		d.claim(ctx)
	}
}

// Start delivers batches this replica claimed as it queued them (a turn's
// commit, Enqueue): no poll stands between a reply and its send.
func (d *Dispatcher) Start(bs []Batch) {
	for _, b := range bs {
		d.spawn(b)
	}
}

// Enqueue queues messages sent outside a turn and starts delivering those
// whose chats it claimed.
func (d *Dispatcher) Enqueue(ctx context.Context, envs ...Envelope) error {
	now := d.cfg.Now().UTC()
	for i := range envs {
		if envs[i].QueuedAt.IsZero() {
			envs[i].QueuedAt = now
		}
	}
	bs, err := d.cfg.Queue.Enqueue(ctx, envs)
	if err != nil {
		return err
	}
	d.Start(bs)
	return nil
}

// Busy reports how many chats are being delivered to now.
func (d *Dispatcher) Busy() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.active)
}

func (d *Dispatcher) claim(ctx context.Context) {
	d.mu.Lock()
	room := d.cfg.MaxChats - len(d.active)
	d.mu.Unlock()
	if room <= 0 {
		return
	}
	bs, err := d.cfg.Queue.Claim(ctx, room)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.WarnContext(ctx, "claim send queues", "err", err)
		}
		return
	}
	d.Start(bs)
	if len(bs) == room {
		// More may be due than there was room for this time.
		d.poke()
	}
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) extend(ctx context.Context) {
	d.mu.Lock()
	bs := make([]Batch, 0, len(d.active)+len(d.handoff))
	for _, b := range d.active {
		bs = append(bs, b)
	}
	for _, b := range d.handoff {
		bs = append(bs, b)
	}
	d.mu.Unlock()
	if len(bs) == 0 {
		return
	}
	if err := d.cfg.Queue.KeepClaims(ctx, bs); err != nil && ctx.Err() == nil {
		d.cfg.Logger.WarnContext(ctx, "extend send queue claims", "chats", len(bs), "err", err)
	}
}

// spawn starts a chat's drainer, or hands the batch to the one that is
// ending: a drainer gives its claim up when the queue is empty, and a turn
// may claim the chat again before the drainer is gone.
func (d *Dispatcher) spawn(b Batch) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch _, running := d.active[b.ChatID]; {
	case d.run == nil:
		d.early = append(d.early, b)
	case running:
		d.handoff[b.ChatID] = b
	case d.stop:
		// Given back at once rather than left to run out.
		go d.giveBack(b)
	default:
		d.active[b.ChatID] = b
		d.wg.Add(1)
		d.drainers.Go(func() { d.drain(b) })
	}
}
