package main

import (
	"strings"
	"testing"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// TestHeldChatRelayedInTheAgentsPrivateChat: an agent who wrote to the bot
// gets the held chat's messages in that private chat and answers by
// replying there; the team chat keeps the card, not the conversation.
func TestHeldChatRelayedInTheAgentsPrivateChat(t *testing.T) {
	e, zhang, _ := newDeskEnv(t)
	private := &buyer{e: e, chat: telegramfake.Chat{ID: zhang.user.ID, Type: "private"}, user: zhang.user}
	private.say("/start")
	private.expect("买家的消息会转到这里")

	b := e.buyer(1701, "zh-hans")
	b.say("转人工")
	b.expect("您前面还有 0 位")
	seen := 0
	card := e.teamExpect(&seen, "买家要求人工")
	zhang.press(card, "接手")
	b.expect("张三（工号 K017）已接入")
	private.expect("由您接手")
	teamBefore := len(e.fake.Messages(teamChatID))

	b.say("卡密是 ABCD-1234，提示已被使用")
	relayed := private.expect("卡密是 ABCD-1234")
	if !strings.HasPrefix(relayed.Text, "#") {
		t.Errorf("relayed %q does not name its escalation", relayed.Text)
	}
	e.fake.ReplyText(private.chat, zhang.user, relayed.MessageID, "已核实，马上处理")
	if got := b.expect("已核实，马上处理"); !strings.Contains(got.Text, "张三（K017）") {
		t.Errorf("reply reached the buyer unsigned: %q", got.Text)
	}
	private.say("还需要别的材料吗？") // one chat held: no reply needed
	b.expect("还需要别的材料吗？")
	for _, m := range e.fake.Messages(teamChatID)[teamBefore:] {
		if strings.Contains(m.Text, "ABCD-1234") || strings.Contains(m.Text, "马上处理") {
			t.Errorf("the conversation reached the team chat: %q", m.Text)
		}
	}
	e.fake.ReplyText(private.chat, zhang.user, relayed.MessageID, "/release")
	b.expect("已结束本次会话")
	e.teamExpect(&seen, "已交还机器人")
	private.expect("已交还机器人")
}
