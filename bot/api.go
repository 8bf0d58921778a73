// Package bot adapts Telegram to refundbot's dialogs: it polls updates
// through tgbotapi, turns them into flows.Input, runs each chat's inputs in
// order, and sends the replies, honouring Telegram's rate limits.
package bot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
)

// keptConnectionCalls bounds the kept goroutines of the Connection's own
// calls (getMe, setWebhook, the readiness probe): a few at a time.
const keptConnectionCalls = 4

// DefaultEndpoint is Telegram's Bot API endpoint in tgbotapi's format.
const DefaultEndpoint = tgbotapi.APIEndpoint

// maxIdleConnsPerHost keeps a connection per concurrent chat worker warm.
const maxIdleConnsPerHost = 64

// contextClient is the one HTTP client every Bot API call goes through,
// tgbotapi's own included. It gives those context-free requests a context
// (long polls end when polling stops, other calls when the bot shuts
// down), and it keeps the token out of every error it returns: the token
// is part of each request's URL, which Go's HTTP client quotes in its
// errors, and errors end up in logs.
type contextClient struct {
	http    *http.Client
	token   string
	pollCtx context.Context
	sendCtx context.Context
}

func (c *contextClient) Do(req *http.Request) (*http.Response, error) {
	ctx := c.sendCtx
	if strings.HasSuffix(req.URL.Path, "/getUpdates") {
		ctx = c.pollCtx
	}
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return nil, c.redact(err)
	}
	return c.checkAnswer(req, resp)
}

// maxErrorBody is how much of an answer that is no Bot API answer is read
// for the error: enough to tell a proxy's page from an empty reply.
const maxErrorBody = 512

// HTTPError is an answer from the Bot API's address that is not a Bot API
// answer: an error status without a Telegram error object (a proxy's 502
// page, an empty 503), or a success whose body is not JSON. tgbotapi would
// report it without the status and the body, as an empty or a JSON error.
type HTTPError struct {
	Method string
	Status int
	Host   string
	// Body is the start of the answer, on one line.
	Body string
}

func (e *HTTPError) Error() string {
	text := fmt.Sprintf("%s: HTTP %d from %s", e.Method, e.Status, e.Host)
	if e.Body != "" {
		text += ": " + e.Body
	}
	return text
}

// Temporary reports whether the answer may be different next time: a
// server error, a timeout or a throttle, or a proxy answering in place of
// a Bot API it cannot reach.
func (e *HTTPError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout ||
		e.Status == http.StatusOK
}

// checkAnswer passes on a Bot API answer (any JSON object; tgbotapi reads
// Telegram's errors from it) and turns anything else into an *HTTPError.
// Only the first bytes are looked at, so that a long poll's answer is not
// read twice.
func (c *contextClient) checkAnswer(req *http.Request, resp *http.Response) (*http.Response, error) {
	body := bufio.NewReaderSize(resp.Body, maxErrorBody)
	head, _ := body.Peek(maxErrorBody)
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	isJSON := len(trimmed) > 0 && trimmed[0] == '{'
	if isJSON && (resp.StatusCode == http.StatusOK || hasTelegramError(head)) {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{body, resp.Body}
		return resp, nil
	}
	_ = resp.Body.Close()
	method := req.URL.Path[strings.LastIndexByte(req.URL.Path, '/')+1:]
	text := oneLine(head)
	if c.token != "" {
		// A proxy's error page may quote the URL, token and all.
		text = strings.ReplaceAll(text, c.token, redactedToken)
	}
	return nil, &HTTPError{Method: method, Status: resp.StatusCode, Host: req.URL.Host, Body: text}
}

// hasTelegramError reports whether an error answer carries Telegram's error
// object: a description to show, or at least its code.
func hasTelegramError(head []byte) bool {
	var e struct {
		ErrorCode   int    `json:"error_code"`
		Description string `json:"description"`
	}
	// An error object longer than maxErrorBody does not decode here; its
	// start still names its fields.
	if json.Unmarshal(head, &e) != nil {
		return bytes.Contains(head, []byte(`"description"`)) || bytes.Contains(head, []byte(`"error_code"`))
	}
	return e.ErrorCode != 0 || e.Description != ""
}

// oneLine makes the start of a body fit on a log line.
func oneLine(b []byte) string {
	text := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if r := []rune(text); len(r) > 200 {
		text = string(r[:200]) + "…"
	}
	return text
}

// redact rewrites err so that its text does not hold the token. A
// *url.Error keeps its type, so callers still see a network error.
func (c *contextClient) redact(err error) error {
	if c.token == "" {
		return err
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		redacted := *uerr
		redacted.URL = strings.ReplaceAll(uerr.URL, c.token, redactedToken)
		if !strings.Contains(redacted.Error(), c.token) {
			return &redacted
		}
	}
	if !strings.Contains(err.Error(), c.token) {
		return err
	}
	return &redactedError{text: strings.ReplaceAll(err.Error(), c.token, redactedToken), err: err}
}

// redactedToken stands for the bot token in every error text.
const redactedToken = "<token>"

// redactedError is an error whose text had the token cut out; Unwrap still
// gives the original to errors.Is and errors.As.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// Connection is a tgbotapi client whose requests can be stopped: the long
// poll by StopPolling, everything by Close.
type Connection struct {
	API         *tgbotapi.BotAPI
	stopPolling context.CancelFunc
	stopAll     context.CancelFunc
	// calls runs the calls of request (makeRequest) on kept goroutines.
	calls *flows.Workers

	mu          sync.Mutex
	lastReached time.Time
}

// Connect calls getMe at endpoint (tgbotapi's "…/bot%s/%s" format) and
// returns the client. requestTimeout bounds every call but the long poll,
// which gets pollTimeout more.
func Connect(token, endpoint string, requestTimeout, pollTimeout time.Duration) (*Connection, error) {
	sendCtx, stopAll := context.WithCancel(context.Background())
	pollCtx, stopPolling := context.WithCancel(sendCtx)
	// Replies go out from many chat workers at once; Go's default keeps
	// only 2 idle connections per host, so most sends would open (and, to
	// api.telegram.org, TLS-handshake) a new connection.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = maxIdleConnsPerHost
	client := &contextClient{
		http:    &http.Client{Timeout: requestTimeout + pollTimeout, Transport: transport},
		token:   token,
		pollCtx: pollCtx,
		sendCtx: sendCtx,
	}
	api, err := tgbotapi.NewBotAPIWithClient(token, endpoint, client)
	if err != nil {
		stopPolling()
		stopAll()
		// The one line an operator reads when the bot does not start:
		// "getMe: HTTP 502 from …" names the call, the answer and where it
		// came from. tgbotapi's own errors may hold the token: cut it out.
		var herr *HTTPError
		if errors.As(err, &herr) {
			return nil, herr
		}
		return nil, fmt.Errorf("getMe at the Telegram Bot API: %s", strings.ReplaceAll(err.Error(), token, redactedToken))
	}
	return &Connection{API: api, stopPolling: stopPolling, stopAll: stopAll, calls: flows.NewWorkers(keptWorkerIdle, keptConnectionCalls)}, nil
}

// StopPolling ends a long poll in flight.
func (c *Connection) StopPolling() { c.stopPolling() }

// Close aborts every request in flight and waits for the calls of
// request to end, which they do at once then.
func (c *Connection) Close() {
	c.stopAll()
	c.calls.Close()
}

// SetWebhook points Telegram at url, which must check secret. It asks for
// the updates the bot handles, as the long poll does; pending updates are
// kept, so that switching modes loses none.
func (c *Connection) SetWebhook(ctx context.Context, url, secret string, maxConnections int) error {
	p := tgbotapi.Params{"url": url, "secret_token": secret, "allowed_updates": allowedUpdates}
	p.AddNonZero("max_connections", maxConnections)
	if _, err := c.request(ctx, "setWebhook", p); err != nil {
		return fmt.Errorf("set webhook: %w", err)
	}
	return nil
}

// DeleteWebhook goes back to long polling; pending updates are kept.
func (c *Connection) DeleteWebhook(ctx context.Context) error {
	if _, err := c.request(ctx, "deleteWebhook", tgbotapi.Params{}); err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}

// WebhookInfo is what Telegram says of the bot's webhook.
func (c *Connection) WebhookInfo(ctx context.Context) (tgbotapi.WebhookInfo, error) {
	resp, err := c.request(ctx, "getWebhookInfo", tgbotapi.Params{})
	if err != nil {
		return tgbotapi.WebhookInfo{}, fmt.Errorf("get webhook info: %w", err)
	}
	var info tgbotapi.WebhookInfo
	if err := json.Unmarshal(resp.Result, &info); err != nil {
		return tgbotapi.WebhookInfo{}, fmt.Errorf("get webhook info: %w", err)
	}
	return info, nil
}

// reachableFor is how long a successful check of Telegram is trusted, so
// that readiness probes of every replica do not each call Telegram.
const reachableFor = 10 * time.Second

// Reachable calls getMe, or trusts one that succeeded within reachableFor.
func (c *Connection) Reachable(ctx context.Context) error {
	c.mu.Lock()
	fresh := time.Since(c.lastReached) < reachableFor
	c.mu.Unlock()
	if fresh {
		return nil
	}
	if _, err := c.request(ctx, "getMe", tgbotapi.Params{}); err != nil {
		return fmt.Errorf("reach the Telegram Bot API: %w", err)
	}
	c.mu.Lock()
	c.lastReached = time.Now()
	c.mu.Unlock()
	return nil
}

// request makes one call that gives up with ctx, for the calls no update
// loop or sender retries.
func (c *Connection) request(ctx context.Context, method string, p tgbotapi.Params) (*tgbotapi.APIResponse, error) {
	resp, err := makeRequest(ctx, c.calls, c.API, method, p, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return resp, nil
}
