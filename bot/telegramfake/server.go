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
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
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
//
// Its methods come from parts, each of one topic and each embedded, so that its methods are the
// Server's: simulation is what the people in the chats do (simulate.go, forum.go), injector the
// faults and limits a test turns on (faults.go, chaos.go, limits.go), observer what a test reads
// back (observe.go); the Bot API methods the bot calls over HTTP are api's (methods.go and the
// files of each method). All of them share one world, everything the fake knows (world.go).
type Server struct {
	*world
	simulation
	injector
	observer
	api botAPI

	token     string
	base      string // http://127.0.0.1:PORT
	http      *http.Server
	serveDone chan struct{}
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
	w := newWorld()
	s := &Server{
		world:      w,
		simulation: simulation{w},
		injector:   injector{w},
		observer:   observer{w},
		api:        botAPI{w},
		token:      token,
		base:       "http://" + ln.Addr().String(),
		serveDone:  make(chan struct{}),
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
