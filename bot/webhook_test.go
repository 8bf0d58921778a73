package bot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund/logctx"
)

// TestWebhookAnswers: the webhook refuses requests without the secret,
// bodies that are no update or far too large, and tells Telegram to send
// an update again exactly when its replies could not be delivered.
func TestWebhookAnswers(t *testing.T) {
	t.Parallel()
	const secret = "s3cret_token-1"
	update := `{"update_id":41,"message":{"message_id":1,"date":1,"text":"hi","chat":{"id":5,"type":"private"},"from":{"id":5,"first_name":"B"}}}`
	undelivered := &flows.DeliveryError{Err: &tgbotapi.Error{Code: 502, Message: "Bad Gateway"}}
	tests := []struct {
		name       string
		method     string
		secret     string
		body       string
		handlerErr error
		want       int
		handled    bool
	}{
		{name: "handled", method: "POST", secret: secret, body: update, want: 200, handled: true},
		{name: "no secret", method: "POST", body: update, want: 401},
		{name: "wrong secret", method: "POST", secret: secret + "x", body: update, want: 401},
		{name: "GET", method: "GET", secret: secret, want: 405},
		{name: "not JSON", method: "POST", secret: secret, body: "{", want: 400},
		{name: "no update_id", method: "POST", secret: secret, body: `{"message":{}}`, want: 400},
		{name: "over 1 MiB", method: "POST", secret: secret, body: `{"update_id":1,"x":"` + strings.Repeat("a", 1<<20) + `"}`, want: 413},
		{name: "an update the bot ignores", method: "POST", secret: secret, body: `{"update_id":42,"edited_message":{"message_id":1,"date":1}}`, want: 200},
		{name: "replies not delivered", method: "POST", secret: secret, body: update, handlerErr: undelivered, want: 503, handled: true},
		{name: "a server the bot needs is out", method: "POST", secret: secret, body: update,
			handlerErr: &flows.RetryError{Err: errors.New("begin chat 5: EOF")}, want: 503, handled: true},
		{name: "handled with an error the buyer was told of", method: "POST", secret: secret, body: update,
			handlerErr: errors.New("save session: boom"), want: 200, handled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			w, err := NewWebhook(WebhookConfig{Secret: secret, HandleContext: context.Background(), Sender: NewSender(nil, nil, SenderOptions{}),
				Handler: handlerFunc(func(ctx context.Context, in flows.Input, send flows.Sender) error {
					calls.Add(1)
					if in.ChatID != 5 || in.Text != "hi" || in.UpdateIDs[0] != 41 {
						t.Errorf("input = %+v", in)
					}
					return tt.handlerErr
				})})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tt.method, "/telegram/webhook", strings.NewReader(tt.body))
			if tt.secret != "" {
				req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tt.secret)
			}
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d (%s), want %d", rec.Code, rec.Body, tt.want)
			}
			if got := calls.Load() > 0; got != tt.handled {
				t.Fatalf("handled = %v, want %v", got, tt.handled)
			}
			// Refused before its body is read, a request's connection is
			// closed rather than drained (see refuseUnread).
			if refused := tt.want == 401 || tt.want == 405; refused != (rec.Header().Get("Connection") == "close") {
				t.Errorf("Connection: %q for a %d", rec.Header().Get("Connection"), tt.want)
			}
		})
	}
}

// TestWebhookAfterShutdownBegan: once the handling context is over, updates
// are left to another replica (503), not half-handled.
func TestWebhookAfterShutdownBegan(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, err := NewWebhook(WebhookConfig{Secret: "x", HandleContext: ctx, Sender: NewSender(nil, nil, SenderOptions{}),
		Handler: handlerFunc(func(context.Context, flows.Input, flows.Sender) error {
			t.Error("handled after shutdown")
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"update_id":1,"message":{"message_id":1,"date":1,"text":"hi","chat":{"id":5,"type":"private"},"from":{"id":5}}}`))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "x")
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", rec.Code)
	}
}

// TestHandlerLogsNameTheUpdate: a line the dialog logs while handling an
// update names its chat and its update, though the call names neither.
func TestHandlerLogsNameTheUpdate(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(logctx.Handler{Handler: slog.NewJSONHandler(&buf, nil)})
	w, err := NewWebhook(WebhookConfig{Secret: "x", HandleContext: context.Background(), Sender: NewSender(nil, nil, SenderOptions{}),
		Handler: handlerFunc(func(ctx context.Context, in flows.Input, send flows.Sender) error {
			logger.InfoContext(ctx, "turn")
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"update_id":77,"message":{"message_id":1,"date":1,"text":"hi","chat":{"id":5,"type":"private"},"from":{"id":5}}}`))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "x")
	w.ServeHTTP(httptest.NewRecorder(), req)
	if line := buf.String(); !strings.Contains(line, `"chat_id":5`) || !strings.Contains(line, `"update_id":77`) {
		t.Fatalf("log line %q does not name the chat and the update", line)
	}
}

// TestWebhookSetupCalls: what `refundbot webhook set|info|delete` and the
// readiness check ask of the Bot API, against the fake.
func TestWebhookSetupCalls(t *testing.T) {
	t.Parallel()
	srv, err := telegramfake.Start(fakeToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	conn, err := Connect(fakeToken, srv.Endpoint(), 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	if err := conn.SetWebhook(ctx, "http://bot.example.com/hook", "s3cret", 0); err == nil {
		t.Fatal("the fake, like Telegram, must refuse a plain-http webhook")
	}
	if err := conn.SetWebhook(ctx, "https://bot.example.com/hook", "s3cret", 0); err != nil {
		t.Fatal(err)
	}
	if url, secret := srv.Webhook(); url != "https://bot.example.com/hook" || secret != "s3cret" {
		t.Fatalf("webhook = %q, %q", url, secret)
	}
	info, err := conn.WebhookInfo(ctx)
	if err != nil || info.URL != "https://bot.example.com/hook" {
		t.Fatalf("info = %+v, %v", info, err)
	}
	if err := conn.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	if url, _ := srv.Webhook(); url != "" {
		t.Fatalf("webhook still %q after delete", url)
	}
	calls := srv.Calls("getMe")
	for range 3 {
		if err := conn.Reachable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Calls("getMe") - calls; got != 1 {
		t.Fatalf("3 readiness checks called getMe %d times; one within %v is trusted", got, reachableFor)
	}
	srv.FailNext("getMe", 1, 502, 0)
	conn.mu.Lock()
	conn.lastReached = time.Time{}
	conn.mu.Unlock()
	if err := conn.Reachable(ctx); err == nil || strings.Contains(err.Error(), fakeToken) {
		t.Fatalf("Reachable with Telegram failing = %v; want an error without the token", err)
	}
}
