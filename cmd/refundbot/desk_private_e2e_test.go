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

// TestRefusedRelaysTakeTheOtherWay: Telegram refuses a relay for good when
// its reader blocked the bot. An agent's private chat that refuses one
// gets it under the card instead, and later relays go there too; an agent's
// reply a buyer cannot receive comes back to the agent as a notice. Nothing
// the other side said just vanishes.
func TestRefusedRelaysTakeTheOtherWay(t *testing.T) {
	e, zhang, _ := newDeskEnv(t)
	private := &buyer{e: e, chat: telegramfake.Chat{ID: zhang.user.ID, Type: "private"}, user: zhang.user}
	private.say("/start")
	private.expect("买家的消息会转到这里")
	b := e.buyer(1721, "zh-hans")
	b.say("转人工")
	b.expect("您前面还有 0 位")
	seen := 0
	card := e.teamExpect(&seen, "买家要求人工")
	zhang.press(card, "接手")
	b.expect("已接入")
	private.expect("由您接手")

	e.fake.Block(zhang.user.ID)
	b.say("卡密是 ABCD-1234")
	if m := e.teamExpect(&seen, "卡密是 ABCD-1234"); m.ReplyToMessageID != card.MessageID {
		t.Errorf("the refused relay reached the team chat unthreaded: %+v", m)
	}
	e.fake.Unblock(zhang.user.ID) // the bot does not know until 张三 writes to it
	b.say("还是不行")
	e.teamExpect(&seen, "还是不行")
	private.quiet()

	zhang.reply(card, "请稍等")
	b.expect("请稍等")
	e.fake.Block(b.chat.ID)
	zhang.reply(card, "已为您处理")
	if m := e.teamExpect(&seen, "买家收不到这条消息"); !strings.Contains(m.Text, "#1") {
		t.Errorf("the agent's notice does not name the case: %q", m.Text)
	}
}

// TestNextInThePrivateChatSaysHowToAnswerThere: an agent who pulls a chat
// with /next in their private chat is told how to answer there, not to
// reply under a card they are not looking at; the team reads the take on
// the card.
func TestNextInThePrivateChatSaysHowToAnswerThere(t *testing.T) {
	e, zhang, _ := newDeskEnv(t)
	private := &buyer{e: e, chat: telegramfake.Chat{ID: zhang.user.ID, Type: "private"}, user: zhang.user}
	private.say("/start")
	private.expect("买家的消息会转到这里")
	b := e.buyer(1731, "zh-hans")
	b.say("转人工")
	b.expect("您前面还有 0 位")
	seen := 0
	e.teamExpect(&seen, "买家要求人工")
	private.say("/next")
	took := private.expect("由您接手")
	if strings.Contains(took.Text, "回复本卡片") {
		t.Errorf("the private chat was told to reply under the card: %q", took.Text)
	}
	e.teamExpect(&seen, "由 张三（K017）接手")
	b.expect("张三（工号 K017）已接入")
	for _, m := range e.fake.Messages(private.chat.ID) {
		if strings.Contains(m.Text, "回复本卡片") {
			t.Errorf("the private chat got the team's note: %q", m.Text)
		}
	}
}
