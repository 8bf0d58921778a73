package bot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
)

// maxUpdateBytes bounds a webhook request: a Telegram update is a few
// kilobytes, so anything near this is not one.
const maxUpdateBytes = 1 << 20

// secretHeader carries the secret_token given to setWebhook.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	Handler Handler
	Sender  flows.Sender
	// Secret is the secret_token set with setWebhook; requests without it
	// are refused, since anyone can find a webhook URL.
	Secret string
	Logger *slog.Logger
	// Observer counts updates and answers; nil counts nothing.
	Observer WebhookObserver
	// HandleContext is the context updates are handled in. It is not the
	// request's: a turn that has begun is finished even when Telegram
	// hangs up, and it ends only after the shutdown grace.
	HandleContext context.Context
	// Albums keeps the items of albums where every replica sees them, so
	// that an album, which Telegram posts one item per request and a
	// balancer spreads over the replicas, is handled as one input (see
	// webhookalbum.go). Nil handles each item alone.
	Albums AlbumStore
	// AlbumWait is how long an album must be quiet (no item coming) before
	// it is handled; 300 ms if zero, as the poller waits.
	AlbumWait time.Duration
	// AlbumSweep is how often the replica looks for albums whose claimer
	// died; 1 s if zero.
	AlbumSweep time.Duration
}

// WebhookObserver is told of each webhook answer and each update handled.
type WebhookObserver interface {
	UpdateObserver
	WebhookRequest(status int)
}

// Webhook receives updates from Telegram's webhook. An update is answered
// 200 only once it was handled and its session saved (or it was a
// duplicate; an album's item once it is stored, see webhookalbum.go), so
// that Telegram delivers again whatever a crash interrupted;
// Telegram sends one chat's next update only after that answer, which keeps
// each chat in order across replicas, and the chat's lease in Redis keeps
// a redelivery from running beside a slow first attempt.
type Webhook struct {
	cfg        WebhookConfig
	secretHash [sha256.Size]byte
	// albums tracks the albums this replica is seeing through, for Wait.
	albums sync.WaitGroup
}

// NewWebhook checks cfg and returns the handler.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	if cfg.Handler == nil || cfg.Sender == nil || cfg.HandleContext == nil {
		return nil, errors.New("bot: webhook needs Handler, Sender and HandleContext")
	}
	if cfg.Secret == "" {
		return nil, errors.New("bot: webhook needs a secret token")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AlbumWait <= 0 {
		cfg.AlbumWait = 300 * time.Millisecond
	}
	if cfg.AlbumSweep <= 0 {
		cfg.AlbumSweep = time.Second
	}
	return &Webhook{cfg: cfg, secretHash: sha256.Sum256([]byte(cfg.Secret))}, nil
}

// ServeHTTP implements http.Handler.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	status := w.serve(rw, r)
	if w.cfg.Observer != nil {
		w.cfg.Observer.WebhookRequest(status)
	}
}

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		refuseUnread(rw)
		return answer(rw, http.StatusMethodNotAllowed, "POST only")
	}
	// Hashes make the comparison constant-time whatever the lengths.
	got := sha256.Sum256([]byte(r.Header.Get(secretHeader)))
	if subtle.ConstantTimeCompare(got[:], w.secretHash[:]) != 1 {
		w.cfg.Logger.WarnContext(r.Context(), "webhook request without the secret token", "remote_addr", r.RemoteAddr)
		refuseUnread(rw)
		return answer(rw, http.StatusUnauthorized, "wrong secret token")
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxUpdateBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return answer(rw, http.StatusRequestEntityTooLarge, "an update is never this large")
	case err != nil:
		// The connection broke: nobody reads the answer, and Telegram
		// sends the update again.
		return answer(rw, http.StatusBadRequest, "unreadable body")
	}
	u, err := decodeUpdate(body)
	if err != nil {
		w.cfg.Logger.WarnContext(r.Context(), "webhook request is no update", "err", err)
		return answer(rw, http.StatusBadRequest, "not an update")
	}
	it, ok := toInput(u)
	if !ok {
		if it.forged != "" {
			w.cfg.Logger.WarnContext(r.Context(), "update ignored: "+it.forged, "update_id", u.UpdateID)
		}
		return answer(rw, http.StatusOK, "ignored")
	}
	ctx := w.cfg.HandleContext
	if ctx.Err() != nil {
		// Shutting down: another replica takes it.
		rw.Header().Set("Retry-After", "1")
		return answer(rw, http.StatusServiceUnavailable, "shutting down")
	}
	if it.mediaGroupID != "" && w.cfg.Albums != nil {
		return w.storeAlbumItem(ctx, rw, it, body)
	}
	err = handleObserved(ctx, w.cfg.Handler, it.in, w.cfg.Sender, w.cfg.Observer)
	switch {
	case err == nil:
	case outage(err):
		// Logged by the dialog; Telegram sends the update again.
		rw.Header().Set("Retry-After", "1")
		return answer(rw, http.StatusServiceUnavailable, "a server the bot needs is out")
	case tryAgain(err):
		w.cfg.Logger.WarnContext(ctx, "deliver replies; Telegram will send the update again",
			"chat_id", it.in.ChatID, "update_id", u.UpdateID, "err", err)
		rw.Header().Set("Retry-After", "1")
		return answer(rw, http.StatusServiceUnavailable, "replies not delivered")
	case ctx.Err() != nil:
		// Cut off by the shutdown deadline: unsaved, so handled again.
		return answer(rw, http.StatusServiceUnavailable, "shutting down")
	default:
		// The buyer was answered kindly; sending the update again would
		// only repeat that.
		w.cfg.Logger.ErrorContext(ctx, "handle update", "chat_id", it.in.ChatID, "update_id", u.UpdateID, "err", err)
	}
	return answer(rw, http.StatusOK, "ok")
}

// refuseUnread closes the connection after an answer given before the
// body was read. Otherwise Go's server reads up to 256 KiB of the unread
// body first, to keep the connection, and a client that announced a body
// and sends none would hold the connection as long as it likes.
func refuseUnread(rw http.ResponseWriter) {
	rw.Header().Set("Connection", "close")
}

func answer(rw http.ResponseWriter, status int, msg string) int {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"status": msg}) // a string map: cannot fail
	_, _ = rw.Write(b)
	return status
}

// decodeUpdate reads one update as getUpdates' answers are read: once into
// tgbotapi's types and once for the forum fields they lack.
func decodeUpdate(body []byte) (update, error) {
	var (
		plain tgbotapi.Update
		forum forumFields
	)
	if err := json.Unmarshal(body, &plain); err != nil {
		return update{}, fmt.Errorf("decode update: %w", err)
	}
	if err := json.Unmarshal(body, &forum); err != nil {
		return update{}, fmt.Errorf("decode update %d: forum fields: %w", plain.UpdateID, err)
	}
	if plain.UpdateID <= 0 {
		return update{}, errors.New("decode update: no update_id")
	}
	return update{Update: plain, forum: forum}, nil
}
