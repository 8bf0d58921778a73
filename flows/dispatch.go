package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/refundbot/refundbot/refund"
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
	Grace    time.Duration
	Observer DispatchObserver
	Logger   *slog.Logger
	Now      func() time.Time
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
	// early holds what was claimed before Run started.
	early []Batch
	stop  bool
	wg     sync.WaitGroup
	wake   chan struct{}
	// run is the context of Run, which drainers outlive by Grace at most.
	run context.Context
	// dones gathers the drainers' sent heads for one Done round trip.
	dones chan doneRequest
}

// doneRequest is a drainer waiting for its sent head to be marked.
type doneRequest struct {
	b     Batch
	reply chan Sent
}

// maxDoneBatch bounds the heads marked in one round trip.
const maxDoneBatch = 256

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
	return &Dispatcher{cfg: cfg, active: map[int64]Batch{}, handoff: map[int64]Batch{}, wake: make(chan struct{}, 1),
		dones: make(chan doneRequest, maxDoneBatch)}, nil
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
	// The marker outlives the drainers, which mark their last sends after
	// the stop.
	stopMarking := make(chan struct{})
	marked := make(chan struct{})
	go func() { defer close(marked); d.markSent(stopMarking) }()
	defer func() { close(stopMarking); <-marked }()
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
			d.wg.Wait()
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
		go d.drain(b)
	}
}

// drain sends a chat's messages in order until its queue is empty, a send
// fails for now, or the dispatcher stops.
func (d *Dispatcher) drain(b Batch) {
	defer d.wg.Done()
	ctx := context.WithoutCancel(d.run)
	for ok := true; ok; b, ok = d.release(b) {
		for d.step(ctx, &b) {
		}
	}
}

// step sends the batch's head and moves b on to the chat's next message;
// false means this claim is done with: the queue is empty, or given back.
func (d *Dispatcher) step(ctx context.Context, b *Batch) bool {
	if d.stopping() {
		d.giveBack(*b)
		return false
	}
	err := d.deliver(ctx, *b)
	switch {
	case err == nil:
	case d.stopping():
		// Cut short by the stop: sent again after the restart, perhaps
		// twice, rather than dropped.
		d.giveBack(*b)
		return false
	case d.cfg.Retryable(err):
		d.cfg.Logger.WarnContext(ctx, "send failed; the chat's queue is tried again later", "chat_id", b.ChatID,
			"retry_in", d.cfg.RetryAfter, "err", err)
		d.later(*b, d.cfg.RetryAfter)
		return false
	default:
		d.cfg.Logger.ErrorContext(ctx, "message dropped: Telegram refuses it", "chat_id", b.ChatID, "err", err)
		if d.cfg.Observer != nil {
			d.cfg.Observer.MessageDropped()
		}
	}
	sent := d.done(*b)
	next, more, err := sent.Next, sent.More, sent.Err
	if err != nil {
		// The claim runs out and another replica goes on; the message
		// just sent may then go out twice, which beats losing one.
		d.cfg.Logger.WarnContext(ctx, "mark message sent", "chat_id", b.ChatID, "err", err)
		return false
	}
	if !more {
		return false
	}
	if len(b.Booked) > 0 && b.Head.Unbutton == 0 {
		next.Booked = b.Booked[1:]
	} else {
		next.Booked = b.Booked
	}
	*b = next
	d.mu.Lock()
	d.active[b.ChatID] = next
	d.mu.Unlock()
	return true
}

// done marks b's head sent, in the next round trip the marker makes.
func (d *Dispatcher) done(b Batch) Sent {
	reply := make(chan Sent, 1)
	d.dones <- doneRequest{b: b, reply: reply}
	return <-reply
}

// markSent marks the drainers' sent heads, all those waiting in one round
// trip: at a thousand replies a second the queue costs a fraction of a
// round trip per message, and at one a second nothing waits longer than a
// round trip.
func (d *Dispatcher) markSent(stop <-chan struct{}) {
	ctx := context.WithoutCancel(d.run)
	for {
		var first doneRequest
		select {
		case first = <-d.dones:
		case <-stop:
			return
		}
		reqs := []doneRequest{first}
	gather:
		for len(reqs) < maxDoneBatch {
			select {
			case r := <-d.dones:
				reqs = append(reqs, r)
			default:
				break gather
			}
		}
		bs := make([]Batch, len(reqs))
		for i, r := range reqs {
			bs[i] = r.b
		}
		sent, err := d.cfg.Queue.Done(ctx, bs)
		for i, r := range reqs {
			if err != nil {
				r.reply <- Sent{Err: err}
				continue
			}
			r.reply <- sent[i]
		}
	}
}

// release ends b's claim in this dispatcher's books and returns the batch
// handed over meanwhile, if any.
func (d *Dispatcher) release(b Batch) (Batch, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n, ok := d.handoff[b.ChatID]; ok {
		delete(d.handoff, b.ChatID)
		d.active[b.ChatID] = n
		return n, true
	}
	delete(d.active, b.ChatID)
	return Batch{}, false
}

func (d *Dispatcher) stopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stop || d.run.Err() != nil
}

// giveBack lets any replica deliver the chat's queue at once.
func (d *Dispatcher) giveBack(b Batch) { d.later(b, 0) }

// later gives the chat's queue back to be tried again after wait.
func (d *Dispatcher) later(b Batch, wait time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(d.run), time.Second)
	defer cancel()
	if err := d.cfg.Queue.Later(ctx, b, wait); err != nil {
		d.cfg.Logger.WarnContext(ctx, "give back send queue", "chat_id", b.ChatID, "err", err)
	}
}

// deliver sends the batch's head, at its time within the limits, within
// Grace of a stop.
func (d *Dispatcher) deliver(parent context.Context, b Batch) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	defer context.AfterFunc(d.run, func() { time.AfterFunc(d.cfg.Grace, cancel) })()
	env := b.Head
	if env.Unbutton != 0 {
		return d.cfg.Sender.RemoveKeyboard(ctx, env.ChatID, env.Unbutton)
	}
	if err := d.pace(ctx, b); err != nil {
		return err
	}
	id, err := d.cfg.Sender.Post(ctx, env.ChatID, env.Msg)
	if err != nil {
		return fmt.Errorf("send to chat %d: %w", env.ChatID, err)
	}
	if d.cfg.Observer != nil && !env.QueuedAt.IsZero() {
		d.cfg.Observer.MessageSent(d.cfg.Now().Sub(env.QueuedAt))
	}
	if env.Link != nil && d.cfg.Linker != nil {
		// A lost link only means a reply to that message is not
		// recognised; the message itself is out, so it is not sent again.
		if err := d.cfg.Linker.Link(ctx, env.Link.Escalation, id, env.Link.Card); err != nil {
			d.cfg.Logger.ErrorContext(ctx, "link message to escalation", "chat_id", env.ChatID, "message_id", id, "err", err)
		}
	}
	return nil
}

// pace waits for the head's turn within the limits: the time its commit
// booked, or one booked now.
func (d *Dispatcher) pace(ctx context.Context, b Batch) error {
	if d.cfg.Pacer == nil {
		return nil
	}
	var at time.Time
	if len(b.Booked) > 0 && time.Since(b.Booked[0]) <= lateBooking {
		at = b.Booked[0]
	} else {
		waits, err := d.cfg.Pacer.Reserve(ctx, b.ChatID, 1)
		if err != nil {
			// The limiter's store is down: sending unpaced risks a 429,
			// which is waited out; not sending loses the message.
			d.cfg.Logger.WarnContext(ctx, "send limiter unavailable; sending unpaced", "chat_id", b.ChatID, "err", err)
			return nil
		}
		at = time.Now().Add(waits[0])
	}
	wait := time.Until(at)
	if wait <= 0 {
		return nil
	}
	if d.cfg.Observer != nil {
		scope := "chat"
		if b.ChatID < 0 {
			scope = "group"
		}
		d.cfg.Observer.SendThrottled(scope, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("wait %v to send to chat %d: %w", wait, b.ChatID, ctx.Err())
	case <-t.C:
		return nil
	}
}

// Queued is the Sender of work outside a turn: Send queues the message
// behind the chat's others, so that a notice neither overtakes the replies
// queued before it nor waits for the chat's budget; the calls that need
// Telegram's answer (a message ID to keep, an edit) go to Direct.
type Queued struct {
	Dispatcher *Dispatcher
	Direct     Sender
}

var _ Sender = Queued{}

// Send implements Sender by queueing m.
func (q Queued) Send(ctx context.Context, chatID int64, m Message) error {
	if err := q.Dispatcher.Enqueue(ctx, Envelope{ChatID: chatID, Msg: m}); err != nil {
		return fmt.Errorf("queue a message to chat %d: %w", chatID, err)
	}
	return nil
}

// Post implements Sender directly.
func (q Queued) Post(ctx context.Context, chatID int64, m Message) (int, error) {
	return q.Direct.Post(ctx, chatID, m)
}

// PostAlbum implements Sender directly.
func (q Queued) PostAlbum(ctx context.Context, chatID int64, files []refund.Evidence, base Message) ([]int, error) {
	return q.Direct.PostAlbum(ctx, chatID, files, base)
}

// Edit implements Sender directly.
func (q Queued) Edit(ctx context.Context, chatID int64, messageID int, m Message) error {
	return q.Direct.Edit(ctx, chatID, messageID, m)
}

// AnswerCallback implements Sender directly.
func (q Queued) AnswerCallback(ctx context.Context, callbackID, text string) error {
	return q.Direct.AnswerCallback(ctx, callbackID, text)
}

// RemoveKeyboard implements Sender directly.
func (q Queued) RemoveKeyboard(ctx context.Context, chatID int64, messageID int) error {
	return q.Direct.RemoveKeyboard(ctx, chatID, messageID)
}
