package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

func TestOwnershipProofAndLockout(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM30000000001", 0, "13912345678", "腾讯视频VIP 月卡", "membership", "25.00")            // unbound
	e.putOrder("KM30000000002", 4242, "13700001111", "Windows 11 专业版密钥", "software_key", "88.00") // someone else's
	b := e.buyer(3001, "zh-hans")

	// Unbound order with the right digits proceeds.
	b.say("/refund KM30000000001")
	b.expect("手机号的后 4 位")
	b.say("12")
	b.expect("请只发送 4 位数字")
	b.say("5678")
	b.expect("请选择退款原因")
	b.say("/cancel")
	b.expect("已取消")

	// Someone else's order with the right digits, and an order that does
	// not exist, get the very same answer as a wrong guess.
	var failures []string
	for _, attempt := range []struct{ order, digits string }{
		{"KM30000000002", "1111"}, {"KM39999999999", "1111"}, {"KM30000000001", "0000"},
	} {
		b.say("/refund " + attempt.order)
		b.expect("手机号的后 4 位")
		b.say(attempt.digits)
		m := b.expect("不匹配")
		failures = append(failures, strings.Split(m.Text, "还可尝试")[0])
	}
	if failures[0] != failures[1] || failures[1] != failures[2] {
		t.Fatalf("failure answers differ, so order IDs can be probed: %q", failures)
	}

	// Three failures on one order lock it for an hour, even with the right
	// digits; other orders and other users are not locked.
	for range 2 {
		b.say("/refund KM30000000001")
		b.expect("手机号的后 4 位")
		b.say("0000")
	}
	b.expect("已锁定，请 60 分钟后再试")
	b.say("/refund KM30000000001")
	b.expect("已锁定")
	other := e.buyer(3002, "zh-hans")
	other.say("/refund KM30000000001")
	other.expect("手机号的后 4 位")
	other.say("5678")
	other.expect("请选择退款原因")
}

func TestStatusOnlyForTheCaseOwner(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM40000000001", 5001, "13800000001", "网易点卡 50元", "game_card", "48.00")
	owner := e.buyer(5001, "zh-hans")
	owner.say("我要退款 KM40000000001 重复扣款")
	owner.press(owner.expect("时间 + 事件 + 诉求"), "使用这段陈述")
	// A duplicate charge needs no upload: the platform checks its records.
	owner.press(owner.expect("无需上传，平台会核对扣款记录"), "上传完成")
	owner.press(owner.expect("请核对"), "提交申请")
	number := caseNumber.FindString(owner.expect("已提交").Text)

	stranger := e.buyer(5002, "zh-hans")
	stranger.say(number)
	real := stranger.expect("没有找到")
	stranger.say("R-999999")
	fake := stranger.expect("没有找到")
	if strings.ReplaceAll(real.Text, number, "X") != strings.ReplaceAll(fake.Text, "R-999999", "X") {
		t.Fatalf("a stranger can tell a real case from a missing one:\n%q\n%q", real.Text, fake.Text)
	}
	// An order ID with no case of theirs offers to start a refund, whether
	// or not someone else has a case for it.
	stranger.say("KM40000000001")
	offer := stranger.expect("还没有您的退款申请")
	stranger.press(offer, "为此订单申请退款")
	stranger.expect("手机号的后 4 位")
}

func TestScamMessageWarnsAndKeepsTheStep(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM50000000001", 6001, "13800000001", "QQ会员 月卡", "membership", "10.00")
	b := e.buyer(6001, "zh-hans")
	b.say("/refund KM50000000001")
	reasons := b.expect("请选择退款原因")
	b.say("有个客服让我加QQ，说交保证金才能解冻退款")
	b.expect("防骗提醒")
	b.press(reasons, "会员未生效") // the step is still the reason step
	b.expect("时间 + 事件 + 诉求")

	// In the statement step the words are kept until the buyer decides.
	b.say("11月20日开通会员未生效，还有人冒充客服找我要验证码，申请退款")
	b.expect("防骗提醒")
	keep := b.expect("请点下面的按钮确认")
	b.press(keep, "仍用这段话")
	b.press(b.expect("请上传凭证"), "上传完成")
	summary := b.expect("请核对")
	if !strings.Contains(summary.Text, "冒充客服找我要验证码") {
		t.Fatalf("the kept statement was lost: %q", summary.Text)
	}
}

func TestRestartInTheMiddleOfADialog(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM60000000001", 7001, "13800000001", "Steam 充值卡 100", "game_card", "100.00")
	b := e.buyer(7001, "en")
	b.say("/refund KM60000000001")
	reasons := b.expect("Why do you want a refund?")
	b.press(reasons, "Wrong face value")
	b.expect("time + event + request")

	e.restart()

	b.say("Bought a 100 card on Nov 20, it credited 50. Please refund in full.")
	ev := b.expect("Please upload evidence")
	e.fake.SendDocument(b.chat, b.user, []byte("%PDF-1.4 receipt"), "receipt.pdf", "application/pdf", "", "")
	b.press(b.expect("Received 1/10"), "Done uploading")
	_ = ev
	e.restart()
	summary := b.expect("Please check your refund request")
	b.press(summary, "Submit")
	b.expect("Your refund request is submitted")
}

func TestDuplicateUpdateIsHandledOnce(t *testing.T) {
	e := newEnv(t)
	b := e.buyer(8001, "en")
	update := json.RawMessage(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":77,"date":%d,
		"chat":{"id":8001,"type":"private"},"from":{"id":8001,"is_bot":false,"first_name":"Dup","language_code":"en"},
		"text":"/help","entities":[{"type":"bot_command","offset":0,"length":5}]}}`, 900001, time.Now().Unix()))
	if err := e.fake.EnqueueRaw(update); err != nil {
		t.Fatal(err)
	}
	b.expect("Commands:")
	if err := e.fake.EnqueueRaw(update); err != nil {
		t.Fatal(err)
	}
	b.say("/start") // a later update shows the duplicate was passed over, not still pending
	b.expect("refund assistant")
	count := 0
	for _, m := range e.fake.Messages(b.chat.ID) {
		if strings.Contains(m.Text, "Commands:") {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("the duplicated update was answered %d times", count)
	}
}

func TestForgedAndStaleButtons(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM70000000001", 9001, "13800000001", "爱奇艺会员 年卡", "membership", "198.00")
	b := e.buyer(9001, "zh-hans")
	b.say("/refund KM70000000001")
	reasons := b.expect("请选择退款原因")

	forged := []struct{ data, want string }{
		// Well formed but of no step of this session: indistinguishable
		// from an old button, so it is answered as stale.
		{"s:zzzzzzzz:submit", "过期"},
		{"hello", "无法识别这个按钮"},
		{"m:order:KM 1", "无法识别这个按钮"},
		{strings.Repeat("x", 64), "无法识别这个按钮"},
		{strings.Replace(b.data(reasons, "会员未生效"), "not_activated", "wrong_account", 1), "无法识别这个按钮"},
	}
	for _, f := range forged {
		_, id := e.fake.PressButton(b.chat, b.user, reasons.MessageID, f.data)
		if got := e.answer(id); !strings.Contains(got, f.want) {
			t.Errorf("forged %q answered %q, want %q", f.data, got, f.want)
		}
	}
	// Nothing changed: the real button still works.
	b.press(reasons, "会员未生效")
	b.expect("时间 + 事件 + 诉求")
	// The reason message's buttons are now stale.
	id := b.press(reasons, "与描述不符")
	if got := e.answer(id); !strings.Contains(got, "过期") {
		t.Errorf("stale button answered %q", got)
	}
	b.expect("时间 + 事件 + 诉求") // and the current step is shown again
}

func TestCancelAndBackAtEveryStep(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM80000000001", 0, "13800001234", "优酷会员 月卡", "membership", "20.00")
	b := e.buyer(10001, "en")
	// reach walks a fresh request up to step n (0 = order ID ... 5 = summary)
	// and returns that step's message.
	reach := func(n int) telegramfake.SentMessage {
		if n == 0 {
			b.say("/refund")
			return b.expect("send the ID of the order")
		}
		b.say("/refund KM80000000001")
		m := b.expect("last 4 digits")
		walk := []struct{ press, next string }{
			{"", "Why do you want a refund?"},
			{"Membership not active", "time + event + request"},
			{"Use this statement", "Please upload evidence"},
			{"Done uploading", "Please check your refund request"},
		}
		for i := 0; i < n-1; i++ {
			if walk[i].press == "" {
				b.say("1234")
			} else {
				b.press(m, walk[i].press)
			}
			m = b.expect(walk[i].next)
		}
		return m
	}
	steps := []string{"order", "phone", "reason", "statement", "evidence", "confirm"}
	for n, name := range steps {
		t.Logf("cancel at the %s step", name)
		reach(n)
		b.say("/cancel")
		b.expect("Cancelled")
		m := reach(n)
		b.press(m, "Cancel request")
		b.expect("Cancelled")
		b.say("hello")
		b.expect("I can help you") // idle again: the step is really gone
	}
	b.say("/cancel")
	b.expect("no request in progress")

	// Back walks the steps in reverse.
	summary := reach(5)
	b.press(summary, "Back")
	b.press(b.expect("Please upload evidence"), "Back")
	b.press(b.expect("time + event + request"), "Back")
	b.press(b.expect("Why do you want a refund?"), "Back")
	b.expect("send the ID of the order")
}

func TestBadInputGetsAClearAnswerAndKeepsTheStep(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM90000000001", 11001, "13800000001", "Office 2021 密钥", "software_key", "59.00")
	b := e.buyer(11001, "en")
	b.say("/refund KM90000000001")
	b.press(b.expect("Why do you want a refund?"), "Activation failed")
	b.expect("time + event + request")

	e.fake.SendSticker(b.chat, b.user)
	b.expect("needs a text reply")
	e.fake.SendVoice(b.chat, b.user)
	b.expect("needs a text reply")
	b.say(strings.Repeat("长", 4000))
	b.expect("4000 characters, more than the limit of 1000")
	b.say("/frobnicate")
	b.expect("don't know the command /frobnicate")
	e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG early"), "", "")
	b.expect("No files are needed right now")

	b.say("Nov 20: the key fails with error 0xC004F050. Full refund please.") // the step survived
	b.expect("Please upload evidence")
	e.fake.SendSticker(b.chat, b.user)
	b.expect("Now I need photos or files")
	b.say("here it comes")
	b.expect("Now I need photos or files")
	for i := range 11 {
		e.fake.SendPhoto(b.chat, b.user, []byte(fmt.Sprintf("\x89PNG shot %d", i)), "", "")
		if i < 10 {
			b.expect(fmt.Sprintf("Received %d/10", i+1))
		}
	}
	b.expect("At most 10 files")

	// In a group the bot keeps quiet unless addressed, then points to a
	// private chat.
	group := telegramfake.Chat{ID: -100123, Type: "supergroup", Title: "Shop fans"}
	g := &buyer{e: e, user: b.user, chat: group}
	e.fake.SendText(group, b.user, "anyone got a refund here?")
	e.fake.SendText(group, b.user, "/refund@some_other_bot")
	e.fake.SendText(group, b.user, "/refund@"+testBotHandle)
	m := g.expect("message @" + testBotHandle + " privately")
	if len(e.fake.Messages(group.ID)) != 1 {
		t.Fatalf("bot answered group chatter: %+v", e.fake.Messages(group.ID))
	}
	if m.Keyboard[0][0].URL != "https://t.me/"+testBotHandle {
		t.Fatalf("private-chat button = %+v", m.Keyboard)
	}
}

func TestTelegramRateLimitIsWaitedOut(t *testing.T) {
	e := newEnv(t)
	b := e.buyer(12001, "en")
	e.fake.FailNext("sendMessage", 1, 429, 1)
	b.say("/help")
	b.expect("Commands:")
	if n := e.fake.Calls("sendMessage"); n != 2 {
		t.Fatalf("sendMessage called %d times, want 2 (the 429, then the retry)", n)
	}
}

func TestHalfFilledRequestExpires(t *testing.T) {
	e := newEnvWith(t, map[string]string{"SESSION_IDLE_TTL": "1s"})
	e.putOrder("KM91000000001", 13001, "13800000001", "Steam 充值卡 50", "game_card", "50.00")
	b := e.buyer(13001, "en")
	b.say("/refund KM91000000001")
	reasons := b.expect("Why do you want a refund?")
	time.Sleep(1500 * time.Millisecond)
	b.press(reasons, "Charged twice")
	b.expect("unfinished refund request for order KM91000000001 has expired")
	b.say("hello")
	b.expect("I can help you") // the dialog is over, not stuck in the reason step
}

func TestMissingConfigurationIsNamed(t *testing.T) {
	t.Parallel()
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policy, []byte("fast_lane_limit: \"200\"\ncategories:\n  game_card:\n    window: 3x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"TELEGRAM_BOT_TOKEN": "x", "SHOP_TIMEZONE": "Mars/Olympus", "ORDER_ID_PATTERN": "(",
			"POLICY_FILE": policy, "SHOP_WEBHOOK_URL": "https://shop.example/payouts", "SWEEP_INTERVAL": "soon"}[k]
	})
	var cfgErr *configError
	if !errors.As(err, &cfgErr) || len(cfgErr.problems) != 7 {
		t.Fatalf("problems = %v, want REDIS_URL, DATABASE_URL, SHOP_TIMEZONE, ORDER_ID_PATTERN, POLICY_FILE, SHOP_WEBHOOK_SECRET and SWEEP_INTERVAL", err)
	}
	if !strings.Contains(err.Error(), "policy.yaml:4:") {
		t.Errorf("%v does not name the policy file's line", err)
	}
	for _, name := range []string{"REDIS_URL", "DATABASE_URL", "SHOP_TIMEZONE", "ORDER_ID_PATTERN", "POLICY_FILE",
		"SHOP_WEBHOOK_SECRET", "SWEEP_INTERVAL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%v does not name %s", err, name)
		}
	}
}

func TestManyChatsEachInOrder(t *testing.T) {
	e := newEnv(t)
	const chats, perChat = 30, 6
	for c := range chats {
		b := e.buyer(int64(20000+c), "en")
		for i := range perChat {
			b.say(fmt.Sprintf("/status R-%06d", 100000+i))
		}
	}
	for c := range chats {
		b := e.buyer(int64(20000+c), "en")
		for i := range perChat {
			// expect skips nothing it needs: answers must come in order.
			b.expect(fmt.Sprintf("No refund request found for R-%06d", 100000+i))
		}
		if n := len(e.fake.Messages(b.chat.ID)); n != perChat {
			t.Fatalf("chat %d got %d answers, want %d", c, n, perChat)
		}
	}
}

// TestProductionSettingsAreChecked: the settings of running as many
// replicas are read, and each bad one is named, all at once.
func TestProductionSettingsAreChecked(t *testing.T) {
	t.Parallel()
	base := map[string]string{"TELEGRAM_BOT_TOKEN": "x", "REDIS_URL": "redis://r", "DATABASE_URL": "postgres://p"}
	tests := []struct {
		name  string
		vars  map[string]string
		wrong []string
		check func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			if c.WebhookURL != "" || !c.PaceSends || c.SendLimits.Global.Count != 25 || c.SendLimits.Chat.Count != 1 ||
				c.SendLimits.Group.Count != 20 || c.FloodLimit != 40 || c.LeaseTTL != 10*time.Second ||
				c.ShutdownGrace != 10*time.Second || c.OutboxLease != time.Minute {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "webhook mode", vars: map[string]string{"WEBHOOK_URL": "https://bot.example.com/tg/hook", "WEBHOOK_SECRET": "a-B_9",
			"SEND_RATE_GLOBAL": "20", "FLOOD_LIMIT": "10", "CHAT_LEASE_TTL": "3s", "LOG_LEVEL": "warn"},
			check: func(t *testing.T, c Config) {
				if c.webhookPath() != "/tg/hook" || c.SendLimits.Global.Count != 20 || c.FloodLimit != 10 ||
					c.LeaseTTL != 3*time.Second || c.LogLevel != slog.LevelWarn {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "pacing off", vars: map[string]string{"SEND_RATE_CHAT": "off"},
			check: func(t *testing.T, c Config) {
				if c.PaceSends {
					t.Error("SEND_RATE_CHAT=off left pacing on")
				}
			}},
		{name: "every bad one named", vars: map[string]string{"WEBHOOK_URL": "ftp://x", "SEND_RATE_GLOBAL": "-3",
			"FLOOD_LIMIT": "many", "CHAT_LEASE_TTL": "0s", "OUTBOX_LEASE": "soon", "LOG_LEVEL": "loud"},
			wrong: []string{"WEBHOOK_URL", "WEBHOOK_SECRET", "SEND_RATE_GLOBAL", "FLOOD_LIMIT", "CHAT_LEASE_TTL", "OUTBOX_LEASE", "LOG_LEVEL"}},
		{name: "secret with characters Telegram refuses", vars: map[string]string{"WEBHOOK_URL": "https://b/h", "WEBHOOK_SECRET": "a b"},
			wrong: []string{"WEBHOOK_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ConfigFromEnv(func(k string) string {
				if v, ok := tt.vars[k]; ok {
					return v
				}
				return base[k]
			})
			var cfgErr *configError
			if len(tt.wrong) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			if !errors.As(err, &cfgErr) || len(cfgErr.problems) != len(tt.wrong) {
				t.Fatalf("problems = %v, want one for each of %v", err, tt.wrong)
			}
			for _, name := range tt.wrong {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("%v does not name %s", err, name)
				}
			}
		})
	}
}
