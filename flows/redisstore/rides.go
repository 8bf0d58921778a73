package redisstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
)

// The dispatcher marks every message sent (Done) once it is out. On a busy
// bot that is a round trip per message, as many as the turns' own. Those
// marks, and the dispatcher's polls for queues nobody delivers (Claim)
// and renewals of its claims (KeepClaims), ride instead on the next turn's round trip of this replica, Begin or
// Commit: their scripts go into its pipeline, in front of the turn's own.
// One that no turn takes within Options.DoneWait goes by itself, taking
// every other one waiting with it, so a quiet bot waits that long at most.

// DefaultDoneWait is how long a mark waits for a turn to ride on: at a
// thousand turns a second one comes within a millisecond, and a chat's
// next message waits for the mark of the one before it.
const DefaultDoneWait = 5 * time.Millisecond

// rides gathers the dispatcher's calls waiting for a round trip.
type rides struct {
	wait    time.Duration
	mu      sync.Mutex
	waiting []*ride
}

// ride is one call's commands: queue puts them on a pipeline, and cmds
// are there to read once done is closed.
type ride struct {
	queue func(ctx context.Context, pipe redis.Pipeliner) []*redis.Cmd
	cmds  []*redis.Cmd
	done  chan struct{}
}

// noScript reports whether Redis did not know a script of the ride (it
// restarted and lost them).
func (r *ride) noScript() bool {
	for _, cmd := range r.cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// maxRidesPerTurn bounds what one turn carries, so that a burst of marks
// (a thousand chats sent to at once) does not hold up the turn that
// happens to come next: the rest go with the following turns, or by
// themselves.
const maxRidesPerTurn = 64

// take hands every waiting ride to the caller, who must send and finish
// them.
func (r *rides) take() []*ride {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken := r.waiting
	r.waiting = nil
	return taken
}

// takeForTurn hands a turn's pipeline the rides it carries: the oldest,
// up to maxRidesPerTurn.
func (r *rides) takeForTurn() []*ride {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := min(len(r.waiting), maxRidesPerTurn)
	if n == 0 {
		return nil
	}
	taken := slices.Clone(r.waiting[:n])
	r.waiting = slices.Delete(r.waiting, 0, n)
	return taken
}

// queueRides puts the rides' commands on pipe.
func queueRides(ctx context.Context, pipe redis.Pipeliner, rs []*ride) {
	for _, r := range rs {
		r.cmds = r.queue(ctx, pipe)
	}
}

// finishRides answers the rides a turn's pipeline carried. A ride Redis
// could not run for want of its script goes again by itself, without the
// turn waiting for it.
func (s *sendQueue) finishRides(ctx context.Context, rs []*ride) {
	for _, r := range rs {
		if r.noScript() {
			go s.sendRides(context.WithoutCancel(ctx), []*ride{r})
			continue
		}
		close(r.done)
	}
}

// sendRides sends rides in a round trip of their own.
func (s *sendQueue) sendRides(ctx context.Context, rs []*ride) {
	run := func() bool {
		pipe := s.rdb.Pipeline()
		queueRides(ctx, pipe, rs)
		_, _ = pipe.Exec(ctx) // each command's own error is read by its caller
		for _, r := range rs {
			if r.noScript() {
				return false
			}
		}
		return true
	}
	if !run() && doneScript.Load(ctx, s.rdb).Err() == nil && claimScript.Load(ctx, s.rdb).Err() == nil &&
		extendClaimsScript.Load(ctx, s.rdb).Err() == nil {
		// Redis lost its scripts (a restart): loaded, the rides go again.
		run()
	}
	for _, r := range rs {
		close(r.done)
	}
}

// leave takes r off the waiting list, and reports false if a round trip
// took it already: its answers are then on their way.
func (r *rides) leave(gone *ride) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, w := range r.waiting {
		if w == gone {
			r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
			return true
		}
	}
	return false
}

// ride runs queue's commands on a turn's round trip, or on one of its own
// after the wait, and returns them done. An error means ctx ended before
// they went, and they never will: a poll's claims must not be taken for
// a caller who is gone. Once they went, their answers are returned even
// if ctx ends meanwhile, since what they did is done.
func (s *sendQueue) ride(ctx context.Context, queue func(ctx context.Context, pipe redis.Pipeliner) []*redis.Cmd) ([]*redis.Cmd, error) {
	r := &ride{queue: queue, done: make(chan struct{})}
	s.rides.mu.Lock()
	s.rides.waiting = append(s.rides.waiting, r)
	s.rides.mu.Unlock()
	t := time.NewTimer(s.rides.wait)
	defer t.Stop()
	select {
	case <-r.done:
		return r.cmds, nil
	case <-t.C:
		if rs := s.rides.take(); len(rs) > 0 {
			// Others' calls go too: not cut short by this caller's end.
			s.sendRides(context.WithoutCancel(ctx), rs)
		}
	case <-ctx.Done():
		if s.rides.leave(r) {
			return nil, ctx.Err()
		}
	}
	// Ours went with those taken, or a turn took it just now.
	<-r.done
	return r.cmds, nil
}

// carry runs script behind the calls waiting to ride (at most
// maxRidesPerTurn), with also's commands after it, in one pipeline; by
// itself when nothing rides and also is nil. alone reports that Redis had
// lost the script and it ran again by itself, also's commands not with it.
func (s *sendQueue) carry(ctx context.Context, script *redis.Script, keys []string, args []any,
	also func(redis.Pipeliner)) (cmd *redis.Cmd, alone bool) {
	rs := s.rides.takeForTurn()
	if len(rs) == 0 && also == nil {
		return script.Run(ctx, s.rdb, keys, args...), false
	}
	pipe := s.rdb.Pipeline()
	queueRides(ctx, pipe, rs)
	cmd = script.EvalSha(ctx, pipe, keys, args...)
	if also != nil {
		also(pipe)
	}
	_, _ = pipe.Exec(ctx) // each command's own error is read by its caller
	s.finishRides(ctx, rs)
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		// Redis lost its scripts (a restart): Run loads it again.
		return script.Run(ctx, s.rdb, keys, args...), true
	}
	return cmd, false
}

// Done implements flows.SendQueue: the marks ride on a turn's round trip.
func (s *sendQueue) Done(ctx context.Context, bs []flows.Batch) ([]flows.Sent, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	cmds, err := s.ride(ctx, func(ctx context.Context, pipe redis.Pipeliner) []*redis.Cmd {
		cmds := make([]*redis.Cmd, len(bs))
		for i, b := range bs {
			cmds[i] = doneScript.EvalSha(ctx, pipe, []string{s.queueKey(b.ChatID), s.claimKey(b.ChatID), s.dueKey()},
				b.ChatID, b.Token, s.ClaimTTL().Milliseconds(), b.Sent+1)
		}
		return cmds
	})
	if err != nil {
		return nil, fmt.Errorf("mark %d sent messages: %w", len(bs), err)
	}
	out := make([]flows.Sent, len(bs))
	for i, b := range bs {
		out[i] = doneAnswer(b, cmds[i])
	}
	return out, nil
}
