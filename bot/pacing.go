package bot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Pacing: every send waits for its slot within Telegram's limits, booked
// ahead by the turn where it can be.

// Book implements flows.Booker: a turn books its n replies to a chat in
// one reservation instead of one per message. Times already held for the
// chat (booked when the turn began, see AddBooking) count towards n.
func (s *Sender) Book(ctx context.Context, chatID int64, n int) error {
	if s.pacer == nil || n <= 0 {
		return nil
	}
	need := n - s.held(chatID)
	if need <= 0 {
		return nil
	}
	waits, err := s.pacer.Reserve(ctx, chatID, need)
	if err != nil {
		return fmt.Errorf("book %d sends to chat %d: %w", need, chatID, err)
	}
	s.AddBooking(chatID, waits)
	return nil
}

// AddBooking holds send times booked for a chat elsewhere: the session
// store books a private chat's first reply in the round trip that begins
// its turn, since nearly every turn there answers.
func (s *Sender) AddBooking(chatID int64, waits []time.Duration) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	times := s.freshLocked(chatID)
	for _, w := range waits {
		times = append(times, now.Add(w))
	}
	s.booked[chatID] = times
}

// held counts the usable times held for a chat.
func (s *Sender) held(chatID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.freshLocked(chatID))
}

// freshLocked drops a chat's held times that are too old to use.
func (s *Sender) freshLocked(chatID int64) []time.Time {
	times := s.booked[chatID]
	for len(times) > 0 && time.Since(times[0]) > lateBooking {
		times = times[1:]
	}
	if len(times) == 0 {
		delete(s.booked, chatID)
		return nil
	}
	s.booked[chatID] = times
	return times
}

// pace waits until a message to chatID may go: at the time a turn booked
// for it, or else at one booked now.
func (s *Sender) pace(ctx context.Context, chatID int64) error {
	if s.pacer == nil {
		return nil
	}
	// A time the turn was held up past is dropped (freshLocked): sent
	// late, its message would crowd the ones booked for now.
	at, ok := s.takeBooking(chatID)
	if !ok {
		waits, err := s.pacer.Reserve(ctx, chatID, 1)
		if err != nil {
			// The limiter's store is down: sending unpaced risks a 429,
			// which is waited out; not sending loses the reply.
			s.logger.WarnContext(ctx, "send limiter unavailable; sending unpaced", "chat_id", chatID, "err", err)
			return nil
		}
		at = time.Now().Add(waits[0])
	}
	wait := time.Until(at)
	if wait <= 0 {
		return nil
	}
	if s.observer != nil {
		scope := "chat"
		if chatID < 0 {
			scope = "group"
		}
		s.observer.SendThrottled(scope, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("wait %v to send to chat %d: %w", wait, chatID, ctx.Err())
	case <-t.C:
		return nil
	}
}

func (s *Sender) takeBooking(chatID int64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	times := s.freshLocked(chatID)
	if len(times) == 0 {
		return time.Time{}, false
	}
	if len(times) == 1 {
		delete(s.booked, chatID)
	} else {
		s.booked[chatID] = times[1:]
	}
	return times[0], true
}

// holdChat tells the other replicas to keep off a chat Telegram is
// throttling; this one waits in request's loop.
func (s *Sender) holdChat(ctx context.Context, p tgbotapi.Params, d time.Duration) {
	chatID, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if s.pacer == nil || err != nil {
		return
	}
	if err := s.pacer.Hold(ctx, chatID, d); err != nil {
		s.logger.WarnContext(ctx, "share a 429 with other replicas", "chat_id", chatID, "err", err)
	}
}
