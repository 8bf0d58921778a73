package flows

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A chat's drainer: it sends the chat's queue in order, each message at
// its time within the limits, and has it marked sent.

// drain sends a chat's messages in order until its queue is empty, a send
// fails for now, or the dispatcher stops. A message that must wait for its
// time within the limits parks the chat on a timer, which drains it again
// when the time comes: a thousand chats waiting out their one message a
// second hold no goroutine, and no stack, each.
func (d *Dispatcher) drain(b Batch) {
	ctx := context.WithoutCancel(d.run)
	for {
		for {
			if wait := d.timeOf(ctx, &b); wait > 0 {
				d.park(b, wait)
				return
			}
			if !d.step(ctx, &b) {
				break
			}
		}
		var ok bool
		if b, ok = d.release(b); !ok {
			d.wg.Done()
			return
		}
	}
}

// park has the chat drained again after wait, or given back at once if
// the dispatcher stops meanwhile.
func (d *Dispatcher) park(b Batch, wait time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stop {
		go func() {
			d.giveBack(b)
			d.finish(b)
		}()
		return
	}
	d.parked[b.ChatID] = time.AfterFunc(wait, func() {
		d.mu.Lock()
		delete(d.parked, b.ChatID)
		d.mu.Unlock()
		d.drainers.Go(func() { d.drain(b) })
	})
}

// unpark gives the parked chats back, for the stop: none of them is in
// flight.
func (d *Dispatcher) unpark() {
	d.mu.Lock()
	var bs []Batch
	for chat, t := range d.parked {
		if t.Stop() { // else it fires and its drain sees the stop
			bs = append(bs, d.active[chat])
		}
		delete(d.parked, chat)
	}
	d.mu.Unlock()
	for _, b := range bs {
		d.giveBack(b)
		d.finish(b)
	}
}

// finish ends a chat's drain for the stop: it and the batch handed over
// meanwhile, if any, are given back.
func (d *Dispatcher) finish(b Batch) {
	if n, ok := d.release(b); ok {
		d.giveBack(n)
		d.finish(n)
		return
	}
	d.wg.Done()
}

// timeOf books the head's time within the limits, unless it has one, and
// returns how long it must wait for it.
func (d *Dispatcher) timeOf(ctx context.Context, b *Batch) time.Duration {
	if d.cfg.Pacer == nil || b.Head.Unbutton != 0 {
		return 0
	}
	if b.at.IsZero() {
		if len(b.Booked) > 0 && time.Since(b.Booked[0]) <= lateBooking {
			b.at = b.Booked[0]
		} else if waits, err := d.cfg.Pacer.Reserve(ctx, b.ChatID, 1); err != nil {
			// The limiter's store is down: sending unpaced risks a 429,
			// which is waited out; not sending loses the message.
			d.cfg.Logger.WarnContext(ctx, "send limiter unavailable; sending unpaced", "chat_id", b.ChatID, "err", err)
			b.at = time.Now()
		} else {
			b.at = time.Now().Add(waits[0])
		}
		if wait := time.Until(b.at); wait > 0 && d.cfg.Observer != nil {
			scope := "chat"
			if b.ChatID < 0 {
				scope = "group"
			}
			d.cfg.Observer.SendThrottled(scope, wait)
		}
	}
	return time.Until(b.at)
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
		d.refused(ctx, b.Head, err)
	}
	if len(b.Then) > 0 {
		// The next message is known: on to it, marked with it later.
		next := Batch{ChatID: b.ChatID, Token: b.Token, Head: b.Then[0], Then: b.Then[1:], Sent: b.Sent + 1}
		d.moveOn(b, next)
		return true
	}
	sent := d.done(ctx, *b)
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
	d.moveOn(b, next)
	return true
}

// moveOn makes next, a new head without a time yet, the chat's batch,
// with the bookings b's head did not use.
func (d *Dispatcher) moveOn(b *Batch, next Batch) {
	if len(b.Booked) > 0 && b.Head.Unbutton == 0 {
		next.Booked = b.Booked[1:]
	} else {
		next.Booked = b.Booked
	}
	*b = next
	d.mu.Lock()
	d.active[b.ChatID] = next
	d.mu.Unlock()
}

// done marks b's head sent; the queue gathers the marks of every chat
// into as few round trips as it can (SendQueue.Done).
func (d *Dispatcher) done(ctx context.Context, b Batch) Sent {
	sent, err := d.cfg.Queue.Done(ctx, []Batch{b})
	if err != nil {
		return Sent{Err: err}
	}
	return sent[0]
}

// refused deals with a message Telegram will never take: its fallback,
// if it has one, is queued instead; otherwise it is dropped, logged and
// counted. OnRefused hears of it either way.
func (d *Dispatcher) refused(ctx context.Context, env Envelope, err error) {
	if d.cfg.OnRefused != nil {
		d.cfg.OnRefused(ctx, env, err)
	}
	if env.Fallback != nil {
		d.cfg.Logger.WarnContext(ctx, "message refused; its fallback goes instead", "chat_id", env.ChatID,
			"fallback_chat_id", env.Fallback.ChatID, "err", err)
		qerr := d.Enqueue(ctx, *env.Fallback)
		if qerr == nil {
			return
		}
		err = errors.Join(err, qerr)
	}
	d.cfg.Logger.ErrorContext(ctx, "message dropped: Telegram refuses it", "chat_id", env.ChatID, "err", err)
	if d.cfg.Observer != nil {
		d.cfg.Observer.MessageDropped()
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

// deliver sends the batch's head, whose time has come (timeOf), within
// Grace of a stop.
func (d *Dispatcher) deliver(parent context.Context, b Batch) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	defer context.AfterFunc(d.run, func() { time.AfterFunc(d.cfg.Grace, cancel) })()
	env := b.Head
	if env.Unbutton != 0 {
		return d.cfg.Sender.RemoveKeyboard(ctx, env.ChatID, env.Unbutton)
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
		if err := d.cfg.Linker.Link(ctx, env.Link.Escalation, id, env.Link.Kind); err != nil {
			d.cfg.Logger.ErrorContext(ctx, "link message to escalation", "chat_id", env.ChatID, "message_id", id, "err", err)
		}
	}
	return nil
}
