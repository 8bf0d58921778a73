package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
	"github.com/refundbot/refundbot/refund/shopwebhook"
)

// Fault tests: the bot meets a misbehaving Telegram, a database or Redis
// that goes away, and a stop in the middle of a delivery. Each runs the
// whole bot, as the other end-to-end tests do.

// apiMethods are the Bot API calls a buyer's dialog makes.
var apiMethods = []string{"getUpdates", "sendMessage", "sendPhoto", "sendDocument", "answerCallbackQuery",
	"editMessageReplyMarkup", "editMessageText"}

// apiCalls counts every call of apiMethods the fake received.
func (e *env) apiCalls() int {
	n := 0
	for _, m := range apiMethods {
		n += e.fake.Calls(m)
	}
	return n
}

// pollAllowance is how many getUpdates calls a bot that is not spinning
// makes in d: a long poll lasts PollTimeout (1 s here) when nothing comes,
// so one a second, doubled for scheduling slack, plus a few.
func pollAllowance(d time.Duration) int { return 2*int(d/time.Second) + 4 }

// noRepeats fails the test when the bot sent the same text to the chat
// twice; the dialogs here are built so that every answer differs.
func (b *buyer) noRepeats() {
	b.e.t.Helper()
	seen := map[string]int{}
	for i, m := range b.e.fake.Messages(b.chat.ID) {
		if j, dup := seen[m.Text]; dup {
			b.e.t.Errorf("message %d repeats message %d: %q", i, j, m.Text)
		}
		seen[m.Text] = i
	}
}

func TestTelegramFaultsDuringADialogLoseAndRepeatNothing(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM71000000001", 14001, "13800000001", "王者荣耀点卡 100元", "game_card", "95.00")
	b := e.buyer(14001, "zh-hans")
	began := time.Now()
	failed := map[string]int{}
	fail := func(method string, code, retryAfter int) {
		e.fake.FailNext(method, 1, code, retryAfter)
		failed[method]++
	}
	presses := 0
	press := func(m telegramfake.SentMessage, label string) {
		b.press(m, label)
		presses++
	}

	// The first reply meets a 429 with retry_after, then a 500.
	fail("sendMessage", http.StatusTooManyRequests, 1)
	fail("sendMessage", http.StatusInternalServerError, 0)
	b.say("/refund KM71000000001")
	reasons := b.expect("请选择退款原因")

	// Polling fails: a 500, then a 429 with retry_after.
	fail("getUpdates", http.StatusInternalServerError, 0)
	fail("getUpdates", http.StatusTooManyRequests, 1)
	press(reasons, "卡密无效")
	statement := b.expect("时间 + 事件 + 诉求")

	// Slow answers: the send has taken effect when its answer comes late.
	e.fake.DelayNext("sendMessage", 1, 300*time.Millisecond)
	e.fake.DelayNext("getUpdates", 1, 300*time.Millisecond)
	press(statement, "使用这段陈述")
	b.expect("请上传凭证")
	e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG redeem error"), "", "")
	evidence := b.expect("已收到 1/10")

	// The button's answer fails once.
	fail("answerCallbackQuery", http.StatusBadGateway, 0)
	press(evidence, "上传完成")
	summary := b.expect("请核对")

	press(summary, "提交申请")
	number := caseNumber.FindString(b.expect("退款申请已提交").Text)
	b.expect(number + "（订单 KM71000000001）已通过审核") // through the outbox
	b.quiet()
	elapsed := time.Since(began)

	b.noRepeats()
	msgs := e.fake.Messages(b.chat.ID)
	if len(msgs) != 7 {
		t.Errorf("the buyer got %d messages, want 7 (reasons, statement, evidence, received, summary, submitted, approved)", len(msgs))
	}
	// Every send that failed was made again once, and nothing else was.
	if got, want := e.fake.Calls("sendMessage"), len(msgs)+failed["sendMessage"]; got != want {
		t.Errorf("sendMessage called %d times for %d messages and %d injected failures", got, len(msgs), failed["sendMessage"])
	}
	answers := map[string]int{}
	for _, a := range e.fake.CallbackAnswers() {
		answers[a.CallbackQueryID]++
	}
	if len(answers) != presses {
		t.Errorf("%d of %d button presses answered", len(answers), presses)
	}
	for id, n := range answers {
		if n != 1 {
			t.Errorf("callback %s answered %d times", id, n)
		}
	}
	if got, want := e.fake.Calls("answerCallbackQuery"), presses+failed["answerCallbackQuery"]; got != want {
		t.Errorf("answerCallbackQuery called %d times, want %d", got, want)
	}
	if got, max := e.fake.Calls("editMessageReplyMarkup"), presses+failed["editMessageReplyMarkup"]; got > max {
		t.Errorf("editMessageReplyMarkup called %d times, want at most %d", got, max)
	}
	// No tight loop: the polls are the updates' batches, the failed ones
	// again, and the idle long polls.
	if got, max := e.fake.Calls("getUpdates"), 2*(2+presses)+2*failed["getUpdates"]+pollAllowance(elapsed); got > max {
		t.Errorf("getUpdates called %d times in %v, want at most %d", got, elapsed.Round(time.Millisecond), max)
	}
}

// proxied returns rawURL with its host:port replaced by a proxy to it.
func proxied(t *testing.T, rawURL, defaultPort string) (string, *proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	p := startProxy(t, target)
	u.Host = p.Addr()
	return u.String(), p
}

// count runs a count(*) query in the test's schema, going around the bot,
// on a connection of its own that is closed at once (tests poll this).
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.DatabaseURL())
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{e.config.DatabaseSchema}.Sanitize()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// countCases counts the cases the bot stored.
func (e *env) countCases() int { return e.count("SELECT count(*) FROM cases") }

// toSummary walks the buyer from the order to the summary.
func (b *buyer) toSummary(orderID string) telegramfake.SentMessage {
	b.e.t.Helper()
	b.say("我要退款 订单号" + orderID + " 卡密无效")
	b.press(b.expect("时间 + 事件 + 诉求"), "使用这段陈述")
	b.expect("请上传凭证")
	b.e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG redeem error of "+orderID), "", "")
	b.press(b.expect("已收到 1/10"), "上传完成")
	return b.expect("请核对")
}

// refundToAlipay submits a refund of an unused game card (approved in the
// fast lane), chooses the original route, and returns the case number.
func (b *buyer) refundToAlipay(orderID string) string {
	b.e.t.Helper()
	b.press(b.toSummary(orderID), "提交申请")
	number := caseNumber.FindString(b.expect("退款申请已提交").Text)
	b.press(b.expect(number+"（订单 "+orderID+"）已通过审核"), "原路退回支付宝")
	b.expect("将在 1-2 个工作日内原路退回支付宝")
	return number
}

func TestDatabaseDownAtSubmitKeepsTheRequest(t *testing.T) {
	dbURL, pg := proxied(t, pgtest.DatabaseURL(), "5432")
	e := newEnvWith(t, map[string]string{"DATABASE_URL": dbURL})
	e.putOrder("KM72000000001", 15001, "13800000001", "网易点卡 50元", "game_card", "48.00")
	b := e.buyer(15001, "zh-hans")
	summary := b.toSummary("KM72000000001")

	pg.Cut()
	b.press(summary, "提交申请")
	retry := b.expect("暂时无法提交，您填写的内容都已保存")
	if n := e.countCases(); n != 0 {
		t.Fatalf("%d cases while the database was down", n)
	}
	// The buyer's place is kept: a typed message is answered in the
	// summary step, not as a fresh start.
	b.say("好的")
	again := b.expect("请核对")
	for _, want := range []string{"KM72000000001", "¥48.00", "卡密无效/已被使用"} {
		if !strings.Contains(again.Text, want) {
			t.Errorf("summary after the failed submit lacks %q:\n%s", want, again.Text)
		}
	}

	pg.Restore()
	// Presses right after the database is back may each still meet one of
	// the pooled connections the cut killed (pgxpool checks only
	// connections idle for over a second): the buyer is asked again, at
	// most once per pooled connection.
	pool := max(4, runtime.NumCPU()) // pgxpool's default MaxConns
	for attempt := 1; ; attempt++ {
		b.press(retry, "提交申请")
		m := b.expectOneOf("退款申请已提交", "暂时无法提交")
		if strings.Contains(m.Text, "退款申请已提交") {
			if attempt > 1 {
				t.Logf("submitted at press %d after the database came back", attempt)
			}
			break
		}
		if attempt > pool {
			t.Fatalf("submit still fails %d presses after the database came back", attempt)
		}
		retry = m
	}
	b.expect("已通过审核")
	// The old summary's Submit, pressed late, makes no second case.
	if got := e.answer(b.press(summary, "提交申请")); !strings.Contains(got, "过期") {
		t.Errorf("the old summary's Submit answered %q", got)
	}
	b.quiet()
	if n := e.countCases(); n != 1 {
		t.Fatalf("%d cases after the database came back, want 1", n)
	}
}

// expectOneOf waits for the next bot message containing any of wants.
func (b *buyer) expectOneOf(wants ...string) telegramfake.SentMessage {
	b.e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var found *telegramfake.SentMessage
	err := b.e.fake.WaitFor(ctx, func(s *telegramfake.Server) bool {
		msgs := s.Messages(b.chat.ID)
		for i := b.seen; i < len(msgs); i++ {
			for _, want := range wants {
				if strings.Contains(msgs[i].Text, want) {
					m := msgs[i]
					found = &m
					b.seen = i + 1
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		b.e.t.Fatalf("no bot message containing any of %q", wants)
	}
	return *found
}

// dropRedisPrefix deletes every key of the deployment, as a Redis restarted
// without persistence has lost them.
func (e *env) dropRedisPrefix() {
	e.t.Helper()
	opts, err := redis.ParseURL(redistest.URL())
	if err != nil {
		e.t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, e.config.RedisPrefix+"*", 500).Iterator()
	n := 0
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			e.t.Fatal(err)
		}
		n++
	}
	if err := iter.Err(); err != nil {
		e.t.Fatal(err)
	}
	if n == 0 {
		e.t.Fatal("no Redis keys under the deployment's prefix: the session was never stored?")
	}
}

func TestRedisRestartMidDialogStartsOver(t *testing.T) {
	redisURL, rd := proxied(t, redistest.URL(), "6379")
	e := newEnvWith(t, map[string]string{"REDIS_URL": redisURL})
	e.putOrder("KM73000000001", 16001, "13800000001", "Steam 充值卡 100", "game_card", "100.00")
	b := e.buyer(16001, "en")
	b.say("/refund KM73000000001")
	reasons := b.expect("Why do you want a refund?")
	b.press(reasons, "Wrong face value")
	statement := b.expect("time + event + request")

	// Redis goes down. A message meanwhile is left unconfirmed, the buyer
	// is told it will be handled when the bot is back, and the bot neither
	// crashes nor spins. (Quiet first: the turn that sent the statement
	// prompt saves its session just after sending it.)
	b.quiet()
	rd.Cut()
	calls, began := e.apiCalls(), time.Now()
	b.say("Bought a 100 card, it credited 50.")
	b.expect("will be handled automatically as soon as we are back")
	b.quiet()
	quietFor := time.Since(began)
	if n := e.apiCalls() - calls; n > 3+pollAllowance(quietFor) {
		t.Errorf("%d Bot API calls in %v with Redis down: the bot spins", n, quietFor.Round(time.Millisecond))
	}

	// It comes back empty. The message is handled then, in a dialog that
	// Redis no longer knows: it is read as a new buyer's words.
	e.dropRedisPrefix()
	rd.Restore()
	calls, began = e.apiCalls(), time.Now()
	b.expect("I can help you")
	// The statement step's button belongs to the lost dialog.
	if got := e.answer(b.press(statement, "Use this statement")); !strings.Contains(got, "That button has expired") {
		t.Errorf("the lost dialog's button answered %q", got)
	}
	b.say("hello")
	b.expect("I can help you") // idle, not stuck in a step it no longer knows
	if n := e.countCases(); n != 0 {
		t.Fatalf("%d cases after the session was lost", n)
	}
	if n, d := e.apiCalls()-calls, time.Since(began); n > 8+pollAllowance(d) {
		t.Errorf("%d Bot API calls in %v after Redis came back: the bot spins", n, d.Round(time.Millisecond))
	}

	// The buyer starts again and gets to the end.
	b.say("/refund KM73000000001")
	b.press(b.expect("Why do you want a refund?"), "Wrong face value")
	b.press(b.expect("time + event + request"), "Use this statement")
	b.press(b.expect("Please upload evidence"), "Done uploading")
	b.press(b.expect("Please check your refund request"), "Submit")
	b.expect("Your refund request is submitted")
	if n := e.countCases(); n != 1 {
		t.Fatalf("%d cases, want 1", n)
	}
}

// stopWithin stops the bot and fails the test when it takes longer than
// d. A bot stuck past d is unblocked by closing the fake Telegram, so the
// test ends rather than hangs; the deployment is then unusable.
func (e *env) stopWithin(d time.Duration, why string) {
	e.t.Helper()
	e.bot.cancel()
	select {
	case err := <-e.bot.done:
		if err != nil {
			e.t.Errorf("bot stopped with error: %v", err)
		}
		e.bot = nil
		return
	case <-time.After(d):
	}
	e.fake.Close() // ends the fake's delays, so the stuck call returns
	<-e.bot.done
	e.bot = nil
	e.t.Fatalf("the bot took more than %v to stop: %s", d, why)
}

// within polls cond until it holds, failing the test with what as the
// reason when d passes first.
func (e *env) within(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s (waited %v)", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// undelivered counts the outbox items of kind not yet delivered.
func (e *env) undelivered(kind refund.OutboxKind) int {
	return e.count("SELECT count(*) FROM outbox WHERE kind = $1 AND delivered_at IS NULL", string(kind))
}

// stopGrace bounds a stop while a delivery hangs: the outbox's Deliver
// must honour its context, so nothing should hold the stop up for long.
const stopGrace = 3 * time.Second

// KNOWN FAILING (found by this test; reported to the lead, not fixed
// here since the fixes are outside the tests). Two causes:
//
//  1. bot.Sender calls the Bot API through tgbotapi's MakeRequest, which
//     takes no context: the ctx given to Send is only looked at between
//     retries, so outbox.Deliver's "must honour ctx" does not hold for
//     notices. A notice whose sendMessage hangs holds the notice worker,
//     and serve's core.wait, until the HTTP client's timeout
//     (requestTimeout + pollTimeout: 16 s here, 45 s in production), and
//     the stop waits that long. The same holds for the poller's replies and
//     shutdownGrace. Fix: make each call with the caller's ctx (an
//     http.Request built with NewRequestWithContext in bot.Connection in
//     place of MakeRequest; at least, return on ctx.Done and let
//     conn.Close end the call).
//  2. With that fixed, the interrupted notice waits out its outbox lease
//     (one minute) before the restarted bot sends it: see the payout test
//     below.
func TestNoticeInterruptedByAStopIsDeliveredAfterRestart(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM74000000001", 17001, "13800000001", "王者荣耀点卡 100元", "game_card", "95.00")
	b := e.buyer(17001, "zh-hans")

	// The first review's notice is the send after "submitted": make it
	// hang, as a send to Telegram does when the network goes away.
	var once sync.Once
	noticeSent := make(chan struct{})
	e.fake.Subscribe(func(m telegramfake.SentMessage) {
		if m.ChatID != b.chat.ID {
			return
		}
		if strings.Contains(m.Text, "退款申请已提交") {
			once.Do(func() { e.fake.DelayNext("sendMessage", 1, time.Minute) })
		}
		if strings.Contains(m.Text, "已通过审核") {
			select {
			case <-noticeSent:
			default:
				close(noticeSent)
			}
		}
	})
	b.press(b.toSummary("KM74000000001"), "提交申请")
	number := caseNumber.FindString(b.expect("退款申请已提交").Text)
	select {
	case <-noticeSent:
	case <-time.After(waitFor):
		t.Fatal("the approval notice was never sent")
	}

	// A deploy while the notice's send hangs.
	e.stopWithin(stopGrace, "a hung Telegram send holds the notice outbox, which ignores the stop")
	e.start()
	e.within(waitFor, "the interrupted notice is still undelivered after the restart", func() bool {
		return e.undelivered(refund.OutboxNotice) == 0
	})
	notices := 0
	for _, m := range e.fake.Messages(b.chat.ID) {
		if strings.Contains(m.Text, number+"（订单 KM74000000001）已通过审核") {
			notices++
		}
	}
	if notices == 0 {
		t.Fatal("the approval notice never reached the buyer")
	}
	// The buyer can act on it.
	b.press(b.expect(number+"（订单 KM74000000001）已通过审核"), "退到平台余额")
	b.expect("已退到您的平台余额")
}

// hangingShop is a shop whose webhook hangs on the first payout request
// until the bot gives up on it, and takes every later one.
type hangingShop struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []string // Idempotency-Key of every request, the hung one included
	payouts []refund.PayoutRequest
	hung    chan struct{} // closed when the first request arrived
	aborted chan struct{} // closed when the bot gave up on it
}

func startHangingShop(t *testing.T, secret string) *hangingShop {
	s := &hangingShop{hung: make(chan struct{}), aborted: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !shopwebhook.Verify([]byte(secret), r.Header.Get(shopwebhook.HeaderTimestamp), body,
			r.Header.Get(shopwebhook.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.keys = append(s.keys, r.Header.Get(shopwebhook.HeaderIdempotencyKey))
		first := len(s.keys) == 1
		s.mu.Unlock()
		if first {
			close(s.hung)
			<-r.Context().Done()
			close(s.aborted)
			return
		}
		var p refund.PayoutRequest
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.payouts = append(s.payouts, p)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hangingShop) seen() (keys []string, payouts []refund.PayoutRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...), append([]refund.PayoutRequest(nil), s.payouts...)
}

// KNOWN FAILING (found by this test; reported to the lead): when a stop
// interrupts a delivery, outbox.Worker.deliver leaves the item leased for
// Config.Lease (one minute), so the restarted bot posts the payout again
// only a minute later (measured: 60.2 s), and every deploy delays the
// payouts and notices in flight by up to a minute. This is the outbox's
// documented choice, and refund/outbox's TestLeaseExpiryRedelivers and
// TestRunStopsOnCancel/while_delivering assert it, treating a cancelled
// context as a crash. Proposed fix: on a stop, hand the interrupted item
// (and the rest of the claimed batch) back with RetryOutbox(now) under the
// detached record context — it charges no backoff, and the Idempotency-Key
// keeps the repeat harmless — and model a crash in those two tests by a
// Deliver that never returns instead. Checked in a scratch copy: with that
// change and fix 1 above, this test and the notice test pass.
func TestPayoutInterruptedByAStopIsPostedAgainWithTheSameKey(t *testing.T) {
	shop := startHangingShop(t, "hook-secret")
	e := newEnvWith(t, map[string]string{"SHOP_WEBHOOK_URL": shop.URL, "SHOP_WEBHOOK_SECRET": "hook-secret"})
	e.putOrder("KM75000000001", 18001, "13800000001", "王者荣耀点卡 100元", "game_card", "95.00")
	b := e.buyer(18001, "zh-hans")
	number := b.refundToAlipay("KM75000000001")
	select {
	case <-shop.hung:
	case <-time.After(waitFor):
		t.Fatal("the payout was never posted to the shop")
	}

	// A deploy while the shop hangs on the payout.
	e.stopWithin(stopGrace, "a hung shop webhook holds the payout outbox")
	select {
	case <-shop.aborted:
	case <-time.After(waitFor):
		t.Fatal("the stopped bot never gave up its request to the shop")
	}
	e.start()
	var keys []string
	var payouts []refund.PayoutRequest
	e.within(waitFor, "the interrupted payout was not posted again after the restart", func() bool {
		keys, payouts = shop.seen()
		return len(payouts) > 0
	})
	if len(keys) < 2 || keys[1] != keys[0] || payouts[0].PayoutID != keys[0] || payouts[0].Case != number ||
		payouts[0].Amount != "95.00" {
		t.Fatalf("shop got keys %q and payouts %+v", keys, payouts)
	}
	waitUntil(t, func() bool { return e.undelivered(refund.OutboxPayout) == 0 })
	e.shopPost(t, "/api/v1/payouts/"+payouts[0].PayoutID+"/confirm", "{}", http.StatusOK)
	b.expect(number + "（订单 KM75000000001）¥95.00 已原路退回支付宝")
}

// TestUnreachableBotAPIKeepsTheTokenOutOfTheLogs cuts the Bot API's
// connections, which makes Go's HTTP client quote the request URL, token
// and all, in its error: a poll and every attempt at a reply fail that
// way. checkLogs, run for every env, then finds no token in any line.
func TestUnreachableBotAPIKeepsTheTokenOutOfTheLogs(t *testing.T) {
	e := newEnv(t)
	b := e.buyer(14101, "en")
	e.fake.DropNext("getUpdates", 1)
	e.fake.DropNext("sendMessage", maxSendAttemptsForTest)
	b.say("/help")
	b.expect("/status")
	e.within(waitFor, "the dropped calls to be logged", func() bool {
		logs := e.logs.String()
		return strings.Contains(logs, "get updates") && strings.Contains(logs, "send failed")
	})
	if !strings.Contains(e.logs.String(), "<token>") {
		t.Errorf("the failed calls' URLs were not logged redacted:\n%s", tail(e.logs.String(), 3000))
	}
}

// maxSendAttemptsForTest is how often the sender tries a call before it
// gives up (bot.maxSendAttempts).
const maxSendAttemptsForTest = 5

// TestOutageLeavesEveryUpdateToBeHandledLater takes Redis or PostgreSQL
// away while buyers write, in polling and in webhook mode. No update may be
// confirmed to Telegram unhandled: each buyer is told once that their
// messages will be handled when the bot is back, and then every message
// is answered.
func TestOutageLeavesEveryUpdateToBeHandledLater(t *testing.T) {
	for _, server := range []string{"redis", "postgres"} {
		for _, mode := range []string{"polling", "webhook"} {
			t.Run(server+"/"+mode, func(t *testing.T) {
				vars := map[string]string{}
				var p *proxy
				switch server {
				case "redis":
					vars["REDIS_URL"], p = proxied(t, redistest.URL(), "6379")
				case "postgres":
					vars["DATABASE_URL"], p = proxied(t, pgtest.DatabaseURL(), "5432")
				}
				var setup func(*telegramfake.Server)
				if mode == "webhook" {
					addr := freeAddr(t)
					vars["HTTP_ADDR"], vars["WEBHOOK_URL"], vars["WEBHOOK_SECRET"] = addr, "http://"+addr+"/tg/hook", "outage-test"
					setup = (*telegramfake.Server).AllowHTTPWebhooks
				}
				e := newEnvSetup(t, vars, setup)
				const chats, messages = 8, 3
				buyers := make([]*buyer, chats)
				for i := range buyers {
					buyers[i] = e.buyer(int64(14200+i), "en")
				}
				p.Cut()
				for round := range messages {
					for i, b := range buyers {
						b.say(fmt.Sprintf("/status KM7900000%04d", 10*i+round))
					}
				}
				for _, b := range buyers {
					b.expect("will be handled automatically")
				}
				time.Sleep(500 * time.Millisecond) // redeliveries meet the outage too
				p.Restore()
				for i, b := range buyers {
					for round := range messages {
						b.expect(fmt.Sprintf("refund request for order KM7900000%04d", 10*i+round))
					}
				}
				for _, b := range buyers {
					b.quiet()
					told := 0
					for _, m := range e.fake.Messages(b.chat.ID) {
						if strings.Contains(m.Text, "will be handled automatically") {
							told++
						}
					}
					if told != 1 {
						t.Errorf("chat %d was told of the outage %d times, want once", b.chat.ID, told)
					}
				}
			})
		}
	}
}
