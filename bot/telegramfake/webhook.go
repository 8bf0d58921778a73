package telegramfake

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Webhook delivery, the way Telegram's Bot API server does it
// (tdlib/telegram-bot-api's WebhookActor): updates are queued per chat, and
// each chat has at most one update in flight, so the next update of a chat
// is sent only after the bot answered 2xx to the one before; different
// chats are sent concurrently, up to max_connections. Any other answer, or
// none, sends the same update again after a delay that doubles. Telegram
// refuses plain-http webhooks except on a local Bot API server; the fake
// accepts them after AllowHTTPWebhooks, for tests on loopback.

// webhookState is the delivery side of the fake; its fields are guarded by
// the Server's mu.
type webhookState struct {
	allowHTTP      bool
	maxConnections int
	// running is set while a delivery loop runs; stopped ends it.
	running bool
	stopped chan struct{}
	// busy holds the chats with an update in flight, and due when each
	// update may be sent again after a failure.
	busy      map[int64]bool
	due       map[int]time.Time
	failures  map[int]int
	delivered int
}

// Webhook delivery's pace: the first retry after a failure, and the
// longest. Telegram's are 1 s and 60 s; tests need seconds, not minutes.
const (
	webhookFirstRetry = 50 * time.Millisecond
	webhookMaxRetry   = time.Second
	webhookTimeout    = 30 * time.Second
)

// AllowHTTPWebhooks makes setWebhook accept http:// URLs, as a local Bot
// API server does, so that tests can receive webhooks on 127.0.0.1.
func (s *injector) AllowHTTPWebhooks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook.allowHTTP = true
}

// WebhookDeliveries counts updates the bot acknowledged through its webhook.
func (s *observer) WebhookDeliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook.delivered
}

// startWebhookLocked starts delivering to the webhook just set, once.
func (s *world) startWebhookLocked() {
	if s.hook.running || s.webhookURL == "" || s.closed {
		return
	}
	s.hook.running = true
	s.hook.stopped = make(chan struct{})
	if s.hook.busy == nil {
		s.hook.busy, s.hook.due, s.hook.failures = map[int64]bool{}, map[int]time.Time{}, map[int]int{}
	}
	go s.deliverWebhooks(s.hook.stopped)
}

// deliverWebhooks sends every deliverable update, then waits for a change
// (a new update, an answer) or the next retry.
func (s *world) deliverWebhooks(stopped chan struct{}) {
	defer close(stopped)
	client := &http.Client{Timeout: webhookTimeout}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.done
		cancel()
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && s.webhookURL != "" {
		next := s.sendDueLocked(ctx, client)
		changed := s.changed
		s.mu.Unlock()
		var (
			retry <-chan time.Time
			timer *time.Timer
		)
		if !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			retry = timer.C
		}
		select {
		case <-changed:
		case <-retry:
		case <-s.done:
		}
		if timer != nil {
			timer.Stop()
		}
		s.mu.Lock()
	}
	s.hook.running = false
}

// sendDueLocked starts a request for the first update of every idle chat
// whose retry time has come, and returns the earliest retry still ahead.
func (s *world) sendDueLocked(ctx context.Context, client *http.Client) (next time.Time) {
	now := time.Now()
	inFlight := 0
	for _, busy := range s.hook.busy {
		if busy {
			inFlight++
		}
	}
	seen := map[int64]bool{} // chats whose first queued update was looked at
	for _, q := range s.queue {
		if !s.allowedLocked(q.kind) {
			continue
		}
		chat := updateChat(q)
		if seen[chat] {
			continue // not this chat's first update: it waits its turn
		}
		seen[chat] = true
		if s.hook.busy[chat] {
			continue
		}
		if due, ok := s.hook.due[q.id]; ok && due.After(now) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		if inFlight >= s.hook.maxConnections {
			break
		}
		inFlight++
		s.hook.busy[chat] = true
		go s.post(ctx, client, q, chat, s.webhookURL, s.webhookSecret)
	}
	return next
}

// post sends one update and records the answer.
func (s *world) post(ctx context.Context, client *http.Client, q queuedUpdate, chat int64, url, secret string) {
	ok := false
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(q.raw))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		if resp, err := client.Do(req); err == nil {
			ok = resp.StatusCode >= 200 && resp.StatusCode <= 299
			resp.Body.Close()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hook.busy, chat)
	if ok {
		s.hook.delivered++
		delete(s.hook.due, q.id)
		delete(s.hook.failures, q.id)
		kept := s.queue[:0:0]
		for _, other := range s.queue {
			if other.id != q.id {
				kept = append(kept, other)
			}
		}
		s.queue = kept
	} else {
		n := s.hook.failures[q.id]
		s.hook.failures[q.id] = n + 1
		s.hook.due[q.id] = time.Now().Add(min(webhookFirstRetry<<min(n, 10), webhookMaxRetry))
	}
	s.changedLocked()
}

// updateChat is the queue an update waits in: its chat, or its own queue
// for updates of no chat (a negative ID no chat has).
func updateChat(q queuedUpdate) int64 {
	var u struct {
		Message *struct {
			Chat struct {
				ID int64 `json:"id"`
			} `json:"chat"`
		} `json:"message"`
		CallbackQuery *struct {
			Message *struct {
				Chat struct {
					ID int64 `json:"id"`
				} `json:"chat"`
			} `json:"message"`
		} `json:"callback_query"`
	}
	if json.Unmarshal(q.raw, &u) == nil {
		switch {
		case u.Message != nil:
			return u.Message.Chat.ID
		case u.CallbackQuery != nil && u.CallbackQuery.Message != nil:
			return u.CallbackQuery.Message.Chat.ID
		}
	}
	return -1<<62 - int64(q.id)
}

// setWebhook records the webhook and starts delivering updates to it (webhook.go); like
// Telegram, the fake refuses getUpdates while a webhook is set.
func (s *botAPI) setWebhook(r *request) (json.RawMessage, *apiError) {
	url, secret := r.str("url"), r.str("secret_token")
	maxConns, aerr := intParam(r, "max_connections", 40)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	allowHTTP := s.hook.allowHTTP
	s.mu.Unlock()
	if url != "" && !strings.HasPrefix(url, "https://") && !(allowHTTP && strings.HasPrefix(url, "http://")) {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	if len(secret) > 256 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return nil, badRequest("secret token contains unallowed characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSecret = url, secret
	s.hook.maxConnections = min(max(maxConns, 1), 100)
	if boolParam(r, "drop_pending_updates") {
		s.queue = nil
	}
	s.startWebhookLocked()
	s.changedLocked()
	return jsonTrue(), nil
}

func (s *botAPI) deleteWebhook(r *request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSecret = "", ""
	if boolParam(r, "drop_pending_updates") {
		s.queue = nil
	}
	s.changedLocked()
	return jsonTrue(), nil
}

func (s *botAPI) getWebhookInfo(*request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return jsonOf(tgbotapi.WebhookInfo{URL: s.webhookURL, PendingUpdateCount: len(s.queue), MaxConnections: s.hook.maxConnections}), nil
}
