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

// The agents of these tests are created by id only (AGENT_USER_IDS=1001,1002):
// their names come from Telegram.
var (
	liNa    = telegramfake.User{ID: 1001, FirstName: "李娜", Username: "li_na"}
	zhouJie = telegramfake.User{ID: 1002, FirstName: "周杰", Username: "zhou_jie"}
)

// newStaffEnv starts a deployment whose agents are known by id only and
// whose team chat has them as members, refreshed every 200ms.
func newStaffEnv(t *testing.T) (*env, *agent, *agent) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "1001,1002", "AGENT_REFRESH": "200ms",
	}, func(f *telegramfake.Server) {
		f.AddChat(team)
		f.SetMember(teamChatID, telegramfake.Member{User: liNa})
		f.SetMember(teamChatID, telegramfake.Member{User: zhouJie})
	})
	li, zhou := &agent{e: e, user: liNa}, &agent{e: e, user: zhouJie}
	e.waitAgent(li.user.ID, func(a refund.Agent) bool { return a.Name() == "李娜" })
	e.waitAgent(zhou.user.ID, func(a refund.Agent) bool { return a.Name() == "周杰" })
	return e, li, zhou
}

// waitAgent waits until the stored record of agent userID satisfies ok,
// which a refresh of the staff makes true.
func (e *env) waitAgent(userID int64, ok func(refund.Agent) bool) refund.Agent {
	e.t.Helper()
	db := e.db()
	deadline := time.Now().Add(waitFor)
	for {
		a, err := db.Agent(context.Background(), userID)
		if err == nil && ok(a) {
			return a
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("agent %d never reached the wanted state: %+v, %v", userID, a, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// askForPerson has a buyer ask for a person and returns the case card.
func askForPerson(e *env, b *buyer, seen *int) telegramfake.SentMessage {
	e.t.Helper()
	b.say("转人工")
	b.expect("您前面还有")
	return e.teamExpect(seen, "买家要求人工")
}

func TestStaffNamedByTelegram(t *testing.T) {
	e, li, zhou := newStaffEnv(t)
	b := e.buyer(1401, "zh-hans")
	seen := 0
	card := askForPerson(e, b, &seen)

	if got := e.answer(li.press(card, "接手")); !strings.Contains(got, "已接手") {
		t.Fatalf("Take answered %q", got)
	}
	if got := b.expect("已接入"); !strings.Contains(got.Text, "李娜（工号 S1001）") {
		t.Errorf("buyer told %q, want the Telegram name 李娜", got.Text)
	}
	if got := e.answer(zhou.press(card, "接手")); !strings.Contains(got, "已被 李娜（S1001）接手") {
		t.Errorf("losing Take answered %q, want the holder's Telegram name", got)
	}
	e.teamExpect(&seen, "由 李娜（S1001）接手")

	li.reply(card, "您好，我来处理")
	signed := b.expect("您好，我来处理")
	if !strings.Contains(signed.Text, "客服 李娜（S1001）：") || strings.Contains(signed.Text, "客服 客服") {
		t.Errorf("relayed reply signed %q, want 客服 李娜（S1001）", signed.Text)
	}

	// A new name shown in the agent's own update is used at once.
	li.user.FirstName, li.user.LastName = "李", "娜娜"
	li.reply(card, "稍等")
	if got := b.expect("稍等"); !strings.Contains(got.Text, "客服 李 娜娜（S1001）：") {
		t.Errorf("reply after a rename signed %q", got.Text)
	}
}

func TestVerifyFollowsTelegram(t *testing.T) {
	e, _, _ := newStaffEnv(t)
	b := e.buyer(1402, "zh-hans")
	b.say("/verify @Li_Na")
	b.expect("✅ @Li_Na 是平台客服：李娜（工号 S1001）")

	// Look-alikes of the real name are called out as such.
	for _, fake := range []string{"@1i_na", "@lina", "@Ιi_na", "@ｌｉ＿ｎａ", "@li_nа"} {
		b.say("/verify " + fake)
		got := b.expect("冒充平台客服")
		if !strings.Contains(got.Text, fake+" 是在冒充平台客服 @li_na（李娜，工号 S1001）") || !strings.Contains(got.Text, "请勿向任何人付款") {
			t.Errorf("/verify %s answered %q", fake, got.Text)
		}
	}
	e.fake.ForwardText(b.chat, b.user, telegramfake.User{ID: 777, FirstName: "周杰", Username: "zhou_jle"}, false, "退款请先缴纳保证金")
	if got := b.expect("冒充平台客服"); !strings.Contains(got.Text, "@zhou_jie（周杰，工号 S1002）") {
		t.Errorf("forward from a look-alike answered %q", got.Text)
	}
	e.fake.ForwardText(b.chat, b.user, zhouJie, false, "您好")
	b.expect("是平台客服：周杰（工号 S1002）")

	b.say("/verify @wang_kefu")
	b.expect("⚠️ @wang_kefu 不是平台客服")

	// 李娜 changes her username: the old one is released, and whoever
	// registers it next must not be vouched for.
	e.fake.SetMember(teamChatID, telegramfake.Member{User: telegramfake.User{ID: liNa.ID, FirstName: "李娜", Username: "LiNa_CS"}})
	e.waitAgent(liNa.ID, func(a refund.Agent) bool { return a.Username == "lina_cs" })
	b.say("/verify @li_na")
	b.expect("⚠️ @li_na 不是平台客服")
	b.say("/verify @lina_cs")
	b.expect("✅ @lina_cs 是平台客服：李娜（工号 S1001）")

	// And with no username at all, nothing of hers verifies.
	e.fake.SetMember(teamChatID, telegramfake.Member{User: telegramfake.User{ID: liNa.ID, FirstName: "李娜"}})
	e.waitAgent(liNa.ID, func(a refund.Agent) bool { return a.Username == "" })
	b.say("/verify @lina_cs")
	b.expect("⚠️ @lina_cs 不是平台客服")
}

func TestAgentWhoLeftTheTeamChat(t *testing.T) {
	e, li, zhou := newStaffEnv(t)
	seen := 0
	e.fake.SetMember(teamChatID, telegramfake.Member{User: zhouJie, Status: "left"})
	e.teamExpect(&seen, "客服 周杰（S1002）已不在客服群中")
	// Told once, not at every refresh.
	time.Sleep(700 * time.Millisecond)
	flags := 0
	for _, m := range e.fake.Messages(teamChatID) {
		if strings.Contains(m.Text, "已不在客服群中") {
			flags++
		}
	}
	if flags != 1 {
		t.Errorf("the team was told %d times that 周杰 left, want once", flags)
	}

	b := e.buyer(1403, "zh-hans")
	card := askForPerson(e, b, &seen)
	if got := e.answer(zhou.press(card, "接手")); !strings.Contains(got, "周杰（S1002）已不在客服群中，不能接手会话") {
		t.Fatalf("Take by an agent who left answered %q", got)
	}
	zhou.reply(card, "/take")
	e.teamExpect(&seen, "不能接手会话")
	if got := e.answer(li.press(card, "接手")); !strings.Contains(got, "已接手") {
		t.Fatalf("Take by an agent in the team answered %q", got)
	}
	b.expect("李娜（工号 S1001）已接入")

	// Back in the team chat, 周杰 can take chats again.
	e.fake.SetMember(teamChatID, telegramfake.Member{User: zhouJie, Status: "member"})
	e.teamExpect(&seen, "客服 周杰（S1002）已回到客服群")
	c := e.buyer(1404, "zh-hans")
	second := askForPerson(e, c, &seen)
	if got := e.answer(zhou.press(second, "接手")); !strings.Contains(got, "已接手") {
		t.Errorf("Take after coming back answered %q", got)
	}
}
