package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// chaosStep is one turn of a buyer's dialog: wait for a message with want,
// then act on it.
type chaosStep struct {
	want string
	act  func(c *chaosBuyer, m telegramfake.SentMessage)
}

// chaosBuyer drives one buyer's refund dialog without blocking, so that
// one test goroutine can run fifty of them at once.
type chaosBuyer struct {
	e     *env
	b     *buyer
	order string
	step  int
	seen  int
}

func (c *chaosBuyer) press(m telegramfake.SentMessage, label string) {
	c.e.fake.PressButton(c.b.chat, c.b.user, m.MessageID, c.b.data(m, label))
}

var chaosDialog = []chaosStep{
	{"时间 + 事件 + 诉求", func(c *chaosBuyer, m telegramfake.SentMessage) { c.press(m, "使用这段陈述") }},
	{"请上传凭证", func(c *chaosBuyer, _ telegramfake.SentMessage) {
		album := "album-" + c.order
		c.e.fake.SendPhoto(c.b.chat, c.b.user, []byte("\x89PNG error page of "+c.order), "报错页面", album)
		c.e.fake.SendPhoto(c.b.chat, c.b.user, []byte("\x89PNG card back of "+c.order), "", album)
	}},
	{"已收到 2/10", func(c *chaosBuyer, m telegramfake.SentMessage) { c.press(m, "上传完成") }},
	{"请核对", func(c *chaosBuyer, m telegramfake.SentMessage) { c.press(m, "提交申请") }},
	{"退款申请已提交", nil},
	{"已通过审核", nil},
}

// advance takes the buyer's dialog one step on if its message came; it
// reports whether the dialog is at its end.
func (c *chaosBuyer) advance() bool {
	if c.step == len(chaosDialog) {
		return true
	}
	msgs := c.e.fake.Messages(c.b.chat.ID)
	for i := c.seen; i < len(msgs); i++ {
		if strings.Contains(msgs[i].Text, chaosDialog[c.step].want) {
			c.seen = i + 1
			if act := chaosDialog[c.step].act; act != nil {
				act(c, msgs[i])
			}
			c.step++
			break
		}
	}
	return c.step == len(chaosDialog)
}

// TestFiftyDialogsThroughAChaoticBotAPI runs 50 buyers' refunds to the end
// against a Bot API that fails calls at random (some with HTML 502 pages),
// ends long polls early with nothing, and answers updates reordered and
// repeated: every case is complete with both of its files, no buyer is
// told anything twice, and the bot does not spin on the early polls.
func TestFiftyDialogsThroughAChaoticBotAPI(t *testing.T) {
	e := newEnv(t)
	const buyers = 50
	drivers := make([]*chaosBuyer, buyers)
	for i := range drivers {
		order := fmt.Sprintf("KM2026120%04d", i)
		b := e.buyer(int64(9300+i), "zh-hans")
		e.putOrder(order, b.user.ID, "13800138000", "王者荣耀点卡 100元", "game_card", "95.00")
		drivers[i] = &chaosBuyer{e: e, b: b, order: order}
	}
	e.fake.Chaos(&telegramfake.ChaosOptions{Seed: 20261202, ServerErrors: 0.05, EmptyPolls: 0.2, Reorder: 0.3, Repeat: 0.2})
	polls := e.fake.Calls("getUpdates")
	start := time.Now()
	for _, c := range drivers {
		c.b.say("我要退款 订单号" + c.order + " 卡密无效")
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		done := 0
		for _, c := range drivers {
			if c.advance() {
				done++
			}
		}
		if done == buyers {
			break
		}
		if time.Now().After(deadline) {
			for _, c := range drivers {
				if c.step < len(chaosDialog) {
					t.Errorf("buyer %d stuck waiting for %q", c.b.user.ID, chaosDialog[c.step].want)
				}
			}
			t.FailNow()
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	e.fake.Chaos(nil)
	time.Sleep(700 * time.Millisecond) // anything sent twice would come now

	db := e.db()
	for _, c := range drivers {
		cases, err := db.CasesByOrder(context.Background(), c.order)
		if err != nil || len(cases) != 1 {
			t.Errorf("order %s: %d cases, %v; want one", c.order, len(cases), err)
			continue
		}
		if files := len(cases[0].Evidence); files != 2 {
			t.Errorf("case %s has %d files, want both of the album", cases[0].Number(), files)
		}
		seen := map[string]int{}
		for _, m := range e.fake.Messages(c.b.chat.ID) {
			if seen[m.Text]++; seen[m.Text] == 2 {
				t.Errorf("buyer %d was told twice: %q", c.b.user.ID, firstLine(m.Text))
			}
		}
	}
	// A busy loop calls getUpdates thousands of times a second; a bot that
	// backs off makes about one call per batch and a few per second idle.
	calls := e.fake.Calls("getUpdates") - polls
	if limit := 100 * int(took.Seconds()+1); calls > limit {
		t.Errorf("%d getUpdates calls in %v, want at most %d", calls, took.Round(time.Millisecond), limit)
	}
	t.Logf("%d dialogs to the end in %v with %d getUpdates calls", buyers, took.Round(time.Millisecond), calls)
}
