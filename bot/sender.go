package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
)

// maxSendAttempts bounds retries of one call; past it the update is left
// unconfirmed and the loop tries it again later.
const maxSendAttempts = 5

// Sender implements flows.Sender on the Bot API. It waits out 429s for the
// retry_after Telegram asks and retries server errors with backoff.
type Sender struct {
	api    *tgbotapi.BotAPI
	logger *slog.Logger
	// backoff is the first wait after a server or network error.
	backoff time.Duration
}

// NewSender returns a Sender using api.
func NewSender(api *tgbotapi.BotAPI, logger *slog.Logger) *Sender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{api: api, logger: logger, backoff: 500 * time.Millisecond}
}

// Send implements flows.Sender.
func (s *Sender) Send(ctx context.Context, chatID int64, m flows.Message) error {
	cfg := tgbotapi.NewMessage(chatID, m.Text)
	if len(m.Buttons) > 0 {
		cfg.ReplyMarkup = keyboard(m.Buttons)
	}
	return s.call(ctx, "sendMessage", cfg)
}

// AnswerCallback implements flows.Sender.
func (s *Sender) AnswerCallback(ctx context.Context, callbackID, text string) error {
	return s.call(ctx, "answerCallbackQuery", tgbotapi.NewCallback(callbackID, text))
}

// RemoveKeyboard implements flows.Sender.
func (s *Sender) RemoveKeyboard(ctx context.Context, chatID int64, messageID int) error {
	edit := tgbotapi.NewEditMessageReplyMarkup(chatID, messageID,
		tgbotapi.InlineKeyboardMarkup{InlineKeyboard: [][]tgbotapi.InlineKeyboardButton{}})
	err := s.call(ctx, "editMessageReplyMarkup", edit)
	var tgErr *tgbotapi.Error
	if errors.As(err, &tgErr) && strings.Contains(tgErr.Message, "message is not modified") {
		return nil // already without buttons: the goal is met
	}
	return err
}

func keyboard(rows [][]flows.Button) tgbotapi.InlineKeyboardMarkup {
	kb := make([][]tgbotapi.InlineKeyboardButton, 0, len(rows))
	for _, row := range rows {
		r := make([]tgbotapi.InlineKeyboardButton, 0, len(row))
		for _, b := range row {
			if b.URL != "" {
				r = append(r, tgbotapi.NewInlineKeyboardButtonURL(b.Text, b.URL))
			} else {
				r = append(r, tgbotapi.NewInlineKeyboardButtonData(b.Text, b.Data))
			}
		}
		kb = append(kb, r)
	}
	return tgbotapi.InlineKeyboardMarkup{InlineKeyboard: kb}
}

func (s *Sender) call(ctx context.Context, method string, c tgbotapi.Chattable) error {
	wait := s.backoff
	var err error
	for attempt := 1; attempt <= maxSendAttempts; attempt++ {
		if _, err = s.api.Request(c); err == nil {
			return nil
		}
		var tgErr *tgbotapi.Error
		switch {
		case errors.As(err, &tgErr) && tgErr.RetryAfter > 0:
			wait = time.Duration(tgErr.RetryAfter) * time.Second
			s.logger.WarnContext(ctx, "telegram rate limit", "method", method, "retry_after_s", tgErr.RetryAfter)
		case !Transient(err):
			return fmt.Errorf("%s: %w", method, err)
		}
		if attempt == maxSendAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (after %v)", method, ctx.Err(), err)
		case <-time.After(wait):
		}
		if tgErr == nil || tgErr.RetryAfter == 0 {
			wait *= 2
		}
	}
	return fmt.Errorf("%s: gave up after %d attempts: %w", method, maxSendAttempts, err)
}

// Transient reports whether a Bot API error may go away by itself: network
// errors, timeouts, 429s and server errors. A 400 or 403 will not.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var tgErr *tgbotapi.Error
	if errors.As(err, &tgErr) {
		return tgErr.Code == http.StatusTooManyRequests || tgErr.Code >= 500 || tgErr.RetryAfter > 0
	}
	return !errors.Is(err, context.Canceled)
}
