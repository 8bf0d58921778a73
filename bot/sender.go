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
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

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

	mu sync.Mutex
	// booked holds, per chat, the send times a turn booked for its
	// replies and has not used yet, earliest first.
	booked map[int64][]time.Time
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

// lateBooking is how far past its booked time a message may still use it:
// a turn sends within moments of booking, and a time left unused must not
// let a later message skip its own wait.
const lateBooking = 50 * time.Millisecond

// The runtime holds a flows.Sender; break the build here, not in main.
// (The desk's TopicCreator is checked where main hands the Sender over.)
var _ flows.Sender = (*Sender)(nil)

// NewSender returns a Sender using api.
func NewSender(api *tgbotapi.BotAPI, logger *slog.Logger, opts SenderOptions) *Sender {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{api: api, logger: logger, backoff: 500 * time.Millisecond,
		pacer: opts.Pacer, observer: opts.Observer, booked: map[int64][]time.Time{}}
}

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
			first = sent.MessageID
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
		if _, err := s.postText(ctx, to, rest, sent.MessageID, nil); err != nil {
			return sent.MessageID, err
		}
	}
	return sent.MessageID, nil
}

// splitText cuts text into messages of at most limit UTF-16 units.
// Parts made only of whitespace are dropped, since Telegram refuses them;
// text that fits, even empty, is returned unchanged, so Telegram's own
// answer for it stays what the caller sees.
func splitText(text string, limit int) []string {
	var parts []string
	for rest := text; ; {
		head, tail := cutText(rest, limit)
		if tail == "" {
			if len(parts) == 0 || strings.TrimSpace(head) != "" {
				parts = append(parts, head)
			}
			return parts
		}
		if strings.TrimSpace(head) != "" {
			parts = append(parts, head)
		}
		rest = tail
	}
}

// cutText returns the longest start of text within limit UTF-16 units and
// the rest. It cuts after a line, or else between words, when one ends in
// the second half of that start, dropping the line break or space there;
// otherwise it cuts between characters, never inside a surrogate pair. The
// rest starts without whitespace, which Telegram would strip anyway.
func cutText(text string, limit int) (head, tail string) {
	end, units := 0, 0
	for end < len(text) {
		r, size := utf8.DecodeRuneInString(text[end:])
		w := utf16.RuneLen(r) // DecodeRuneInString yields no surrogates, so never -1
		if units+w > limit {
			break
		}
		units += w
		end += size
	}
	if end == len(text) {
		return text, ""
	}
	head, tail = text[:end], text[end:]
	for _, sep := range []string{"\n", " "} {
		if i := strings.LastIndex(head, sep); i > end/2 {
			head, tail = text[:i], text[i+len(sep):]
			break
		}
	}
	return head, strings.TrimLeftFunc(tail, unicode.IsSpace)
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

// addKeyboard attaches rows as an inline keyboard, if there are any.
func addKeyboard(p tgbotapi.Params, rows [][]flows.Button) {
	if len(rows) == 0 {
		return
	}
	b, _ := json.Marshal(keyboard(rows)) // strings and pointers to strings: cannot fail
	p["reply_markup"] = string(b)
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

// send makes a call that creates a message and returns that message,
// paced within the limits of the chat it goes to.
func (s *Sender) send(ctx context.Context, method string, p tgbotapi.Params) (tgbotapi.Message, error) {
	if chatID, err := strconv.ParseInt(p["chat_id"], 10, 64); err == nil {
		if err := s.pace(ctx, chatID); err != nil {
			return tgbotapi.Message{}, fmt.Errorf("%s: %w", method, err)
		}
	}
	resp, err := s.request(ctx, method, p)
	if err != nil {
		return tgbotapi.Message{}, err
	}
	var m tgbotapi.Message
	if err := json.Unmarshal(resp.Result, &m); err != nil || m.MessageID == 0 {
		return tgbotapi.Message{}, fmt.Errorf("%s: %w: %s", method, errUnreadable, resp.Result)
	}
	return m, nil
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
			s.logger.WarnContext(ctx, "telegram rate limit", "method", method, "retry_after_s", tgErr.RetryAfter)
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

func (s *Sender) makeRequest(ctx context.Context, method string, p tgbotapi.Params) (*tgbotapi.APIResponse, error) {
	return makeRequest(ctx, s.api, method, p, s.observe)
}

// makeRequest is tgbotapi's MakeRequest, which takes no context, made to
// return when ctx ends: a send stuck on a slow Telegram must not hold up a
// shutdown for the whole HTTP timeout. The abandoned request ends with its
// own timeout or when the connection is closed; if it did reach Telegram,
// the caller's retry may repeat the message (at least once, never lost).
// observe, when set, is told how the call went, even after ctx ended.
func makeRequest(ctx context.Context, api *tgbotapi.BotAPI, method string, p tgbotapi.Params,
	observe func(method string, err error)) (*tgbotapi.APIResponse, error) {
	type result struct {
		resp *tgbotapi.APIResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := api.MakeRequest(method, p)
		if observe != nil {
			observe(method, err)
		}
		done <- result{resp, err}
	}()
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
