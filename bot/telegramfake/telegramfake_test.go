package telegramfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

const token = "123456:TEST-token"

var (
	alice     = telegramfake.User{ID: 1001, FirstName: "Alice", Username: "alice", LanguageCode: "en"}
	aliceChat = telegramfake.Chat{ID: 1001}
)

func start(t *testing.T) *telegramfake.Server {
	t.Helper()
	srv, err := telegramfake.Start(token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newBot(t *testing.T, srv *telegramfake.Server) *tgbotapi.BotAPI {
	t.Helper()
	bot, err := tgbotapi.NewBotAPIWithAPIEndpoint(token, srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	return bot
}

// startWithChat starts a fake and a bot, with Alice's private chat already known to the fake.
func startWithChat(t *testing.T) (*telegramfake.Server, *tgbotapi.BotAPI) {
	t.Helper()
	srv := start(t)
	srv.AddChat(aliceChat)
	return srv, newBot(t, srv)
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func apiError(t *testing.T, err error) *tgbotapi.Error {
	t.Helper()
	var e *tgbotapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *tgbotapi.Error", err, err)
	}
	return e
}

func keyboard() tgbotapi.InlineKeyboardMarkup {
	return tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("Yes", "refund:yes"),
		tgbotapi.NewInlineKeyboardButtonURL("Policy", "https://example.com/policy"),
	))
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func download(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGetMe(t *testing.T) {
	bot := newBot(t, start(t))
	if bot.Self.ID != telegramfake.BotID || !bot.Self.IsBot || bot.Self.UserName != "refund_test_bot" || bot.Self.FirstName != "RefundBot" {
		t.Errorf("Self = %+v", bot.Self)
	}
}

func TestRejectedRequests(t *testing.T) {
	srv := start(t)
	tests := []struct {
		name     string
		call     func() error
		wantCode int
		wantDesc string
	}{
		{"wrong token", func() error {
			_, err := tgbotapi.NewBotAPIWithAPIEndpoint("999:wrong", srv.Endpoint())
			return err
		}, 401, "Unauthorized"},
		{"unknown method", func() error {
			_, err := newBot(t, srv).MakeRequest("sendUnicorn", nil)
			return err
		}, 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := apiError(t, tt.call())
			if e.Code != tt.wantCode || e.Message != tt.wantDesc {
				t.Errorf("got %d %q, want %d %q", e.Code, e.Message, tt.wantCode, tt.wantDesc)
			}
		})
	}
	if n := srv.Calls("sendUnicorn"); n != 1 {
		t.Errorf("Calls(sendUnicorn) = %d, want 1", n)
	}
}

func TestGetUpdatesOffsets(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	id1, _ := srv.SendText(aliceChat, alice, "one")
	id2, _ := srv.SendText(aliceChat, alice, "two")
	if id2 <= id1 {
		t.Fatalf("update ids %d, %d do not increase", id1, id2)
	}

	ids := func(offset int) []int {
		t.Helper()
		ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		for _, u := range ups {
			ids = append(ids, u.UpdateID)
		}
		return ids
	}
	steps := []struct {
		name        string
		offset      int
		want        []int
		wantPending int
	}{
		{"default offset returns all pending", 0, []int{id1, id2}, 2},
		{"unconfirmed updates are redelivered", 0, []int{id1, id2}, 2},
		{"offset confirms the updates below it", id1 + 1, []int{id2}, 1},
		{"confirmed updates are gone", id2 + 1, nil, 0},
	}
	for _, st := range steps {
		if got := ids(st.offset); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: got %v, want %v", st.name, got, st.want)
		}
		if p := srv.Pending(); p != st.wantPending {
			t.Errorf("%s: Pending() = %d, want %d", st.name, p, st.wantPending)
		}
	}
}

func TestGetUpdatesContent(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	_, sent := srv.SendText(aliceChat, alice, "hello")
	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(ups) != 1 || ups[0].Message == nil {
		t.Fatalf("GetUpdates = %+v, %v", ups, err)
	}
	m := ups[0].Message
	if m.MessageID != sent.MessageID || m.Text != "hello" || m.From.ID != alice.ID || m.From.UserName != "alice" ||
		m.From.LanguageCode != "en" || m.Chat.ID != aliceChat.ID || !m.Chat.IsPrivate() || m.Date == 0 {
		t.Errorf("message = %+v", m)
	}
}

func TestAllowedUpdates(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	kinds := func(allowed []string) []string {
		t.Helper()
		ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{AllowedUpdates: allowed})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, u := range ups {
			if u.Message != nil {
				kinds = append(kinds, "message")
			} else if u.CallbackQuery != nil {
				kinds = append(kinds, "callback_query")
			}
		}
		return kinds
	}
	_, m := srv.SendText(aliceChat, alice, "hi")
	srv.PressButton(aliceChat, alice, m.MessageID, "x")
	if got := kinds([]string{"callback_query"}); !reflect.DeepEqual(got, []string{"callback_query"}) {
		t.Errorf("filtered: %v", got)
	}
	if srv.Pending() != 1 {
		t.Errorf("Pending = %d: a filtered-out update must be dropped", srv.Pending())
	}
	srv.SendText(aliceChat, alice, "still filtered")
	// tgbotapi sends allowed_updates=null for nil, which keeps the previous setting.
	if got := kinds(nil); !reflect.DeepEqual(got, []string{"callback_query"}) {
		t.Errorf("setting not kept: %v", got)
	}
	srv.SendText(aliceChat, alice, "back to default")
	if got := kinds([]string{}); !reflect.DeepEqual(got, []string{"callback_query", "message"}) {
		t.Errorf("empty list should restore the default: %v", got)
	}
}

func TestLongPoll(t *testing.T) {
	t.Run("wakes when an update arrives", func(t *testing.T) {
		srv := start(t)
		bot := newBot(t, srv)
		type result struct {
			ups []tgbotapi.Update
			err error
		}
		done := make(chan result, 1)
		go func() {
			ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 30})
			done <- result{ups, err}
		}()
		if err := srv.WaitFor(ctxT(t), func(s *telegramfake.Server) bool { return s.Calls("getUpdates") == 1 }); err != nil {
			t.Fatal(err)
		}
		id, _ := srv.SendText(aliceChat, alice, "wake up")
		select {
		case r := <-done:
			if r.err != nil || len(r.ups) != 1 || r.ups[0].UpdateID != id {
				t.Errorf("GetUpdates = %+v, %v", r.ups, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("long poll did not wake up")
		}
	})
	t.Run("answers empty after the timeout", func(t *testing.T) {
		bot := newBot(t, start(t))
		begin := time.Now()
		ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 1})
		if err != nil || len(ups) != 0 {
			t.Errorf("GetUpdates = %+v, %v", ups, err)
		}
		if d := time.Since(begin); d < 900*time.Millisecond || d > 5*time.Second {
			t.Errorf("returned after %v, want about 1s", d)
		}
	})
	t.Run("a newer poll ends an older one with 409", func(t *testing.T) {
		bot := newBot(t, start(t))
		older := make(chan error, 1)
		go func() {
			_, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 30})
			older <- err
		}()
		deadline := time.After(5 * time.Second)
		for {
			// The older poll may not be waiting yet when a newer one arrives: poll until it ends.
			if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{}); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-older:
				if e := apiError(t, err); e.Code != 409 || !strings.HasPrefix(e.Message, "Conflict: terminated by other getUpdates request") {
					t.Errorf("older poll: %d %q", e.Code, e.Message)
				}
				return
			case <-deadline:
				t.Fatal("older poll still running")
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	t.Run("ends on Close", func(t *testing.T) {
		srv := start(t)
		bot := newBot(t, srv)
		done := make(chan struct{})
		go func() {
			_, _ = bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 60})
			close(done)
		}()
		if err := srv.WaitFor(ctxT(t), func(s *telegramfake.Server) bool { return s.Calls("getUpdates") == 1 }); err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("long poll still running after Close")
		}
	})
}

func TestWebhookBlocksGetUpdates(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	if _, err := bot.MakeRequest("setWebhook", tgbotapi.Params{"url": "https://bot.example.com/hook", "secret_token": "s3cret"}); err != nil {
		t.Fatal(err)
	}
	if url, secret := srv.Webhook(); url != "https://bot.example.com/hook" || secret != "s3cret" {
		t.Errorf("Webhook() = %q, %q", url, secret)
	}
	if info, err := bot.GetWebhookInfo(); err != nil || info.URL != "https://bot.example.com/hook" {
		t.Errorf("getWebhookInfo = %+v, %v", info, err)
	}
	_, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if e := apiError(t, err); e.Code != 409 {
		t.Errorf("getUpdates with a webhook: %d %q, want 409", e.Code, e.Message)
	}
	if _, err := bot.Request(tgbotapi.DeleteWebhookConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{}); err != nil {
		t.Errorf("getUpdates after deleteWebhook: %v", err)
	}
}

func TestSendMessageWithKeyboard(t *testing.T) {
	srv, bot := startWithChat(t)
	msg := tgbotapi.NewMessage(aliceChat.ID, "<b>Refund</b> for order R-1 &amp; more?")
	msg.ParseMode = tgbotapi.ModeHTML
	msg.ReplyMarkup = keyboard()
	got, err := bot.Send(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "Refund for order R-1 & more?" || got.From.ID != telegramfake.BotID || got.Chat.ID != aliceChat.ID || got.ReplyMarkup == nil {
		t.Errorf("answer = %+v", got)
	}
	if want := []tgbotapi.MessageEntity{{Type: "bold", Offset: 0, Length: 6}}; !reflect.DeepEqual(got.Entities, want) {
		t.Errorf("entities = %+v, want %+v", got.Entities, want)
	}

	want := []telegramfake.SentMessage{{
		MessageID: got.MessageID,
		ChatID:    aliceChat.ID,
		Text:      "<b>Refund</b> for order R-1 &amp; more?",
		PlainText: "Refund for order R-1 & more?",
		ParseMode: "HTML",
		Keyboard:  [][]telegramfake.Button{{{Text: "Yes", CallbackData: "refund:yes"}, {Text: "Policy", URL: "https://example.com/policy"}}},
		Method:    "sendMessage",
	}}
	ms := srv.Messages(aliceChat.ID)
	for i := range ms {
		ms[i].At = time.Time{}
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("Messages =\n%+v, want\n%+v", ms, want)
	}
}

func TestSendValidation(t *testing.T) {
	text := func(s string) func() tgbotapi.MessageConfig {
		return func() tgbotapi.MessageConfig { return tgbotapi.NewMessage(aliceChat.ID, s) }
	}
	html := func(s string) func() tgbotapi.MessageConfig {
		return func() tgbotapi.MessageConfig {
			m := tgbotapi.NewMessage(aliceChat.ID, s)
			m.ParseMode = tgbotapi.ModeHTML
			return m
		}
	}
	withButton := func(b tgbotapi.InlineKeyboardButton) func() tgbotapi.MessageConfig {
		return func() tgbotapi.MessageConfig {
			m := tgbotapi.NewMessage(aliceChat.ID, "pick")
			m.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(b))
			return m
		}
	}
	const cantParse = "Bad Request: can't parse entities"
	tests := []struct {
		name    string
		msg     func() tgbotapi.MessageConfig
		wantErr string // prefix of the description; "" for success
	}{
		{"empty text", text(""), "Bad Request: message text is empty"},
		{"only spaces", text("  \n "), "Bad Request: message text is empty"},
		{"4096 characters", text(strings.Repeat("a", 4096)), ""},
		{"4097 characters", text(strings.Repeat("a", 4097)), "Bad Request: message is too long"},
		{"2048 emoji are 4096 UTF-16 units", text(strings.Repeat("😀", 2048)), ""},
		{"2049 emoji are too long", text(strings.Repeat("😀", 2049)), "Bad Request: message is too long"},
		{"tags do not count", html("<b>" + strings.Repeat("a", 4096) + "</b>"), ""},
		{"invalid UTF-8", text("caf\xc3"), "Bad Request: strings must be encoded in UTF-8"},
		{"unknown chat", func() tgbotapi.MessageConfig { return tgbotapi.NewMessage(42, "hi") }, "Bad Request: chat not found"},
		{"64-byte callback data", withButton(tgbotapi.NewInlineKeyboardButtonData("ok", strings.Repeat("x", 64))), ""},
		{"65-byte callback data", withButton(tgbotapi.NewInlineKeyboardButtonData("ok", strings.Repeat("x", 65))), "Bad Request: BUTTON_DATA_INVALID"},
		{"button without action", withButton(tgbotapi.InlineKeyboardButton{Text: "ok"}), "Bad Request: can't parse inline keyboard button"},
		{"html escaped and linked", html(`1 &lt; 2 &amp;&#33; <a href="https://x.example/?a=1&amp;b=2">link</a> <i><u>x</u></i> <pre><code>y</code></pre>`), ""},
		{"html unclosed tag", html("<b>bold"), cantParse},
		{"html unknown tag", html("<div>x</div>"), cantParse},
		{"html misnested tags", html("<b><i>x</b></i>"), cantParse},
		{"html bare <", html("1 < 2"), cantParse},
		{"html bare &", html("Tom & Jerry"), cantParse},
		{"html bare >", html("a -> b"), cantParse},
		{"plain text is not parsed", text("1 < 2 & <div>"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, bot := startWithChat(t)
			_, err := bot.Send(tt.msg())
			n := len(srv.Messages(aliceChat.ID))
			if tt.wantErr == "" {
				if err != nil || n != 1 {
					t.Errorf("err = %v, %d messages; want success", err, n)
				}
				return
			}
			e := apiError(t, err)
			if e.Code != 400 || !strings.HasPrefix(e.Message, tt.wantErr) {
				t.Errorf("got %d %q, want 400 %q...", e.Code, e.Message, tt.wantErr)
			}
			if n != 0 {
				t.Errorf("a rejected send stored %d messages", n)
			}
		})
	}
}

func TestEditAndDelete(t *testing.T) {
	srv, bot := startWithChat(t)
	var events []telegramfake.SentMessage
	var mu sync.Mutex
	srv.Subscribe(func(m telegramfake.SentMessage) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, m)
	})
	msg := tgbotapi.NewMessage(aliceChat.ID, "Refund R-1?")
	msg.ReplyMarkup = keyboard()
	sent, err := bot.Send(msg)
	if err != nil {
		t.Fatal(err)
	}
	only := func() telegramfake.SentMessage {
		t.Helper()
		ms := srv.Messages(aliceChat.ID)
		if len(ms) != 1 {
			t.Fatalf("%d messages, want 1", len(ms))
		}
		return ms[0]
	}

	edited, err := bot.Send(tgbotapi.NewEditMessageTextAndMarkup(aliceChat.ID, sent.MessageID, "Refund R-1: approved", keyboard()))
	if err != nil {
		t.Fatal(err)
	}
	if edited.MessageID != sent.MessageID || edited.Text != "Refund R-1: approved" || edited.EditDate == 0 {
		t.Errorf("edit answer = %+v", edited)
	}
	if m := only(); m.Text != "Refund R-1: approved" || m.Edits != 1 || len(m.Keyboard) != 1 {
		t.Errorf("after edit: %+v", m)
	}

	_, err = bot.Send(tgbotapi.NewEditMessageTextAndMarkup(aliceChat.ID, sent.MessageID, "Refund R-1: approved", keyboard()))
	if e := apiError(t, err); !strings.HasPrefix(e.Message, "Bad Request: message is not modified") {
		t.Errorf("identical edit: %q", e.Message)
	}

	// Telegram drops the inline keyboard when an edit does not repeat it.
	if _, err := bot.Send(tgbotapi.NewEditMessageText(aliceChat.ID, sent.MessageID, "Refund R-1: paid")); err != nil {
		t.Fatal(err)
	}
	if m := only(); m.Keyboard != nil || m.Edits != 2 {
		t.Errorf("after edit without markup: %+v", m)
	}

	if _, err := bot.Send(tgbotapi.NewEditMessageReplyMarkup(aliceChat.ID, sent.MessageID, keyboard())); err != nil {
		t.Fatal(err)
	}
	if m := only(); len(m.Keyboard) != 1 || m.Edits != 3 {
		t.Errorf("after markup edit: %+v", m)
	}

	// deleteMessage answers true, which tgbotapi's Send cannot decode into a Message: use Request.
	if _, err := bot.Request(tgbotapi.NewDeleteMessage(aliceChat.ID, sent.MessageID)); err != nil {
		t.Fatal(err)
	}
	if m := only(); !m.Deleted {
		t.Errorf("after delete: %+v", m)
	}
	_, err = bot.Send(tgbotapi.NewEditMessageText(aliceChat.ID, sent.MessageID, "too late"))
	if e := apiError(t, err); e.Message != "Bad Request: message to edit not found" {
		t.Errorf("edit after delete: %q", e.Message)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(events) != 5 || events[0].Edits != 0 || events[3].Edits != 3 || !events[4].Deleted {
		t.Errorf("subscriber saw %+v", events)
	}
}

func TestCallbackQuery(t *testing.T) {
	srv, bot := startWithChat(t)
	msg := tgbotapi.NewMessage(aliceChat.ID, "Refund R-1?")
	msg.ReplyMarkup = keyboard()
	sent, err := bot.Send(msg)
	if err != nil {
		t.Fatal(err)
	}
	updateID, queryID := srv.PressButton(aliceChat, alice, sent.MessageID, "refund:yes")

	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(ups) != 1 {
		t.Fatalf("GetUpdates = %+v, %v", ups, err)
	}
	q := ups[0].CallbackQuery
	if ups[0].UpdateID != updateID || q == nil || q.ID != queryID || q.Data != "refund:yes" || q.From.ID != alice.ID ||
		q.Message == nil || q.Message.MessageID != sent.MessageID || q.Message.ReplyMarkup == nil || q.Message.Text != "Refund R-1?" {
		t.Fatalf("update = %+v, query = %+v", ups[0], q)
	}

	tests := []struct {
		name    string
		id      string
		wantErr bool
	}{
		{"first answer", queryID, false},
		{"second answer", queryID, true},
		{"unknown query", "12345", true},
	}
	for _, tt := range tests {
		_, err := bot.Request(tgbotapi.NewCallback(tt.id, "Done"))
		if !tt.wantErr {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if e := apiError(t, err); e.Code != 400 || e.Message != "Bad Request: query is too old and response timeout expired or query ID is invalid" {
			t.Errorf("%s: %d %q", tt.name, e.Code, e.Message)
		}
	}
	if got, want := srv.CallbackAnswers(), []telegramfake.CallbackAnswer{{CallbackQueryID: queryID, Text: "Done"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("CallbackAnswers = %+v, want %+v", got, want)
	}
}

func TestFailNext(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		retryAfter int
		wantDesc   string
	}{
		{"flood control", 429, 7, "Too Many Requests: retry after 7"},
		{"blocked by the user", 403, 0, "Forbidden: bot was blocked by the user"},
		{"server error", 500, 0, "Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, bot := startWithChat(t)
			srv.FailNext("sendMessage", 1, tt.code, tt.retryAfter)
			_, err := bot.Send(tgbotapi.NewMessage(aliceChat.ID, "hi"))
			e := apiError(t, err)
			if e.Code != tt.code || e.Message != tt.wantDesc || e.RetryAfter != tt.retryAfter {
				t.Errorf("got %+v", *e)
			}
			if n := len(srv.Messages(aliceChat.ID)); n != 0 {
				t.Errorf("a failed send stored %d messages", n)
			}
			if _, err := bot.Send(tgbotapi.NewMessage(aliceChat.ID, "hi")); err != nil {
				t.Errorf("the call after the failures: %v", err)
			}
			if n := srv.Calls("sendMessage"); n != 2 {
				t.Errorf("Calls = %d, want 2", n)
			}
		})
	}
}

func TestDelayNext(t *testing.T) {
	t.Run("delayed answer, delivered message", func(t *testing.T) {
		srv := start(t)
		srv.AddChat(aliceChat)
		bot, err := tgbotapi.NewBotAPIWithClient(token, srv.Endpoint(), &http.Client{Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		srv.DelayNext("sendMessage", 1, time.Minute)
		begin := time.Now()
		if _, err := bot.Send(tgbotapi.NewMessage(aliceChat.ID, "slow")); err == nil {
			t.Fatal("send succeeded, want a client timeout")
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("timed out after %v", d)
		}
		if n := len(srv.Messages(aliceChat.ID)); n != 1 {
			t.Errorf("%d messages, want 1: a timed-out send still takes effect", n)
		}
		if _, err := bot.Send(tgbotapi.NewMessage(aliceChat.ID, "fast")); err != nil {
			t.Errorf("next send: %v", err)
		}
	})
	t.Run("ends on Close", func(t *testing.T) {
		srv := start(t)
		bot := newBot(t, srv)
		srv.DelayNext("getMe", 1, time.Minute)
		done := make(chan struct{})
		go func() {
			_, _ = bot.GetMe()
			close(done)
		}()
		if err := srv.WaitFor(ctxT(t), func(s *telegramfake.Server) bool { return s.Calls("getMe") == 2 }); err != nil {
			t.Fatal(err)
		}
		_ = srv.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("delayed call still running after Close")
		}
	})
}

func TestPhotos(t *testing.T) {
	srv, bot := startWithChat(t)
	data := pngBytes(t, 200, 100)

	t.Run("bot uploads, downloads the same bytes", func(t *testing.T) {
		got, err := bot.Send(tgbotapi.NewPhoto(aliceChat.ID, tgbotapi.FileBytes{Name: "receipt.png", Bytes: data}))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Photo) != 2 || got.Photo[1].Width != 200 || got.Photo[1].Height != 100 || got.Photo[0].Width != 90 {
			t.Fatalf("photo sizes = %+v", got.Photo)
		}
		f, err := bot.GetFile(tgbotapi.FileConfig{FileID: got.Photo[1].FileID})
		if err != nil {
			t.Fatal(err)
		}
		if f.FileSize != len(data) || f.FileUniqueID != got.Photo[1].FileUniqueID {
			t.Errorf("file = %+v", f)
		}
		if b := download(t, srv.FileURL(f.FilePath)); !bytes.Equal(b, data) {
			t.Errorf("downloaded %d bytes, want the %d uploaded", len(b), len(data))
		}
		ms := srv.Messages(aliceChat.ID)
		if last := ms[len(ms)-1]; last.Method != "sendPhoto" || last.FileID != got.Photo[1].FileID {
			t.Errorf("SentMessage = %+v", last)
		}

		edit := tgbotapi.NewEditMessageCaption(aliceChat.ID, got.MessageID, "<i>Receipt</i> received")
		edit.ParseMode = tgbotapi.ModeHTML
		if _, err := bot.Send(edit); err != nil {
			t.Fatal(err)
		}
		ms = srv.Messages(aliceChat.ID)
		if last := ms[len(ms)-1]; last.PlainText != "Receipt received" || last.Edits != 1 {
			t.Errorf("after caption edit: %+v", last)
		}
		_, err = bot.Send(tgbotapi.NewEditMessageText(aliceChat.ID, got.MessageID, "text"))
		if e := apiError(t, err); e.Message != "Bad Request: there is no text in the message to edit" {
			t.Errorf("editMessageText on a photo: %q", e.Message)
		}
	})

	t.Run("user sends, bot downloads and resends by file_id", func(t *testing.T) {
		_, m1 := srv.SendPhoto(aliceChat, alice, data, "my receipt", "")
		_, m2 := srv.SendPhoto(aliceChat, alice, data, "", "album-1")
		full1, full2 := m1.Photo[len(m1.Photo)-1], m2.Photo[len(m2.Photo)-1]
		if full1.FileUniqueID != full2.FileUniqueID || full1.FileID == full2.FileID {
			t.Errorf("same bytes: unique ids %q, %q; file ids %q, %q", full1.FileUniqueID, full2.FileUniqueID, full1.FileID, full2.FileID)
		}
		if m1.Caption != "my receipt" || m2.MediaGroupID != "album-1" {
			t.Errorf("messages = %+v, %+v", m1, m2)
		}
		f, err := bot.GetFile(tgbotapi.FileConfig{FileID: full1.FileID})
		if err != nil {
			t.Fatal(err)
		}
		if b := download(t, srv.FileURL(f.FilePath)); !bytes.Equal(b, data) {
			t.Error("downloaded bytes differ from the user's photo")
		}
		got, err := bot.Send(tgbotapi.NewPhoto(aliceChat.ID, tgbotapi.FileID(full1.FileID)))
		if err != nil || got.Photo[len(got.Photo)-1].FileID != full1.FileID {
			t.Errorf("resend by file_id: %+v, %v", got.Photo, err)
		}
	})

	t.Run("file_id errors", func(t *testing.T) {
		_, m := srv.SendPhoto(aliceChat, alice, data, "", "")
		tests := []struct {
			name, want string
			send       tgbotapi.Chattable
		}{
			{"unknown file_id", "Bad Request: wrong file identifier/HTTP URL specified", tgbotapi.NewPhoto(aliceChat.ID, tgbotapi.FileID("nope"))},
			{"photo sent as document", "Bad Request: type of file mismatch", tgbotapi.NewDocument(aliceChat.ID, tgbotapi.FileID(m.Photo[0].FileID))},
		}
		for _, tt := range tests {
			_, err := bot.Send(tt.send)
			if e := apiError(t, err); e.Message != tt.want {
				t.Errorf("%s: %q, want %q", tt.name, e.Message, tt.want)
			}
		}
		_, err := bot.GetFile(tgbotapi.FileConfig{FileID: "nope"})
		if e := apiError(t, err); e.Message != "Bad Request: invalid file_id" {
			t.Errorf("getFile: %q", e.Message)
		}
	})

	t.Run("tgbotapi drops the error code of failed uploads", func(t *testing.T) {
		// UploadFiles builds its *Error without Code; RetryAfter survives. Bots must not rely on
		// Code after a multipart upload.
		srv.FailNext("sendPhoto", 1, 429, 3)
		_, err := bot.Send(tgbotapi.NewPhoto(aliceChat.ID, tgbotapi.FileBytes{Name: "r.png", Bytes: data}))
		if e := apiError(t, err); e.Code != 0 || e.RetryAfter != 3 {
			t.Errorf("got %+v", *e)
		}
	})
}

func TestDocuments(t *testing.T) {
	srv, bot := startWithChat(t)
	pdf := []byte("%PDF-1.4 receipt")
	_, m := srv.SendDocument(aliceChat, alice, pdf, "receipt.pdf", "", "order R-1", "")
	if m.Document == nil || m.Document.MimeType != "application/pdf" || m.Document.FileName != "receipt.pdf" || m.Caption != "order R-1" {
		t.Fatalf("message = %+v, document = %+v", m, m.Document)
	}
	f, err := bot.GetFile(tgbotapi.FileConfig{FileID: m.Document.FileID})
	if err != nil {
		t.Fatal(err)
	}
	if b := download(t, srv.FileURL(f.FilePath)); !bytes.Equal(b, pdf) {
		t.Error("downloaded bytes differ")
	}

	added := srv.AddFile([]byte("policy"), "policy.txt")
	got, err := bot.Send(tgbotapi.NewDocument(aliceChat.ID, tgbotapi.FileID(added.FileID)))
	if err != nil || got.Document == nil || got.Document.FileName != "policy.txt" {
		t.Errorf("send AddFile'd document: %+v, %v", got.Document, err)
	}
	if b := download(t, srv.FileURL(added.FilePath)); string(b) != "policy" {
		t.Errorf("AddFile download = %q", b)
	}

	_, sticker := srv.SendSticker(aliceChat, alice)
	_, voice := srv.SendVoice(aliceChat, alice)
	if sticker.Sticker == nil || sticker.Text != "" || voice.Voice == nil || voice.Voice.Duration == 0 {
		t.Errorf("sticker = %+v, voice = %+v", sticker.Sticker, voice.Voice)
	}
}

func TestCommands(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	tests := []struct {
		text                  string
		isCommand             bool
		command, withAt, args string
	}{
		{"/status R-000123", true, "status", "status", "R-000123"},
		{"/status@refund_test_bot R-1", true, "status", "status@refund_test_bot", "R-1"},
		{"/start", true, "start", "start", ""},
		{"hello /start", false, "", "", ""},
		{"/статус R-1", false, "", "", ""},
		{"/", false, "", "", ""},
	}
	for _, tt := range tests {
		srv.SendText(aliceChat, alice, tt.text)
	}
	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(ups) != len(tests) {
		t.Fatalf("GetUpdates = %d updates, %v", len(ups), err)
	}
	for i, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			m := ups[i].Message // as the bot decodes it from the wire
			if m.IsCommand() != tt.isCommand || m.Command() != tt.command || m.CommandWithAt() != tt.withAt || m.CommandArguments() != tt.args {
				t.Errorf("IsCommand=%v Command=%q CommandWithAt=%q CommandArguments=%q", m.IsCommand(), m.Command(), m.CommandWithAt(), m.CommandArguments())
			}
		})
	}
}

func TestEnqueueRaw(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	id, _ := srv.SendText(aliceChat, alice, "pay me")
	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(ups) != 1 {
		t.Fatalf("GetUpdates = %+v, %v", ups, err)
	}
	raw, err := json.Marshal(ups[0])
	if err != nil {
		t.Fatal(err)
	}
	if ups, _ := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: id + 1}); len(ups) != 0 {
		t.Fatalf("confirmed update redelivered: %+v", ups)
	}

	// A duplicate delivery of an update the bot already confirmed reaches it once.
	if err := srv.EnqueueRaw(raw); err != nil {
		t.Fatal(err)
	}
	ups, err = bot.GetUpdates(tgbotapi.UpdateConfig{Offset: id + 1})
	if err != nil || len(ups) != 1 || ups[0].UpdateID != id || ups[0].Message.Text != "pay me" {
		t.Fatalf("duplicate: %+v, %v", ups, err)
	}
	if ups, _ := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: id + 1}); len(ups) != 0 || srv.Pending() != 0 {
		t.Fatalf("duplicate not confirmed: %+v, pending %d", ups, srv.Pending())
	}

	// Fresh ids stay above forged ones, so offsets keep working.
	if err := srv.EnqueueRaw(json.RawMessage(`{"update_id": 500, "message": {"message_id": 77, "date": 1, "chat": {"id": 2002, "type": "private"}, "text": "forged"}}`)); err != nil {
		t.Fatal(err)
	}
	if next, _ := srv.SendText(aliceChat, alice, "after"); next <= 500 {
		t.Errorf("next update_id %d, want > 500", next)
	}
	if _, err := bot.Send(tgbotapi.NewMessage(2002, "reply to the forged chat")); err != nil {
		t.Errorf("forged chat not known: %v", err)
	}

	for _, bad := range []string{`[]`, `{"message": {}}`, `{"update_id": "x"}`, `{`} {
		if err := srv.EnqueueRaw(json.RawMessage(bad)); err == nil {
			t.Errorf("EnqueueRaw(%s) succeeded", bad)
		}
	}
}

func TestReplyAndMisc(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	_, userMsg := srv.SendText(aliceChat, alice, "where is my refund?")

	reply := tgbotapi.NewMessage(aliceChat.ID, "Looking into it")
	reply.ReplyToMessageID = userMsg.MessageID
	got, err := bot.Send(reply)
	if err != nil || got.ReplyToMessage == nil || got.ReplyToMessage.Text != "where is my refund?" {
		t.Fatalf("reply: %+v, %v", got, err)
	}
	if m := srv.Messages(aliceChat.ID)[0]; m.ReplyToMessageID != userMsg.MessageID || m.MessageID <= userMsg.MessageID {
		t.Errorf("SentMessage = %+v", m)
	}
	reply.ReplyToMessageID = 9999
	if _, err := bot.Send(reply); apiError(t, err).Message != "Bad Request: message to be replied not found" {
		t.Errorf("reply to unknown message: %v", err)
	}

	if _, err := bot.Request(tgbotapi.NewChatAction(aliceChat.ID, tgbotapi.ChatTyping)); err != nil {
		t.Errorf("sendChatAction: %v", err)
	}
	if _, err := bot.Request(tgbotapi.NewChatAction(aliceChat.ID, "dancing")); err == nil {
		t.Error("sendChatAction with an unknown action succeeded")
	}

	chat, err := bot.GetChat(tgbotapi.ChatInfoConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: aliceChat.ID}})
	if err != nil || chat.FirstName != "Alice" || chat.UserName != "alice" || chat.Type != "private" {
		t.Errorf("getChat = %+v, %v", chat, err)
	}

	cmds := []tgbotapi.BotCommand{{Command: "status", Description: "Refund status"}}
	if _, err := bot.Request(tgbotapi.NewSetMyCommandsWithScopeAndLanguage(tgbotapi.NewBotCommandScopeAllPrivateChats(), "ru", cmds...)); err != nil {
		t.Fatal(err)
	}
	scope := tgbotapi.NewBotCommandScopeAllPrivateChats()
	if got := srv.Commands(&scope, "ru"); !reflect.DeepEqual(got, cmds) {
		t.Errorf("Commands = %+v", got)
	}
	if got, err := bot.GetMyCommandsWithConfig(tgbotapi.NewGetMyCommandsWithScopeAndLanguage(scope, "ru")); err != nil || !reflect.DeepEqual(got, cmds) {
		t.Errorf("getMyCommands = %+v, %v", got, err)
	}
	if got := srv.Commands(nil, ""); got != nil {
		t.Errorf("default scope commands = %+v, want none", got)
	}
	_, err = bot.Request(tgbotapi.NewSetMyCommands(tgbotapi.BotCommand{Command: "Status", Description: "x"}))
	if e := apiError(t, err); e.Message != "Bad Request: BOT_COMMAND_INVALID" {
		t.Errorf("uppercase command: %q", e.Message)
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	const chats, perChat = 8, 10
	var wg sync.WaitGroup
	for c := range chats {
		chat := telegramfake.Chat{ID: int64(2000 + c)}
		user := telegramfake.User{ID: chat.ID, FirstName: "U"}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perChat {
				_, m := srv.SendText(chat, user, "hi")
				if _, err := bot.Send(tgbotapi.NewMessage(chat.ID, "hello")); err != nil {
					t.Error(err)
					return
				}
				srv.PressButton(chat, user, m.MessageID, "x")
				_ = srv.Messages(chat.ID)
			}
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for c := range chats {
		ms, err := srv.WaitMessages(ctxT(t), int64(2000+c), perChat)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if seen[m.MessageID] {
				t.Errorf("message id %d used twice", m.MessageID)
			}
			seen[m.MessageID] = true
		}
	}
	if p := srv.Pending(); p != 2*chats*perChat {
		t.Errorf("Pending = %d, want %d", p, 2*chats*perChat)
	}
}

var (
	teamChat = telegramfake.Chat{ID: -1001234567890, Type: "supergroup", Title: "Refund agents"}
	agent    = telegramfake.User{ID: 2001, FirstName: "Kim", LastName: "Lee", Username: "kim_cs", LanguageCode: "en"}
)

// onlyUpdate polls once and returns the single message the bot receives, as decoded from the wire.
func onlyUpdate(t *testing.T, bot *tgbotapi.BotAPI, updateID int) *tgbotapi.Message {
	t.Helper()
	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: updateID})
	if err != nil || len(ups) != 1 || ups[0].UpdateID != updateID || ups[0].Message == nil {
		t.Fatalf("GetUpdates = %+v, %v; want update %d with a message", ups, err, updateID)
	}
	return ups[0].Message
}

func TestReplyText(t *testing.T) {
	srv, bot := startWithChat(t)
	card := tgbotapi.NewMessage(aliceChat.ID, "Case R-1")
	card.ReplyMarkup = keyboard()
	sent, err := bot.Send(card)
	if err != nil {
		t.Fatal(err)
	}
	_, first := srv.SendText(aliceChat, alice, "first words")
	if _, err := bot.Send(tgbotapi.NewEditMessageTextAndMarkup(aliceChat.ID, sent.MessageID, "Case R-1: taken", keyboard())); err != nil {
		t.Fatal(err)
	}
	_, userReply := srv.ReplyText(aliceChat, alice, first.MessageID, "replying to myself")
	_, gone := srv.SendText(aliceChat, alice, "to be deleted")
	if _, err := bot.Request(tgbotapi.NewDeleteMessage(aliceChat.ID, gone.MessageID)); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: 1 << 30}); err != nil { // confirm the setup's updates
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		replyTo   int
		wantReply *tgbotapi.Message // nil: not a reply
	}{
		{"to the bot's message, as edited", sent.MessageID, &tgbotapi.Message{MessageID: sent.MessageID, Text: "Case R-1: taken"}},
		{"to a user's message", first.MessageID, &tgbotapi.Message{MessageID: first.MessageID, Text: "first words"}},
		{"to a reply: one level only", userReply.MessageID, &tgbotapi.Message{MessageID: userReply.MessageID, Text: "replying to myself"}},
		{"to an unknown message", 9999, nil},
		{"to a deleted message", gone.MessageID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ret := srv.ReplyText(aliceChat, alice, tt.replyTo, "/status R-1")
			m := onlyUpdate(t, bot, id)
			if !m.IsCommand() || m.Command() != "status" || m.From.ID != alice.ID {
				t.Errorf("message = %+v", m)
			}
			if tt.wantReply == nil {
				if m.ReplyToMessage != nil || ret.ReplyToMessage != nil {
					t.Errorf("reply_to_message = %+v, want none", m.ReplyToMessage)
				}
				return
			}
			rt := m.ReplyToMessage
			if rt == nil || rt.MessageID != tt.wantReply.MessageID || rt.Text != tt.wantReply.Text || rt.Chat.ID != aliceChat.ID ||
				rt.ReplyToMessage != nil {
				t.Fatalf("reply_to_message = %+v, want %+v", rt, tt.wantReply)
			}
			if ret.ReplyToMessage == nil || ret.ReplyToMessage.MessageID != rt.MessageID {
				t.Errorf("returned message's reply = %+v", ret.ReplyToMessage)
			}
		})
	}
	t.Run("the bot's message keeps its sender and buttons", func(t *testing.T) {
		id, _ := srv.ReplyText(aliceChat, alice, sent.MessageID, "ok")
		rt := onlyUpdate(t, bot, id).ReplyToMessage
		if rt == nil || rt.From == nil || rt.From.ID != telegramfake.BotID || rt.ReplyMarkup == nil || rt.EditDate == 0 {
			t.Errorf("reply_to_message = %+v", rt)
		}
	})
}

func TestReplyPhoto(t *testing.T) {
	srv, bot := startWithChat(t)
	sent, err := bot.Send(tgbotapi.NewMessage(aliceChat.ID, "Send a photo of the parcel"))
	if err != nil {
		t.Fatal(err)
	}
	data := pngBytes(t, 64, 48)
	id, ret := srv.ReplyPhoto(aliceChat, alice, sent.MessageID, data, "here")
	m := onlyUpdate(t, bot, id)
	if len(m.Photo) != 2 || m.Caption != "here" || m.ReplyToMessage == nil || m.ReplyToMessage.MessageID != sent.MessageID ||
		m.ReplyToMessage.Text != "Send a photo of the parcel" {
		t.Fatalf("message = %+v", m)
	}
	if ret.Photo[1].FileID != m.Photo[1].FileID {
		t.Errorf("returned %+v, delivered %+v", ret.Photo, m.Photo)
	}
	f, err := bot.GetFile(tgbotapi.FileConfig{FileID: m.Photo[1].FileID})
	if err != nil {
		t.Fatal(err)
	}
	if b := download(t, srv.FileURL(f.FilePath)); !bytes.Equal(b, data) {
		t.Error("downloaded bytes differ from the reply's photo")
	}
}

func TestForwardText(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	tests := []struct {
		name       string
		hidden     bool
		wantFrom   *tgbotapi.User
		wantSender string
	}{
		{"visible account", false, &tgbotapi.User{ID: agent.ID, FirstName: "Kim", LastName: "Lee", UserName: "kim_cs", LanguageCode: "en"}, ""},
		{"hidden account", true, nil, "Kim Lee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ret := srv.ForwardText(aliceChat, alice, agent, tt.hidden, "Pay the deposit to card 1234")
			m := onlyUpdate(t, bot, id)
			if m.From.ID != alice.ID || m.Chat.ID != aliceChat.ID || m.Text != "Pay the deposit to card 1234" {
				t.Errorf("message = %+v", m)
			}
			if !reflect.DeepEqual(m.ForwardFrom, tt.wantFrom) || m.ForwardSenderName != tt.wantSender {
				t.Errorf("forward_from = %+v, forward_sender_name = %q; want %+v, %q", m.ForwardFrom, m.ForwardSenderName, tt.wantFrom, tt.wantSender)
			}
			if m.ForwardDate == 0 || m.ForwardDate > m.Date || ret.ForwardDate != m.ForwardDate {
				t.Errorf("forward_date = %d, date = %d", m.ForwardDate, m.Date)
			}
		})
	}
}

func TestSupergroup(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	id, _ := srv.SendText(teamChat, agent, "/take 7")
	m := onlyUpdate(t, bot, id)
	if m.Chat.ID != teamChat.ID || !m.Chat.IsSuperGroup() || m.Chat.Title != "Refund agents" || m.Chat.FirstName != "" ||
		m.From.ID != agent.ID || m.From.LastName != "Lee" || m.Command() != "take" {
		t.Fatalf("message = %+v, chat = %+v", m, m.Chat)
	}

	card := tgbotapi.NewMessage(teamChat.ID, "Case R-7 needs an agent")
	card.ReplyMarkup = keyboard()
	card.ReplyToMessageID = m.MessageID
	sent, err := bot.Send(card)
	if err != nil {
		t.Fatal(err)
	}
	if sent.Chat.ID != teamChat.ID || sent.Chat.Type != "supergroup" || sent.ReplyToMessage == nil {
		t.Errorf("answer = %+v", sent)
	}
	data := pngBytes(t, 10, 10)
	_, photo := srv.SendPhoto(aliceChat, alice, data, "", "")
	if _, err := bot.Send(tgbotapi.NewPhoto(teamChat.ID, tgbotapi.FileID(photo.Photo[1].FileID))); err != nil {
		t.Errorf("photo by file_id into the supergroup: %v", err)
	}

	id, _ = srv.ReplyText(teamChat, agent, sent.MessageID, "on it")
	if rt := onlyUpdate(t, bot, id).ReplyToMessage; rt == nil || rt.MessageID != sent.MessageID || rt.Chat.ID != teamChat.ID {
		t.Errorf("reply_to_message = %+v", rt)
	}
	id, _ = srv.PressButton(teamChat, agent, sent.MessageID, "refund:yes")
	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: id})
	if err != nil || len(ups) != 1 || ups[0].CallbackQuery == nil || ups[0].CallbackQuery.Message.Chat.ID != teamChat.ID {
		t.Fatalf("GetUpdates = %+v, %v", ups, err)
	}
	if ms := srv.Messages(teamChat.ID); len(ms) != 2 || ms[0].ReplyToMessageID != m.MessageID || ms[1].FileKind != "photo" {
		t.Errorf("Messages = %+v", ms)
	}
	if got, err := bot.GetChat(tgbotapi.ChatInfoConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: teamChat.ID}}); err != nil || got.Type != "supergroup" {
		t.Errorf("getChat = %+v, %v", got, err)
	}
}

func TestResendFileByID(t *testing.T) {
	data := pngBytes(t, 30, 20)
	type sendFunc func(chatID int64, fileID string) tgbotapi.Chattable
	photo := func(caption string, replyTo int, allow bool) sendFunc {
		return func(chatID int64, fileID string) tgbotapi.Chattable {
			c := tgbotapi.NewPhoto(chatID, tgbotapi.FileID(fileID))
			c.Caption, c.ReplyToMessageID, c.AllowSendingWithoutReply = caption, replyTo, allow
			c.ReplyMarkup = keyboard()
			return c
		}
	}
	document := func(caption string, replyTo int, allow bool) sendFunc {
		return func(chatID int64, fileID string) tgbotapi.Chattable {
			c := tgbotapi.NewDocument(chatID, tgbotapi.FileID(fileID))
			c.Caption, c.ReplyToMessageID, c.AllowSendingWithoutReply = caption, replyTo, allow
			c.ReplyMarkup = keyboard()
			return c
		}
	}
	const (
		replyToOrigin = -1 // replaced by the user's message id
		missing       = 9999
	)
	tests := []struct {
		name        string
		doc         bool
		send        func(caption string, replyTo int, allow bool) sendFunc
		caption     string
		replyTo     int
		allow       bool
		wantErr     string
		wantReplyTo int // replyToOrigin, or 0
		wantKind    string
	}{
		{"photo replying", false, photo, "from buyer", replyToOrigin, true, "", replyToOrigin, "photo"},
		{"document replying", true, document, "from buyer", replyToOrigin, false, "", replyToOrigin, "document"},
		{"photo, reply target gone, sent anyway", false, photo, "x", missing, true, "", 0, "photo"},
		{"document, reply target gone, refused", true, document, "x", missing, false, "Bad Request: message to be replied not found", 0, ""},
		{"caption of 1024 characters", false, photo, strings.Repeat("a", 1024), 0, false, "", 0, "photo"},
		{"caption of 1025 characters", false, photo, strings.Repeat("a", 1025), 0, false, "Bad Request: message caption is too long", 0, ""},
		{"caption of 513 emoji is 1026 units", true, document, strings.Repeat("😀", 513), 0, false, "Bad Request: message caption is too long", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, bot := startWithChat(t)
			var fileID string
			var origin tgbotapi.Message
			if tt.doc {
				_, origin = srv.SendDocument(aliceChat, alice, []byte("%PDF-1.4"), "receipt.pdf", "", "", "")
				fileID = origin.Document.FileID
			} else {
				_, origin = srv.SendPhoto(aliceChat, alice, data, "", "")
				fileID = origin.Photo[len(origin.Photo)-1].FileID
			}
			replyTo := tt.replyTo
			if replyTo == replyToOrigin {
				replyTo = origin.MessageID
			}
			got, err := bot.Send(tt.send(tt.caption, replyTo, tt.allow)(aliceChat.ID, fileID))
			ms := srv.Messages(aliceChat.ID)
			if tt.wantErr != "" {
				if e := apiError(t, err); e.Code != 400 || e.Message != tt.wantErr {
					t.Errorf("got %d %q, want 400 %q", e.Code, e.Message, tt.wantErr)
				}
				if len(ms) != 0 {
					t.Errorf("a refused send stored %+v", ms)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantReplyTo := tt.wantReplyTo
			if wantReplyTo == replyToOrigin {
				wantReplyTo = origin.MessageID
			}
			if len(ms) != 1 {
				t.Fatalf("Messages = %+v", ms)
			}
			m := ms[0]
			if m.MessageID != got.MessageID || m.FileID != fileID || m.FileKind != tt.wantKind || m.Text != tt.caption ||
				m.ReplyToMessageID != wantReplyTo || len(m.Keyboard) != 1 {
				t.Errorf("SentMessage = %+v", m)
			}
			if (got.ReplyToMessage != nil) != (wantReplyTo != 0) || got.Caption != tt.caption {
				t.Errorf("answer = %+v", got)
			}
		})
	}
}

func TestReplyToMissingText(t *testing.T) {
	srv, bot := startWithChat(t)
	m := tgbotapi.NewMessage(aliceChat.ID, "answer")
	m.ReplyToMessageID = 9999
	m.AllowSendingWithoutReply = true
	got, err := bot.Send(m)
	if err != nil || got.ReplyToMessage != nil {
		t.Fatalf("send = %+v, %v", got, err)
	}
	if ms := srv.Messages(aliceChat.ID); len(ms) != 1 || ms[0].ReplyToMessageID != 0 || ms[0].FileKind != "" {
		t.Errorf("Messages = %+v", ms)
	}
}
