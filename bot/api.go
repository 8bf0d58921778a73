// Package bot adapts Telegram to refundbot's dialogs: it polls updates
// through tgbotapi, turns them into flows.Input, runs each chat's inputs in
// order, and sends the replies, honouring Telegram's rate limits.
package bot

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// DefaultEndpoint is Telegram's Bot API endpoint in tgbotapi's format.
const DefaultEndpoint = tgbotapi.APIEndpoint

// maxIdleConnsPerHost keeps a connection per concurrent chat worker warm.
const maxIdleConnsPerHost = 64

// contextClient gives tgbotapi's context-free requests a context: long
// polls end when polling stops, other calls when the bot shuts down.
type contextClient struct {
	http    *http.Client
	pollCtx context.Context
	sendCtx context.Context
}

func (c *contextClient) Do(req *http.Request) (*http.Response, error) {
	ctx := c.sendCtx
	if strings.HasSuffix(req.URL.Path, "/getUpdates") {
		ctx = c.pollCtx
	}
	return c.http.Do(req.WithContext(ctx))
}

// Connection is a tgbotapi client whose requests can be stopped: the long
// poll by StopPolling, everything by Close.
type Connection struct {
	API         *tgbotapi.BotAPI
	stopPolling context.CancelFunc
	stopAll     context.CancelFunc
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
		pollCtx: pollCtx,
		sendCtx: sendCtx,
	}
	api, err := tgbotapi.NewBotAPIWithClient(token, endpoint, client)
	if err != nil {
		stopPolling()
		stopAll()
		// tgbotapi puts the token in the URL; never let it reach a log.
		return nil, fmt.Errorf("connect to the Telegram Bot API: %s", strings.ReplaceAll(err.Error(), token, "<token>"))
	}
	return &Connection{API: api, stopPolling: stopPolling, stopAll: stopAll}, nil
}

// StopPolling ends a long poll in flight.
func (c *Connection) StopPolling() { c.stopPolling() }

// Close aborts every request in flight.
func (c *Connection) Close() { c.stopAll() }
