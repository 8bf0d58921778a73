package bot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Pacing: every send waits for its slot within Telegram's limits, booked
// with the shared limiter as it is about to go. A send runs in the
// dispatcher, never in a turn, so the wait holds up only that chat's
// queue.

// pace waits until a message to chatID may go.
func (s *Sender) pace(ctx context.Context, chatID int64) error {
	if s.pacer == nil || s.unpaced {
		return nil
	}
	waits, err := s.pacer.Reserve(ctx, chatID, 1)
	if err != nil {
		// The limiter's store is down: sending unpaced risks a 429,
		// which is waited out; not sending loses the reply.
		s.logger.WarnContext(ctx, "send limiter unavailable; sending unpaced", "chat_id", chatID, "err", err)
		return nil
	}
	wait := waits[0]
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
