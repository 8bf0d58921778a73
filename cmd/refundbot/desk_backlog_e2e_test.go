package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/refund"
)

// TestDeskActsAtOnceWhileRelaysWaitForTheGroupBudget: the fake refuses
// what Telegram would (30/s per bot, about 1/s per chat, a group's 20 a
// minute, here 20 in 6 s so that the test takes seconds, not minutes, with
// the bot's group pace scaled alike). With every held chat relayed in the
// team chat, a buyer's 30 messages wait there for the group's budget; an
// agent's /release and /approve, in that same chat, still act at once,
// and so does the buyer's /status: each buyer hears within a second. The
// backlog then drains in order, through a restart of the bot, with nothing
// lost or doubled and no message refused.
func TestDeskActsAtOnceWhileRelaysWaitForTheGroupBudget(t *testing.T) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017,9018:李四:K018",
		"DESK_RELAY":       "team",
		"SEND_RATE_GLOBAL": "25", "SEND_RATE_CHAT": "1", "SEND_RATE_GROUP": "200",
	}, func(f *telegramfake.Server) {
		f.AddChat(team)
		limits := telegramfake.TelegramLimits()
		limits.Group = telegramfake.Window{Max: 20, Per: 6 * time.Second}
		f.EnforceLimits(limits)
	})
	zhang := &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三"}}
	li := &agent{e: e, user: telegramfake.User{ID: 9018, FirstName: "李四"}}
	seen := 0

	withCase := e.buyer(1701, "zh-hans")
	number := escalatedCase(t, e, withCase, "KM20261203001")
	caseCard := e.teamExpect(&seen, number)
	e.answer(zhang.press(caseCard, "接手"))
	withCase.expect("张三")

	talker := e.buyer(1702, "zh-hans")
	talker.say("转人工")
	talker.expect("您前面还有")
	talkCard := e.teamExpect(&seen, "#2")
	e.answer(li.press(talkCard, "接手"))
	talker.expect("李四")

	const relays = 30
	for i := 1; i <= relays; i++ {
		withCase.say(fmt.Sprintf("补充说明第 %02d 条", i))
	}
	e.teamExpect(&seen, "补充说明第 01 条")

	// A buyer's /status is answered at once, held chat or not.
	heard := len(e.fake.Messages(withCase.chat.ID))
	withCase.say("/status " + number)
	e.within(time.Second, "/status was not answered within a second", func() bool {
		return len(e.fake.Messages(withCase.chat.ID)) > heard
	})
	withCase.expect("当前状态")
	// Each agent's command acts at once: its buyer hears within a second
	// (the rest of what they are told follows at their chat's own pace).
	heard = len(e.fake.Messages(talker.chat.ID))
	li.reply(talkCard, "/release")
	e.within(time.Second, "/release did not reach its buyer within a second", func() bool {
		return len(e.fake.Messages(talker.chat.ID)) > heard
	})
	talker.expect("已结束本次会话")
	id, _ := refund.ParseCaseNumber(number)
	heard = len(e.fake.Messages(withCase.chat.ID))
	zhang.reply(caseCard, "/approve")
	e.within(time.Second, "/approve did not decide the case and reach its buyer within a second", func() bool {
		c, err := e.db().Case(context.Background(), id)
		return err == nil && c.Status != refund.StatusHumanReview && len(e.fake.Messages(withCase.chat.ID)) > heard
	})
	withCase.expect("已通过审核")
	if sent := e.relaysIn(); sent >= relays {
		t.Fatalf("all %d relays were out before the agents acted; the test needs a backlog", sent)
	}

	e.restart()
	e.teamExpect(&seen, fmt.Sprintf("补充说明第 %02d 条", relays))
	e.teamExpect(&seen, number+" → ")
	var order []string
	for _, m := range e.fake.Messages(team.ID) {
		if i := strings.Index(m.Text, "补充说明第 "); i >= 0 {
			order = append(order, m.Text[i:i+len("补充说明第 00 条")])
		}
	}
	for i, got := range order {
		if want := fmt.Sprintf("补充说明第 %02d 条", i+1); i >= relays || got != want {
			t.Fatalf("relays in the team chat: %q; want 01 to %02d once each, in order", order, relays)
		}
	}
	if len(order) != relays {
		t.Fatalf("relays in the team chat: %d of %d", len(order), relays)
	}
	if n := e.fake.LimitRefusals(); n != 0 {
		t.Errorf("Telegram refused %d sends for its limits; the bot's pace must keep within them", n)
	}
}

// relaysIn counts the buyer messages relayed into the team chat so far.
func (e *env) relaysIn() int {
	n := 0
	for _, m := range e.fake.Messages(team.ID) {
		if strings.Contains(m.Text, "补充说明第 ") {
			n++
		}
	}
	return n
}

// TestAReplyToARelayNotYetLinkedReachesTheBuyer: a relayed message is tied
// to its case only once Telegram answered its send; an agent who replies
// to it before that (Telegram is slow to answer, the message is already on
// screen) still reaches the buyer, by the number the relay starts with.
func TestAReplyToARelayNotYetLinkedReachesTheBuyer(t *testing.T) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017", "DESK_RELAY": "team",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	zhang := &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三"}}
	seen := 0
	// 张三 holds two chats, so a reply must name which one it answers.
	b := e.buyer(1711, "zh-hans")
	other := e.buyer(1712, "zh-hans")
	for i, buyer := range []*buyer{b, other} {
		buyer.say("转人工")
		buyer.expect("您前面还有")
		card := e.teamExpect(&seen, fmt.Sprintf("🆕 #%d", i+1))
		e.answer(zhang.press(card, "接手"))
		buyer.expect("张三")
	}

	e.fake.DelayNext("sendMessage", 1, 3*time.Second)
	b.say("卡密 ABCD-1234 提示已被使用")
	relayed := e.teamExpect(&seen, "ABCD-1234")
	if !strings.HasPrefix(relayed.Text, "#1 ") {
		t.Fatalf("relay %q does not start with its escalation's number", relayed.Text)
	}
	zhang.reply(relayed, "马上为您查看")
	got := b.expect("马上为您查看")
	if !strings.Contains(got.Text, "张三") {
		t.Errorf("reply reached the buyer unsigned: %q", got.Text)
	}
	other.quiet()
}
