package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

// keptWorkerIdle is how long a goroutine kept for chats or Bot API calls
// waits for more work before it exits (flows.Workers): longer than the
// gaps between a busy bot's batches and calls, short enough that the
// goroutines of a burst do not stay. As many calls are kept as idle
// connections (maxIdleConnsPerHost): about the calls in flight at once.
const keptWorkerIdle = 10 * time.Second

// maxSendAttempts bounds retries of one call; past it the update is left
// unconfirmed and the loop tries it again later.
const maxSendAttempts = 5

// Sender implements flows.Sender on the Bot API. It paces messages within
// Telegram's limits when given a Pacer, waits out 429s for the retry_after
// Telegram asks and retries server errors with backoff.
type Sender struct {
	api    *tgbotapi.BotAPI
	logger *slog.Logger
	// backoff is the first wait after a server or network error.
	backoff  time.Duration
	pacer    Pacer
	observer Observer
	// unpaced sends at once: its caller booked the time (the
	// dispatcher); a 429 still holds the chat for every replica.
	unpaced bool
	// calls runs the Bot API calls (makeRequest), shared with the
	// Unpaced copy. Nothing closes it: a Sender lives as long as the
	// bot, and its idle goroutines exit after keptWorkerIdle anyway.
	calls *flows.Workers
}

// Pacer books messages within Telegram's limits, shared by all replicas;
// sendlimit.Limiter implements it.
type Pacer interface {
	// Reserve books n messages to a chat and returns each one's wait.
	Reserve(ctx context.Context, chatID int64, n int) ([]time.Duration, error)
	// Hold keeps every sender off a chat that Telegram answered 429 for.
	Hold(ctx context.Context, chatID int64, d time.Duration) error
}

// Observer is told of every Bot API call and every wait for the limits,
// for metrics. code is 0 for success, -1 for no answer (network, timeout),
// else Telegram's error_code.
type Observer interface {
	TelegramCall(method string, code int)
	SendThrottled(scope string, waited time.Duration)
}

// SenderOptions are a Sender's optional parts.
type SenderOptions struct {
	// Pacer, when set, paces every message; without it only 429s slow
	// sends down.
	Pacer    Pacer
	Observer Observer
}

// The runtime holds a flows.Sender; break the build here, not in main.
// (The desk's TopicCreator is checked where main hands the Sender over.)
var _ flows.Sender = (*Sender)(nil)

// NewSender returns a Sender using api.
func NewSender(api *tgbotapi.BotAPI, logger *slog.Logger, opts SenderOptions) *Sender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{api: api, logger: logger, backoff: 500 * time.Millisecond,
		pacer: opts.Pacer, observer: opts.Observer, calls: flows.NewWorkers(keptWorkerIdle, maxIdleConnsPerHost)}
}

// Unpaced returns a Sender like s that does not book sends with the
// limiter, for a caller that paces them itself (flows.Dispatcher, with
// its bookings made as turns commit). A 429 still holds the chat for
// every replica.
func (s *Sender) Unpaced() *Sender {
	u := *s
	u.unpaced = true
	return &u
}

// Telegram's limits, in UTF-16 code units as Telegram counts them.
const (
	maxTextLen    = 4096
	maxCaptionLen = 1024
)

// Errors that come from no Telegram answer yet will not go away by
// retrying, so Transient must not take them for network trouble.
var (
	// errUnreadable marks an answer that could not be decoded although
	// Telegram accepted the call: the message is out, and sending it again
	// would repeat it.
	errUnreadable = errors.New("unreadable answer")
	errFileKind   = errors.New("no Bot API method sends this kind of file")
)

// Send implements flows.Sender.
func (s *Sender) Send(ctx context.Context, chatID int64, m flows.Message) error {
	_, err := s.Post(ctx, chatID, m)
	return err
}

// Post implements flows.Sender. A text too long for one message goes out
// in several, the buttons on the last, where the reader ends; the ID is
// the first one's, which carries the reply. A file's caption too long for
// Telegram is cut, and the rest follows as text replying to the file,
// whose ID is returned and which keeps the buttons. When a later part
// fails, the ID of what was already sent comes back with the error. Every
// part goes to the forum topic m.ThreadID names, if any.
func (s *Sender) Post(ctx context.Context, chatID int64, m flows.Message) (int, error) {
	to := destination{chatID: chatID, threadID: m.ThreadID}
	if m.File != nil {
		return s.postFile(ctx, to, m)
	}
	return s.postText(ctx, to, m.Text, m.ReplyTo, m.Buttons)
}

// destination is where a message goes: a chat, and a topic when the chat
// is a forum.
type destination struct {
	chatID   int64
	threadID int
}

// params starts a send's parameters. Sends are built as raw parameters,
// not tgbotapi's configs, because those have no message_thread_id and
// their encoding cannot be extended from outside the library.
//
// A reply is sent even when its message was deleted meanwhile, which
// Telegram refuses unless told: an answer that lost its thread beats one
// that never arrives.
func (d destination) params(replyTo int) tgbotapi.Params {
	p := tgbotapi.Params{"chat_id": strconv.FormatInt(d.chatID, 10)}
	if d.threadID > 0 {
		p.AddNonZero("message_thread_id", d.threadID)
	}
	if replyTo > 0 {
		p.AddNonZero("reply_to_message_id", replyTo)
		p.AddBool("allow_sending_without_reply", true)
	}
	return p
}

func (s *Sender) postText(ctx context.Context, to destination, text string, replyTo int, buttons [][]flows.Button) (int, error) {
	parts := splitText(text, maxTextLen)
	first := 0
	for i, part := range parts {
		reply := 0 // only the first part answers; the others follow it
		if i == 0 {
			reply = replyTo
		}
		p := to.params(reply)
		p["text"] = part
		if i == len(parts)-1 {
			addKeyboard(p, buttons)
		}
		sent, err := s.send(ctx, "sendMessage", p)
		if err != nil {
			return first, err
		}
		if i == 0 {
			first = sent
		}
	}
	return first, nil
}

func (s *Sender) postFile(ctx context.Context, to destination, m flows.Message) (int, error) {
	caption, rest := cutText(m.Text, maxCaptionLen)
	p := to.params(m.ReplyTo)
	p.AddNonEmpty("caption", caption)
	addKeyboard(p, m.Buttons)
	var method string
	switch m.File.Kind {
	case refund.EvidencePhoto:
		method, p["photo"] = "sendPhoto", m.File.FileID
	case refund.EvidenceDocument:
		method, p["document"] = "sendDocument", m.File.FileID
	default:
		return 0, fmt.Errorf("send file %q of kind %q: %w", m.File.FileID, m.File.Kind, errFileKind)
	}
	sent, err := s.send(ctx, method, p)
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(rest) != "" {
		if _, err := s.postText(ctx, to, rest, sent, nil); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// AnswerCallback implements flows.Sender.
func (s *Sender) AnswerCallback(ctx context.Context, callbackID, text string) error {
	p := tgbotapi.Params{"callback_query_id": callbackID}
	p.AddNonEmpty("text", text)
	return s.call(ctx, "answerCallbackQuery", p)
}

// RemoveKeyboard implements flows.Sender.
func (s *Sender) RemoveKeyboard(ctx context.Context, chatID int64, messageID int) error {
	p := tgbotapi.Params{"chat_id": strconv.FormatInt(chatID, 10), "reply_markup": `{"inline_keyboard":[]}`}
	p.AddNonZero("message_id", messageID)
	err := s.call(ctx, "editMessageReplyMarkup", p)
	var tgErr *tgbotapi.Error
	if errors.As(err, &tgErr) && strings.Contains(tgErr.Message, "message is not modified") {
		return nil // already without buttons: the goal is met
	}
	return err
}

// Edit implements flows.Sender: the message's text and buttons become m's.
// An edit counts against the chat's limits as a message does, so it is
// paced; one that changes nothing is done already.
func (s *Sender) Edit(ctx context.Context, chatID int64, messageID int, m flows.Message) error {
	if err := s.pace(ctx, chatID); err != nil {
		return fmt.Errorf("editMessageText: %w", err)
	}
	p := tgbotapi.Params{"chat_id": strconv.FormatInt(chatID, 10), "text": m.Text}
	p.AddNonZero("message_id", messageID)
	addKeyboard(p, m.Buttons)
	err := s.call(ctx, "editMessageText", p)
	var tgErr *tgbotapi.Error
	if errors.As(err, &tgErr) && strings.Contains(tgErr.Message, "message is not modified") {
		return nil
	}
	return err
}

// sentMessage is what the bot reads of a message Telegram sent: its ID,
// which replies, edits and links refer to. Decoding the whole
// tgbotapi.Message, with its dozens of nested optional fields, was 3-5%
// of the bot's CPU and grew the sending goroutine's stack.
type sentMessage struct {
	MessageID int `json:"message_id"`
}

// send makes a call that creates a message and returns that message's
// ID, paced within the limits of the chat it goes to.
func (s *Sender) send(ctx context.Context, method string, p tgbotapi.Params) (messageID int, err error) {
	if chatID, err := strconv.ParseInt(p["chat_id"], 10, 64); err == nil {
		if err := s.pace(ctx, chatID); err != nil {
			return 0, fmt.Errorf("%s: %w", method, err)
		}
	}
	resp, err := s.request(ctx, method, p)
	if err != nil {
		return 0, err
	}
	var m sentMessage
	if err := json.Unmarshal(resp.Result, &m); err != nil || m.MessageID == 0 {
		return 0, fmt.Errorf("%s: %w: %s", method, errUnreadable, resp.Result)
	}
	return m.MessageID, nil
}

func (s *Sender) call(ctx context.Context, method string, p tgbotapi.Params) error {
	_, err := s.request(ctx, method, p)
	return err
}

func (s *Sender) request(ctx context.Context, method string, p tgbotapi.Params) (*tgbotapi.APIResponse, error) {
	wait := s.backoff
	var err error
	for attempt := 1; attempt <= maxSendAttempts; attempt++ {
		var resp *tgbotapi.APIResponse
		if resp, err = s.makeRequest(ctx, method, p); err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		var tgErr *tgbotapi.Error
		switch {
		case errors.As(err, &tgErr) && tgErr.RetryAfter > 0:
			wait = time.Duration(tgErr.RetryAfter) * time.Second
			s.logger.WarnContext(ctx, "telegram rate limit", "method", method, "chat_id", p["chat_id"], "retry_after_s", tgErr.RetryAfter)
			s.holdChat(ctx, p, wait)
		case !Transient(err):
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if attempt == maxSendAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w (after %v)", method, ctx.Err(), err)
		case <-time.After(wait):
		}
		if tgErr == nil || tgErr.RetryAfter == 0 {
			wait *= 2
		}
	}
	return nil, fmt.Errorf("%s: gave up after %d attempts: %w", method, maxSendAttempts, err)
}

func (s *Sender) makeRequest(ctx context.Context, method string, p tgbotapi.Params) (*tgbotapi.APIResponse, error) {
	return makeRequest(ctx, s.calls, s.api, method, p, s.observe)
}

// makeRequest is tgbotapi's MakeRequest, which takes no context, made to
// return when ctx ends: a send stuck on a slow Telegram must not hold up a
// shutdown for the whole HTTP timeout. The call runs on one of calls'
// kept goroutines, whose stack has grown to an HTTP round trip's already.
// The abandoned request ends with its own timeout or when the connection
// is closed, and its goroutine goes back to calls; if it did reach
// Telegram, the caller's retry may repeat the message (at least once,
// never lost). observe, when set, is told how the call went, even after
// ctx ended.
func makeRequest(ctx context.Context, calls *flows.Workers, api *tgbotapi.BotAPI, method string, p tgbotapi.Params,
	observe func(method string, err error)) (*tgbotapi.APIResponse, error) {
	type result struct {
		resp *tgbotapi.APIResponse
		err  error
	}
	done := make(chan result, 1) // the call never waits for its abandoned caller
	calls.Go(func() {
		resp, err := api.MakeRequest(method, p)
		if observe != nil {
			observe(method, err)
		}
		done <- result{resp, err}
	})
	select {
	case r := <-done:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Sender) observe(method string, err error) {
	if s.observer == nil {
		return
	}
	var tgErr *tgbotapi.Error
	switch {
	case err == nil:
		s.observer.TelegramCall(method, 0)
	case errors.As(err, &tgErr):
		s.observer.TelegramCall(method, tgErr.Code)
	default:
		s.observer.TelegramCall(method, -1)
	}
}

// Transient reports whether a Bot API error may go away by itself: network
// errors, timeouts, 429s and server errors. A 400 or 403 will not, nor an
// answer that could not be read after Telegram accepted the call.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var tgErr *tgbotapi.Error
	if errors.As(err, &tgErr) {
		return tgErr.Code == http.StatusTooManyRequests || tgErr.Code >= 500 || tgErr.RetryAfter > 0
	}
	var httpErr *HTTPError
	if errors.As(err, &httpErr) {
		return httpErr.Temporary()
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, errUnreadable) && !errors.Is(err, errFileKind)
}
