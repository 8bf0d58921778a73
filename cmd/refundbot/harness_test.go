package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund/postgres"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

const (
	testToken     = "123456:TEST-token"
	shopToken     = "shop-secret"
	waitFor       = 10 * time.Second
	testBotHandle = "refund_test_bot"
)

// env is one isolated deployment for a test: its own Redis prefix, its own
// PostgreSQL schema, and a fake Bot API.
type env struct {
	t      *testing.T
	fake   *telegramfake.Server
	config Config
	bot    *running
	// vars are the environment the config was read from, for running the
	// bot as a process (startProcess); proc is that process.
	vars map[string]string
	proc *replica
	// others are more replicas of the deployment (newReplicasEnv).
	others []*replica
	// logs holds every line the bot logged, at every level, so that each
	// test can check that no secret reached them (checkLogs).
	logs *lockedBuffer
	// phones are the contact phones of the orders the test loaded.
	phones []string
}

type running struct {
	main   *Main
	cancel context.CancelFunc
	done   chan error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith starts a deployment with extra environment settings.
func newEnvWith(t *testing.T, overrides map[string]string) *env {
	t.Helper()
	return newEnvSetup(t, overrides, nil)
}

// newEnvSetup is newEnvWith with a chance to prepare the fake Telegram
// (chats that must exist when the bot starts) before the bot starts.
func newEnvSetup(t *testing.T, overrides map[string]string, setup func(*telegramfake.Server)) *env {
	t.Helper()
	e := prepareEnv(t, overrides, setup)
	e.start()
	t.Cleanup(e.checkLogs)
	t.Cleanup(e.stop)
	return e
}

// prepareEnv is newEnvSetup without starting a bot.
func prepareEnv(t *testing.T, overrides map[string]string, setup func(*telegramfake.Server)) *env {
	t.Helper()
	t.Parallel()
	fake, err := telegramfake.Start(testToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fake.Close() })
	if setup != nil {
		setup(fake)
	}
	_, prefix := redistest.Open(t)
	schema := pgtest.NewSchema(t)
	dbURL := pgtest.DatabaseURL()
	vars := map[string]string{
		"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_ENDPOINT": fake.Endpoint(),
		"REDIS_URL": redistest.URL(), "REDIS_PREFIX": prefix, "DATABASE_URL": dbURL,
		"DATABASE_SCHEMA": schema, "HTTP_ADDR": "127.0.0.1:0", "SHOP_API_TOKEN": shopToken,
		// Paced through Redis like production, at limits no test reaches
		// unless it sets Telegram's own (the rate-limit tests do).
		"SEND_RATE_GLOBAL": "10000", "SEND_RATE_CHAT": "1000", "SEND_RATE_GROUP": "100000",
		// Tests drive whole dialogs faster than any buyer types.
		"FLOOD_LIMIT": "100000",
	}
	for k, v := range overrides {
		vars[k] = v
	}
	cfg, err := ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, fake: fake, config: cfg, vars: vars, logs: &lockedBuffer{}}
}

// checkLogs fails the test when the bot token or an order's contact phone
// appears in a line the bot logged: logs are read by more people than the
// token's owner, and a phone number is the buyer's ownership proof.
func (e *env) checkLogs() {
	logs := e.logs.String()
	for _, p := range append([]*replica{e.proc}, e.others...) {
		if p != nil {
			logs += p.logs.String()
		}
	}
	secrets := append([]string{testToken}, e.phones...)
	for _, line := range strings.Split(logs, "\n") {
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				e.t.Errorf("a log line holds a secret (%.6s…): %s", s, line)
			}
		}
	}
	if e.t.Failed() {
		e.t.Logf("bot logs:\n%s", tail(logs, 6000))
	}
}

// start runs the bot the way main does.
func (e *env) start() {
	e.t.Helper()
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := &Main{Config: e.config, Logger: logger, PollTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{main: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	select {
	case <-m.Ready():
	case err := <-r.done:
		e.t.Fatalf("bot did not start: %v", err)
	case <-time.After(waitFor):
		e.t.Fatal("bot did not start in time")
	}
	e.bot = r
}

// stop shuts the bot down and checks it did so cleanly.
func (e *env) stop() {
	if e.bot == nil {
		return
	}
	e.bot.cancel()
	select {
	case err := <-e.bot.done:
		if err != nil {
			e.t.Errorf("bot stopped with error: %v", err)
		}
	case <-time.After(waitFor):
		e.t.Error("bot did not stop in time")
	}
	e.bot = nil
}

// httpAddr is where the running bot, in this process or its own, serves
// the shop API.
func (e *env) httpAddr() string {
	if e.proc != nil {
		return e.proc.addr
	}
	return e.bot.main.HTTPAddr()
}

// startProcess runs the bot as its own process (this test binary, see
// TestMain), with the env's settings, so that a test can SIGKILL it; the
// bot running in the test's process, if any, is stopped first.
func (e *env) startProcess() *replica {
	e.t.Helper()
	e.stop()
	if e.proc != nil {
		_, _ = e.logs.Write([]byte(e.proc.logs.String()))
	}
	e.proc = startReplica(e.t, e.processVars())
	return e.proc
}

// processVars is the environment of a bot process of the env: its
// settings, and every other setting blank.
func (e *env) processVars() []string {
	var vars []string
	for k, v := range e.vars {
		if k != "HTTP_ADDR" {
			vars = append(vars, k+"="+v)
		}
	}
	// Settings the test does not give must not come from the machine.
	for _, k := range []string{"SHOP_TIMEZONE", "ORDER_ID_PATTERN", "SESSION_IDLE_TTL", "POLICY_FILE",
		"SHOP_WEBHOOK_URL", "SHOP_WEBHOOK_SECRET", "SWEEP_INTERVAL", "AGENT_CHAT_ID", "AGENT_USER_IDS",
		"AGENT_HOLD_TIMEOUT", "AGENT_REFRESH", "DESK_AUTO_ASSIGN", "DESK_AGENT_CAP", "DESK_HOURS", "DESK_RELAY", "WEBHOOK_URL", "WEBHOOK_SECRET", "CHAT_LEASE_TTL", "OUTBOX_LEASE", "SHUTDOWN_GRACE"} {
		if _, set := e.vars[k]; !set {
			vars = append(vars, k+"=")
		}
	}
	return vars
}

// restart is a deploy in the middle of whatever the buyers are doing.
func (e *env) restart() {
	e.stop()
	e.start()
}

// putOrder loads an order through the shop API, as a shop would. It was
// bought on 20 November and delivered an hour ago, so it is inside every
// category's refund window whenever the test runs.
func (e *env) putOrder(id string, buyerID int64, phone, product, category, paid string) {
	e.t.Helper()
	e.putOrderWith(id, buyerID, phone, product, category, paid, nil)
}

// putOrderWith is putOrder with some members replaced by raw JSON values.
func (e *env) putOrderWith(id string, buyerID int64, phone, product, category, paid string, members map[string]string) {
	e.t.Helper()
	e.phones = append(e.phones, phone)
	buyer := "null"
	if buyerID != 0 {
		buyer = fmt.Sprint(buyerID)
	}
	delivered := time.Now().Add(-time.Hour).UTC()
	purchased := time.Date(2026, 11, 20, 6, 5, 0, 0, time.UTC)
	if delivered.Before(purchased) {
		purchased = delivered
	}
	order := map[string]string{
		"id": fmt.Sprintf("%q", id), "buyer_telegram_id": buyer, "contact_phone": fmt.Sprintf("%q", phone),
		"product": fmt.Sprintf("%q", product), "category": fmt.Sprintf("%q", category),
		"amount_paid": fmt.Sprintf("%q", paid), "list_price": fmt.Sprintf("%q", paid), "currency": `"CNY"`,
		"payment_method": `"alipay"`, "purchased_at": fmt.Sprintf("%q", purchased.Format(time.RFC3339)),
		"delivered_at": fmt.Sprintf("%q", delivered.Format(time.RFC3339)), "used": "false",
	}
	for k, v := range members {
		order[k] = v
	}
	var parts []string
	for k, v := range order {
		parts = append(parts, fmt.Sprintf("%q:%s", k, v))
	}
	body := "{" + strings.Join(parts, ",") + "}"
	req, err := http.NewRequest(http.MethodPut, "http://"+e.httpAddr()+"/api/v1/orders/"+id, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+shopToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("PUT order %s: status %d: %s", id, resp.StatusCode, msg)
	}
}

// db opens the test's schema to check what the bot stored.
func (e *env) db() *postgres.DB {
	e.t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.DatabaseURL(), postgres.WithSchema(e.config.DatabaseSchema))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(db.Close)
	return db
}

// buyer is a Telegram user in a private chat with the bot.
type buyer struct {
	e    *env
	user telegramfake.User
	chat telegramfake.Chat
	seen int // bot messages already looked at
}

func (e *env) buyer(id int64, lang string) *buyer {
	return &buyer{e: e, user: telegramfake.User{ID: id, FirstName: fmt.Sprintf("Buyer%d", id), LanguageCode: lang},
		chat: telegramfake.Chat{ID: id, Type: "private"}}
}

func (b *buyer) say(text string) { b.e.fake.SendText(b.chat, b.user, text) }

// expect waits for the next bot message containing want and returns it;
// messages before it are skipped.
func (b *buyer) expect(want string) telegramfake.SentMessage {
	b.e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var found *telegramfake.SentMessage
	err := b.e.fake.WaitFor(ctx, func(s *telegramfake.Server) bool {
		msgs := s.Messages(b.chat.ID)
		for i := b.seen; i < len(msgs); i++ {
			if strings.Contains(msgs[i].Text, want) {
				m := msgs[i]
				found = &m
				b.seen = i + 1
				return true
			}
		}
		return false
	})
	if err != nil {
		var got []string
		for _, m := range b.e.fake.Messages(b.chat.ID)[b.seen:] {
			got = append(got, m.Text)
		}
		b.e.t.Fatalf("no bot message containing %q; new messages: %q", want, got)
	}
	return *found
}

// expectAll waits for a bot message containing each of wants, in any
// order: messages from independent workers (a case's notice, the agents'
// queue) may overtake each other. Messages before the last found are
// skipped.
func (b *buyer) expectAll(wants ...string) {
	b.e.t.Helper()
	start, last := b.seen, b.seen
	for _, want := range wants {
		b.seen = start
		b.expect(want)
		last = max(last, b.seen)
	}
	b.seen = last
}

// quiet checks that the bot sends nothing more to the chat for a moment.
func (b *buyer) quiet() {
	b.e.t.Helper()
	time.Sleep(700 * time.Millisecond)
	if msgs := b.e.fake.Messages(b.chat.ID); len(msgs) > b.seen {
		b.e.t.Fatalf("unexpected bot message %q", msgs[b.seen].Text)
	}
}

// press presses the button whose text contains label on message m.
func (b *buyer) press(m telegramfake.SentMessage, label string) string {
	b.e.t.Helper()
	for _, row := range m.Keyboard {
		for _, btn := range row {
			if strings.Contains(btn.Text, label) {
				_, id := b.e.fake.PressButton(b.chat, b.user, m.MessageID, btn.CallbackData)
				return id
			}
		}
	}
	b.e.t.Fatalf("no button %q on message %q (%v)", label, m.Text, m.Keyboard)
	return ""
}

func (b *buyer) data(m telegramfake.SentMessage, label string) string {
	for _, row := range m.Keyboard {
		for _, btn := range row {
			if strings.Contains(btn.Text, label) {
				return btn.CallbackData
			}
		}
	}
	b.e.t.Fatalf("no button %q on message %q", label, m.Text)
	return ""
}

// answer waits for the answer to a callback query and returns its text.
func (e *env) answer(callbackID string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var text string
	err := e.fake.WaitFor(ctx, func(s *telegramfake.Server) bool {
		for _, a := range s.CallbackAnswers() {
			if a.CallbackQueryID == callbackID {
				text = a.Text
				return true
			}
		}
		return false
	})
	if err != nil {
		e.t.Fatalf("callback %s was never answered", callbackID)
	}
	return text
}
