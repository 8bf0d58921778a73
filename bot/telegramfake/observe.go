package telegramfake

import (
	"context"
	"fmt"
	"slices"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// observer is the Server's part a test reads back what the bot did with: what it sent, called,
// answered and set. Its methods are here and in the files of their topic (forum.go, updates.go,
// limits.go, webhook.go); WaitFor and WaitMessages are the Server's own, as conditions are
// written against the whole Server.
type observer struct{ *world }

// copySent is a deep copy, so callers cannot change the fake's state through the keyboard.
func copySent(m SentMessage) SentMessage {
	if m.Keyboard != nil {
		rows := make([][]Button, len(m.Keyboard))
		for i, row := range m.Keyboard {
			rows[i] = slices.Clone(row)
		}
		m.Keyboard = rows
	}
	return m
}

// emitLocked queues m's current state for the subscribers and wakes waiters.
func (s *world) emitLocked(m *SentMessage) {
	s.events = append(s.events, copySent(*m))
	s.changedLocked()
}

// notify hands queued changes to the subscribers, outside mu so they may call the Server.
func (s *world) notify() {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.mu.Lock()
	events, subs := s.events, s.subscribers
	s.events = nil
	s.mu.Unlock()
	for _, ev := range events {
		for _, fn := range subs {
			fn(copySent(ev))
		}
	}
}

// Subscribe calls fn with a message's new state after every send, edit or delete by the bot, one
// call at a time and in order. fn runs before the bot gets its answer, so it must not wait for
// the bot; it may call the Server.
func (s *observer) Subscribe(fn func(SentMessage)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribers = append(slices.Clip(s.subscribers), fn) // notify may be ranging over the old slice
}

// Messages is the current state of every message the bot sent to chatID, in send order; deleted
// ones stay, marked Deleted.
func (s *observer) Messages(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.sentOrder[chatID]
	out := make([]SentMessage, 0, len(ids))
	for _, id := range ids {
		out = append(out, copySent(*s.messages[msgKey{chatID, id}].sent))
	}
	return out
}

// WaitFor blocks until cond holds, re-evaluating it after every change to the fake's state
// (including every request that arrives). cond runs without the fake's lock held, so it may call
// any Server method. It returns ctx's error, or ErrClosed once the server is closed.
func (s *Server) WaitFor(ctx context.Context, cond func(*Server) bool) error {
	for {
		s.mu.Lock()
		changed, closed := s.changed, s.closed
		s.mu.Unlock()
		if cond(s) {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitMessages waits until the bot has sent at least n messages to chatID and returns them all.
// On timeout it returns what there is, with an error saying how many were missing.
func (s *Server) WaitMessages(ctx context.Context, chatID int64, n int) ([]SentMessage, error) {
	err := s.WaitFor(ctx, func(s *Server) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.sentOrder[chatID]) >= n
	})
	msgs := s.Messages(chatID)
	if err != nil {
		return msgs, fmt.Errorf("telegramfake: chat %d has %d of %d bot messages: %w", chatID, len(msgs), n, err)
	}
	return msgs, nil
}

// CallbackAnswers lists the successful answerCallbackQuery calls in order.
func (s *observer) CallbackAnswers() []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answers)
}

// Calls counts the requests for method that arrived, failed ones included. Method names match
// case-insensitively, as on Telegram.
func (s *observer) Calls(method string) int {
	name, _ := route(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

// Webhook is what the bot last set with setWebhook; empty when none is set.
func (s *observer) Webhook() (url, secretToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL, s.webhookSecret
}

// Commands is the command list the bot set for scope (nil: the default scope) and languageCode.
func (s *observer) Commands(scope *tgbotapi.BotCommandScope, languageCode string) []tgbotapi.BotCommand {
	var sc tgbotapi.BotCommandScope
	if scope != nil {
		sc = *scope
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands[commandsKey(sc, languageCode)])
}
