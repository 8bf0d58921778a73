// Package telegramfake is an in-process stand-in for the Telegram Bot API on 127.0.0.1.
//
// End-to-end tests and the terminal sandbox run the real bot through the real tgbotapi client
// against it, so they need neither network access nor a BotFather token. It models what the bot
// depends on, including the ways Telegram says no: getUpdates offsets and long polling, message
// ids, edits, callback queries, file ids and downloads, forum topics, Telegram's validation
// errors, and, on demand, injected failures and delays. A method it does not model answers 404 as Telegram does,
// rather than pretending to succeed.
//
// It is a fake of one bot: the token given to Start is the only one accepted, and the bot is
// always the user BotID / BotUsername.
package telegramfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// The bot the fake speaks for. Constants, so tests can write "/status@" + BotUsername.
const (
	BotID        int64 = 1
	BotUsername        = "refund_test_bot"
	BotFirstName       = "RefundBot"
)

const (
	// maxRequestBytes bounds a request body: Telegram accepts uploads of up to 50 MB from bots.
	maxRequestBytes = 60 << 20
	// maxMemory keeps multipart uploads in memory, so nothing is left behind on disk.
	maxMemory = maxRequestBytes
)

// ErrClosed is returned by waits that can no longer be satisfied because the server was closed.
var ErrClosed = errors.New("telegramfake: server closed")

// User is a person (or another bot) a test or the sandbox speaks as.
type User struct {
	ID           int64
	FirstName    string
	LastName     string
	Username     string
	LanguageCode string
	IsBot        bool
}

// Chat is where a simulated user speaks. Type is "private" (the default when empty), "group" or
// "supergroup"; in a private chat Telegram uses the user's id as the chat id.
type Chat struct {
	ID    int64
	Type  string
	Title string
	// IsForum makes a supergroup a forum, where the bot may open topics; getChat reports it.
	IsForum bool
}

// Button is an inline keyboard button as a test wants to assert on it.
type Button struct {
	Text, CallbackData, URL string
}

// SentMessage is the current state of a message the bot sent, as the user would see it.
type SentMessage struct {
	MessageID int
	ChatID    int64
	// Text is the text exactly as the bot sent it, markup included; for a photo or document it
	// is the caption, so a relayed file and its words are checked in one place.
	Text string
	// PlainText is what the user reads: for parse_mode HTML the tags are removed and entities
	// decoded; other parse modes are not modelled and leave it equal to Text.
	PlainText string
	ParseMode string
	// Keyboard is the inline keyboard currently attached; nil when there is none.
	Keyboard [][]Button
	// RemoveKeyboard records that the message asked the client to remove its reply keyboard.
	RemoveKeyboard bool
	// ReplyToMessageID is the message this one replies to. It is 0 when the bot asked to reply to
	// a message that is gone with allow_sending_without_reply, as Telegram then sends it unthreaded.
	ReplyToMessageID int
	// ThreadID is the forum topic the message went to, 0 outside topics. In a topic Telegram sets
	// reply_to_message to the topic's opening message on every message that replies to nothing
	// else; ReplyToMessageID leaves that implicit reply out, as the reader sees none.
	ThreadID int
	// Method is the Bot API method that created the message: sendMessage, sendPhoto, ...
	Method string
	// FileID is the file a media message carries (the largest size of a photo), and FileKind
	// what Telegram shows it as: "photo" or "document"; both are empty for a text message.
	FileID   string
	FileKind string
	// MediaGroupID is set on the messages of one album (sendMediaGroup).
	MediaGroupID string
	Edits        int
	Deleted      bool
	// At is when the bot sent the message; edits do not change it.
	At time.Time
}

// CallbackAnswer is one successful answerCallbackQuery.
type CallbackAnswer struct {
	CallbackQueryID, Text string
	ShowAlert             bool
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	token     string
	base      string // http://127.0.0.1:PORT
	http      *http.Server
	done      chan struct{} // closed by Close: ends long polls and delays
	serveDone chan struct{}

	// notifyMu serializes subscriber calls so that subscribers see changes one at a time and in
	// the order they happened, without holding mu while foreign code runs.
	notifyMu sync.Mutex

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup // handlers running; Add only under mu while !closed
	changed  chan struct{}  // closed and replaced on every change, to wake waiters

	nextUpdateID  int
	nextMessageID int
	nextFileNum   int
	nextQueryNum  int64
	queue         []queuedUpdate
	allowed       map[string]bool // nil: Telegram's default set
	pollGen       int             // identifies the newest getUpdates, which supersedes older ones

	chats     map[int64]wireChat
	members   map[int64]map[int64]Member // chat id → user id → what getChatMember reports
	topics    map[int64][]Topic          // chat id → its forum topics in creation order
	messages  map[msgKey]*message
	sentOrder map[int64][]int // chat id → ids of bot messages in send order
	files     map[string]*storedFile
	paths     map[string]*storedFile
	queries   map[string]bool // callback query id → answered
	answers   []CallbackAnswer
	calls     map[string]int
	failures  map[string][]failure
	// misbehaviour: what other Bot API servers were seen to do (chaos.go).
	pollQuirks []pollQuirk
	chaos      *chaos
	restarted  bool
	delays     map[string][]delay
	commands   map[string][]tgbotapi.BotCommand

	// limiter, when set, refuses sends past Telegram's limits (limits.go).
	limiter *limiter

	webhookURL, webhookSecret string
	hook                      webhookState

	subscribers []func(SentMessage)
	events      []SentMessage // waiting to be handed to subscribers, in order
}

type msgKey struct {
	chatID int64
	id     int
}

// message is any message the fake knows, the bot's and the users'.
type message struct {
	msg     wireMessage // as Telegram would return it now; replace fields, never mutate through pointers
	fromBot bool
	deleted bool
	sent    *SentMessage // bot messages only
}

type failure struct {
	left       int
	code       int
	retryAfter int
	// drop closes the connection instead of answering, as a Bot API
	// behind a broken proxy or a restarting server does.
	drop bool
	// raw is the body answered instead of an error object.
	raw []byte
}

type delay struct {
	left int
	d    time.Duration
}

// Start listens on an ephemeral port of 127.0.0.1 and serves the Bot API for token.
func Start(token string) (*Server, error) {
	if token == "" || strings.Contains(token, "/") {
		return nil, fmt.Errorf("telegramfake: invalid token %q", token)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("telegramfake: listen: %w", err)
	}
	s := &Server{
		token:         token,
		base:          "http://" + ln.Addr().String(),
		done:          make(chan struct{}),
		serveDone:     make(chan struct{}),
		changed:       make(chan struct{}),
		nextUpdateID:  1,
		nextMessageID: 1,
		chats:         make(map[int64]wireChat),
		members:       make(map[int64]map[int64]Member),
		topics:        make(map[int64][]Topic),
		messages:      make(map[msgKey]*message),
		sentOrder:     make(map[int64][]int),
		files:         make(map[string]*storedFile),
		paths:         make(map[string]*storedFile),
		queries:       make(map[string]bool),
		calls:         make(map[string]int),
		failures:      make(map[string][]failure),
		delays:        make(map[string][]delay),
		commands:      make(map[string][]tgbotapi.BotCommand),
	}
	// No WriteTimeout: long polls legitimately hold a response for as long as the bot asks.
	s.http = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.serveDone)
		_ = s.http.Serve(ln) // always ErrServerClosed after Close
	}()
	return s, nil
}

// Endpoint is the format string tgbotapi.NewBotAPIWithAPIEndpoint expects (token, then method).
func (s *Server) Endpoint() string { return s.base + "/bot%s/%s" }

// FileURL is where the bot downloads a file whose getFile answer had filePath. tgbotapi's own
// File.Link and GetFileDirectURL always point at api.telegram.org, so the bot must build this
// URL itself from a configurable base.
func (s *Server) FileURL(filePath string) string {
	return s.base + "/file/bot" + s.token + "/" + filePath
}

// Close stops serving, ends pending long polls and delays, and waits for running requests.
// Calling it again does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.changedLocked()
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		// A client that stalls mid-request must not keep the test hanging.
		err = s.http.Close()
	}
	s.inflight.Wait()
	<-s.serveDone
	return err
}

// changedLocked wakes everything waiting for the state to change.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// enter registers a running handler, unless the server is closing.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

// apiError is an unsuccessful Bot API answer.
type apiError struct {
	code       int
	desc       string
	retryAfter int
	// raw, when set, is written as the whole body instead of a Bot API
	// error object: a proxy's HTML page, an empty 502.
	raw []byte
}

func badRequest(desc string) *apiError {
	return &apiError{code: http.StatusBadRequest, desc: "Bad Request: " + desc}
}

func unauthorized() *apiError { return &apiError{code: http.StatusUnauthorized, desc: "Unauthorized"} }

func notFound() *apiError { return &apiError{code: http.StatusNotFound, desc: "Not Found"} }

// injectedError is what FailNext makes a call answer: Telegram's own words where a code has them.
func injectedError(code, retryAfter int) *apiError {
	e := &apiError{code: code, retryAfter: retryAfter}
	switch code {
	case http.StatusBadRequest:
		e.desc = "Bad Request: injected by telegramfake"
	case http.StatusUnauthorized:
		e.desc = "Unauthorized"
	case http.StatusForbidden:
		e.desc = "Forbidden: bot was blocked by the user"
	case http.StatusNotFound:
		e.desc = "Not Found"
	case http.StatusConflict:
		e.desc = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	case http.StatusTooManyRequests:
		e.desc = fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
	default:
		e.desc = http.StatusText(code)
		if e.desc == "" {
			e.desc = fmt.Sprintf("Error %d", code)
		}
	}
	return e
}

// request is a Bot API call's parameters, however they were encoded.
type request struct {
	ctx   context.Context
	form  url.Values
	files map[string][]*multipart.FileHeader
}

func (r *request) str(name string) string { return r.form.Get(name) }

type handlerFunc func(*Server, *request) (json.RawMessage, *apiError)

// route maps a method name to its handler. Telegram matches method names case-insensitively;
// the canonical spelling is what Calls, FailNext and DelayNext count under.
func route(method string) (string, handlerFunc) {
	switch strings.ToLower(method) {
	case "getme":
		return "getMe", (*Server).getMe
	case "getupdates":
		return "getUpdates", (*Server).getUpdates
	case "sendmessage":
		return "sendMessage", (*Server).sendMessage
	case "editmessagetext":
		return "editMessageText", (*Server).editMessageText
	case "editmessagecaption":
		return "editMessageCaption", (*Server).editMessageCaption
	case "editmessagereplymarkup":
		return "editMessageReplyMarkup", (*Server).editMessageReplyMarkup
	case "deletemessage":
		return "deleteMessage", (*Server).deleteMessage
	case "answercallbackquery":
		return "answerCallbackQuery", (*Server).answerCallbackQuery
	case "sendphoto":
		return "sendPhoto", (*Server).sendPhoto
	case "senddocument":
		return "sendDocument", (*Server).sendDocument
	case "sendmediagroup":
		return "sendMediaGroup", (*Server).sendMediaGroup
	case "sendchataction":
		return "sendChatAction", (*Server).sendChatAction
	case "getfile":
		return "getFile", (*Server).getFile
	case "setmycommands":
		return "setMyCommands", (*Server).setMyCommands
	case "getmycommands":
		return "getMyCommands", (*Server).getMyCommands
	case "setwebhook":
		return "setWebhook", (*Server).setWebhook
	case "deletewebhook":
		return "deleteWebhook", (*Server).deleteWebhook
	case "getwebhookinfo":
		return "getWebhookInfo", (*Server).getWebhookInfo
	case "getchat":
		return "getChat", (*Server).getChat
	case "getchatmember":
		return "getChatMember", (*Server).getChatMember
	case "createforumtopic":
		return "createForumTopic", (*Server).createForumTopic
	}
	return method, nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeError(w, &apiError{code: http.StatusServiceUnavailable, desc: "Service Unavailable"})
		return
	}
	defer s.inflight.Done()

	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.serveFile(w, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		writeError(w, notFound())
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	name, fn := route(method)

	s.mu.Lock()
	s.calls[name]++
	var wait time.Duration
	var fail *apiError
	drop := false
	if token == s.token && fn != nil {
		wait, fail, drop = s.takeFaultsLocked(name)
		if fail == nil && !drop {
			fail = s.chaosFailureLocked(name)
		}
	}
	s.changedLocked()
	s.mu.Unlock()
	if drop {
		s.notify()
		hangUp(w)
		return
	}

	var res json.RawMessage
	var aerr *apiError
	switch {
	case token != s.token:
		aerr = unauthorized()
	case fn == nil:
		aerr = notFound()
	case fail != nil:
		aerr = fail
	default:
		req, perr := parseRequest(w, r)
		if perr != nil {
			aerr = perr
			break
		}
		if r.MultipartForm != nil {
			defer func() { _ = r.MultipartForm.RemoveAll() }()
		}
		if aerr = s.overLimit(name, req); aerr == nil {
			res, aerr = fn(s, req)
		}
	}
	s.notify()

	// A delayed call that was not also made to fail has taken effect already; only its answer is
	// late, which is how a timed-out request looks from the bot's side on the real Telegram too.
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.done:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	// res is written untouched: forged updates must reach the bot exactly as the test wrote them.
	body := append(append([]byte(`{"ok":true,"result":`), res...), '}')
	writeJSON(w, http.StatusOK, body)
}

// takeFaultsLocked consumes the injected delay and failure, if any, for one call of method; drop
// means the connection is to be closed unanswered.
func (s *Server) takeFaultsLocked(method string) (wait time.Duration, fail *apiError, drop bool) {
	if ds := s.delays[method]; len(ds) > 0 {
		wait = ds[0].d
		if ds[0].left--; ds[0].left == 0 {
			s.delays[method] = ds[1:]
		}
	}
	if fs := s.failures[method]; len(fs) > 0 {
		if fs[0].drop {
			drop = true
		} else {
			fail = injectedError(fs[0].code, fs[0].retryAfter)
			fail.raw = fs[0].raw
		}
		if fs[0].left--; fs[0].left == 0 {
			s.failures[method] = fs[1:]
		}
	}
	return wait, fail, drop
}

// hangUp closes the request's connection without a word, so that the client's HTTP call fails
// with a network error (EOF) rather than an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): an aborted handler resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func parseRequest(w http.ResponseWriter, r *http.Request) (*request, *apiError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	req := &request{ctx: r.Context()}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		if err := r.ParseMultipartForm(maxMemory); err != nil {
			return nil, badRequest("can't parse multipart request: " + err.Error())
		}
		req.files = r.MultipartForm.File
	} else if err := r.ParseForm(); err != nil {
		return nil, badRequest("can't parse request: " + err.Error())
	}
	req.form = r.Form
	for _, vs := range req.form {
		for _, v := range vs {
			if !utf8.ValidString(v) {
				// Catches text cut in the middle of a multi-byte character.
				return nil, badRequest("strings must be encoded in UTF-8")
			}
		}
	}
	return req, nil
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.raw != nil {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.code)
		_, _ = w.Write(e.raw)
		return
	}
	body := map[string]any{"ok": false, "error_code": e.code, "description": e.desc}
	if e.retryAfter > 0 {
		body["parameters"] = map[string]int{"retry_after": e.retryAfter}
	}
	writeJSON(w, e.code, jsonOf(body))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) serveFile(w http.ResponseWriter, rest string) {
	token, path, _ := strings.Cut(rest, "/")
	if token != s.token {
		writeError(w, unauthorized())
		return
	}
	s.mu.Lock()
	f := s.paths[path]
	s.mu.Unlock()
	if f == nil {
		writeError(w, notFound())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(f.data) // stored data is never modified, so reading it unlocked is safe
}
