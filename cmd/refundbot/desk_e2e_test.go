package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/refund"
)

const teamChatID = -1001234567890

// agent is a staff member in the agents' supergroup.
type agent struct {
	e    *env
	user telegramfake.User
}

var team = telegramfake.Chat{ID: teamChatID, Type: "supergroup", Title: "退款客服组"}

// newDeskEnv starts a deployment with an agents' chat and two agents,
// 张三 (K017, @cs_zhang) and 李四 (K018).
func newDeskEnv(t *testing.T) (*env, *agent, *agent) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID":  fmt.Sprint(teamChatID),
		"AGENT_USER_IDS": "9017:张三:K017:@cs_zhang,9018:李四:K018",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	return e, &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三", Username: "cs_zhang"}},
		&agent{e: e, user: telegramfake.User{ID: 9018, FirstName: "李四"}}
}

// teamExpect waits for the next message in the agents' chat containing
// want, after the ones already seen.
func (e *env) teamExpect(seen *int, want string) telegramfake.SentMessage {
	e.t.Helper()
	team := &buyer{e: e, chat: team, seen: *seen}
	m := team.expect(want)
	*seen = team.seen
	return m
}

func (a *agent) press(m telegramfake.SentMessage, label string) string {
	a.e.t.Helper()
	for _, row := range m.Keyboard {
		for _, btn := range row {
			if strings.Contains(btn.Text, label) {
				_, id := a.e.fake.PressButton(team, a.user, m.MessageID, btn.CallbackData)
				return id
			}
		}
	}
	a.e.t.Fatalf("no button %q on %q", label, m.Text)
	return ""
}

func (a *agent) reply(to telegramfake.SentMessage, text string) {
	a.e.fake.ReplyText(team, a.user, to.MessageID, text)
}

// escalatedCase submits a ¥300 card refund, above the fast-lane limit, so
// it goes to human review and to the agents.
func escalatedCase(t *testing.T, e *env, b *buyer, orderID string) string {
	t.Helper()
	e.putOrder(orderID, b.user.ID, "13800138000", "Steam 充值卡 300", "game_card", "300.00")
	number := b.submitRefund(orderID, "卡密无效", true)
	b.expectAll(number+"（订单 "+orderID+"）已转人工审核", "您前面还有 0 位")
	return number
}

func TestEscalationCardTakeRelayAndApprove(t *testing.T) {
	e, zhang, li := newDeskEnv(t)
	b := e.buyer(1101, "zh-hans")
	number := escalatedCase(t, e, b, "KM20261123101")

	seen := 0
	card := e.teamExpect(&seen, "#")
	for _, want := range []string{number, "KM20261123101", "Steam 充值卡 300", "¥300.00", "支付宝", "卡密无效/已被使用",
		"卡密提示", "1 个文件", "处理期限", "金额超过自动审核额度"} {
		if !strings.Contains(card.Text, want) {
			t.Errorf("card lacks %q:\n%s", want, card.Text)
		}
	}
	var labels []string
	for _, row := range card.Keyboard {
		for _, btn := range row {
			labels = append(labels, btn.Text)
		}
	}
	if got := strings.Join(labels, "|"); got != "🙋 接手|✅ 通过|✖️ 驳回|📎 要求补充" {
		t.Errorf("card buttons = %s", got)
	}
	evidence := e.teamExpect(&seen, "")
	if evidence.FileID == "" || evidence.ReplyToMessageID != card.MessageID {
		t.Fatalf("evidence not re-sent under the card: %+v", evidence)
	}

	// Two agents press Take at once: one holds the chat.
	var wg sync.WaitGroup
	answers := make([]string, 2)
	for i, a := range []*agent{zhang, li} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = e.answer(a.press(card, "接手"))
		}()
	}
	wg.Wait()
	joined := strings.Join(answers, "|")
	if !strings.Contains(joined, "已接手") || !strings.Contains(joined, "已被") {
		t.Fatalf("take answers = %q, want one taken and one taken-by", answers)
	}
	holder, other := zhang, li
	if strings.Contains(answers[0], "已被") {
		holder, other = li, zhang
	}
	joinedMsg := b.expect("已接入")
	if !strings.Contains(joinedMsg.Text, holder.user.FirstName) {
		t.Errorf("buyer told %q, want the holder %s", joinedMsg.Text, holder.user.FirstName)
	}

	// Buyer -> agent, text and photo.
	b.say("我的卡密是 ABCD-1234，提示已被使用")
	relayed := e.teamExpect(&seen, "ABCD-1234")
	if relayed.ReplyToMessageID != card.MessageID {
		t.Errorf("buyer message not threaded under the card: %+v", relayed)
	}
	_, sent := e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG second screenshot"), "再补一张", "")
	photo := e.teamExpect(&seen, "再补一张")
	if photo.FileID == "" || photo.FileID != sent.Photo[len(sent.Photo)-1].FileID {
		t.Errorf("photo relayed as %+v, want file %s", photo, sent.Photo[len(sent.Photo)-1].FileID)
	}

	// Agent -> buyer, signed; only the holder may talk.
	other.reply(relayed, "我来看看")
	e.teamExpect(&seen, "请先接手")
	holder.reply(relayed, "已核实，马上为您处理")
	signed := b.expect("已核实，马上为您处理")
	if !strings.Contains(signed.Text, holder.user.FirstName) || !strings.Contains(signed.Text, "（K01") {
		t.Errorf("agent reply not signed: %q", signed.Text)
	}
	_, agentPhoto := e.fake.ReplyPhoto(team, holder.user, relayed.MessageID, []byte("\x89PNG how to redeem"), "兑换步骤见图")
	got := b.expect("兑换步骤见图")
	if got.FileID == "" || got.FileID != agentPhoto.Photo[len(agentPhoto.Photo)-1].FileID || !strings.Contains(got.Text, "（K01") {
		t.Errorf("agent photo reached the buyer as %+v", got)
	}
	// A reply asking for money is held back.
	holder.reply(relayed, "请先转账 50 元保证金到这个账户")
	e.teamExpect(&seen, "已拦截")
	b.quiet()

	// /approve with an amount and a route goes through the refund core.
	holder.reply(card, "/approve 280.00 balance")
	e.teamExpect(&seen, number+" → 已退款")
	b.expect(number + "（订单 KM20261123101）已通过审核，¥280.00 已退到您的平台余额")
	id, _ := refund.ParseCaseNumber(number)
	events, err := e.db().Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var approvedBy string
	for _, ev := range events {
		if ev.Status == refund.StatusApproved && ev.Type == refund.EventStatusChanged {
			approvedBy = ev.Actor
		}
	}
	if approvedBy != refund.ActorAgent(holder.user.ID) {
		t.Errorf("approval logged as %q, want %s", approvedBy, refund.ActorAgent(holder.user.ID))
	}
	// The chat is back with the bot.
	b.say("/status " + number)
	b.expect("当前状态：已退款")
}

func TestNonAgentCannotDecide(t *testing.T) {
	e, zhang, _ := newDeskEnv(t)
	b := e.buyer(1102, "zh-hans")
	number := escalatedCase(t, e, b, "KM20261123102")
	seen := 0
	card := e.teamExpect(&seen, number)
	intruder := &agent{e: e, user: telegramfake.User{ID: 6666, FirstName: "Mallory"}}
	if got := e.answer(intruder.press(card, "通过")); !strings.Contains(got, "仅限平台客服") {
		t.Fatalf("non-agent press answered %q", got)
	}
	intruder.reply(card, "/approve")
	e.teamExpect(&seen, "仅限平台客服")
	id, _ := refund.ParseCaseNumber(number)
	if c, err := e.db().Case(context.Background(), id); err != nil || c.Status != refund.StatusHumanReview {
		t.Fatalf("case after a non-agent's attempts: %+v, %v", c.Status, err)
	}

	// A real agent's note stays internal; /info asks the buyer through the core.
	zhang.reply(card, "/note 买家上月已退款两次，注意核实")
	e.teamExpect(&seen, "备注已记录")
	zhang.reply(card, "/info 请提供充值页面的完整截图")
	e.teamExpect(&seen, number+" → 需要补充材料")
	ask := b.expect(number + "（订单 KM20261123102）需要补充材料")
	if !strings.Contains(ask.Text, "请提供充值页面的完整截图") {
		t.Errorf("the agent's request did not reach the buyer: %q", ask.Text)
	}
	events, err := e.db().Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	noted := false
	for _, ev := range events {
		noted = noted || (ev.Type == refund.EventAgentNote && ev.Actor == refund.ActorAgent(9017) && strings.Contains(ev.Note, "退款两次"))
	}
	if !noted {
		t.Errorf("note not in the case log: %+v", events)
	}
	b.say("/status " + number)
	if st := b.expect("处理记录"); strings.Contains(st.Text, "退款两次") {
		t.Errorf("the buyer sees the internal note:\n%s", st.Text)
	}
}

func TestReleaseResumesTheDialogAndHoldSurvivesRestart(t *testing.T) {
	e, zhang, _ := newDeskEnv(t)
	e.putOrder("KM20261123103", 1103, "13800138000", "网易点卡 50元", "game_card", "48.00")
	b := e.buyer(1103, "zh-hans")
	b.say("我要退款 订单号KM20261123103 卡密无效")
	b.expect("时间 + 事件 + 诉求")
	b.say("/agent")
	b.expect("您前面还有 0 位")
	seen := 0
	card := e.teamExpect(&seen, "买家要求人工")
	zhang.press(card, "接手")
	b.expect("张三（工号 K017）已接入")

	// Held: the dialog is quiet, but /status still answers.
	b.say("/status")
	b.expect("请发送退款单号")
	e.restart()
	b.say("重启之后还能收到吗")
	relayed := e.teamExpect(&seen, "重启之后还能收到吗")
	zhang.reply(relayed, "能收到")
	b.expect("能收到")

	zhang.reply(card, "/release")
	e.teamExpect(&seen, "已交还机器人")
	b.expect("已结束本次会话")
	// The dialog was waiting for the statement; it still is.
	b.say("11月23日买的点卡提示已被使用，申请退款")
	b.expect("请上传凭证")
}

func TestVerifyAgent(t *testing.T) {
	e, _, _ := newDeskEnv(t)
	b := e.buyer(1104, "zh-hans")
	b.say("/verify @CS_Zhang")
	b.expect("✅ @CS_Zhang 是平台客服：张三（工号 K017）")
	b.say("/verify @cs_zhang_official")
	b.expect("⚠️ @cs_zhang_official 不是平台客服")
	e.fake.ForwardText(b.chat, b.user, telegramfake.User{ID: 777, FirstName: "官方客服", Username: "kefu_refund"}, false,
		"您好，退款需要先缴纳解冻费")
	b.expect("不是平台客服")
	e.fake.ForwardText(b.chat, b.user, telegramfake.User{ID: 9018, FirstName: "李四"}, false, "您好")
	b.expect("是平台客服：李四（工号 K018）")
	e.fake.ForwardText(b.chat, b.user, telegramfake.User{ID: 778, FirstName: "客服小美"}, true, "加我微信")
	b.expect("无法确认")
}

func TestQueueRepeatedComplaintScamFlagAndSilentHold(t *testing.T) {
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017",
		"AGENT_HOLD_TIMEOUT": "1s", "SWEEP_INTERVAL": "100ms",
	}, func(f *telegramfake.Server) { f.AddChat(team) })
	zhang := &agent{e: e, user: telegramfake.User{ID: 9017, FirstName: "张三"}}
	seen := 0

	// The same complaint three times brings in a person.
	b := e.buyer(1201, "zh-hans")
	for range 2 {
		b.say("钱呢？？")
		b.expect("我可以帮您申请退款或查询进度")
	}
	b.say("钱呢？？")
	b.expect("您前面还有 0 位")
	e.teamExpect(&seen, "买家重复投诉")

	// A second buyer asks in words, and is second in the queue.
	c := e.buyer(1202, "zh-hans")
	c.say("转人工")
	c.expect("您前面还有 1 位")
	second := e.teamExpect(&seen, "买家要求人工")

	// A buyer talking of a deposit is flagged to the team.
	c.say("有人让我先交500保证金才能退款")
	c.expect("防骗提醒")
	e.teamExpect(&seen, "疑似骗局")

	zhang.press(second, "接手")
	c.expect("已接入")
	e.fake.SendText(team, zhang.user, "/queue")
	q := e.teamExpect(&seen, "待处理队列")
	if !strings.Contains(q.Text, "买家重复投诉") || !strings.Contains(q.Text, "张三（K017）处理中") {
		t.Errorf("queue = %q", q.Text)
	}
	e.fake.SendText(team, zhang.user, "/mine")
	mine := e.teamExpect(&seen, "我接手的会话")
	if strings.Contains(mine.Text, "买家重复投诉") || !strings.Contains(mine.Text, "买家要求人工") {
		t.Errorf("mine = %q", mine.Text)
	}

	// No answer to the buyer within the hold timeout: back to the queue.
	e.teamExpect(&seen, "未回复买家，已退回队列")
	c.say("还在吗")
	c.expect("已记下您的留言") // kept for whoever takes the chat next
	c.say("转人工")
	c.expect("您前面还有 1 位") // queued again, behind the first buyer
	b.say("还有人吗")
	b.expect("您前面还有 0 位")
	if got := e.fake.Messages(teamChatID); strings.Contains(got[len(got)-1].Text, "还在吗") {
		t.Error("a queued buyer's message was relayed as if held")
	}
}

// TestForumTopicPerCase: in a forum team chat every escalation gets its
// own topic, and agents talk to the buyer by writing in it.
func TestForumTopicPerCase(t *testing.T) {
	forum := telegramfake.Chat{ID: teamChatID, Type: "supergroup", Title: "退款客服组", IsForum: true}
	e := newEnvSetup(t, map[string]string{
		"AGENT_CHAT_ID": fmt.Sprint(teamChatID), "AGENT_USER_IDS": "9017:张三:K017",
	}, func(f *telegramfake.Server) { f.AddChat(forum) })
	zhang := telegramfake.User{ID: 9017, FirstName: "张三"}
	b := e.buyer(1301, "zh-hans")
	number := escalatedCase(t, e, b, "KM20261123301")

	seen := 0
	card := e.teamExpect(&seen, number)
	topics := e.fake.Topics(teamChatID)
	if len(topics) != 1 || card.ThreadID != topics[0].ThreadID || !strings.Contains(topics[0].Name, number) {
		t.Fatalf("card in topic %d, topics %+v", card.ThreadID, topics)
	}
	evidence := e.teamExpect(&seen, "")
	if evidence.ThreadID != card.ThreadID || evidence.FileID == "" {
		t.Fatalf("evidence outside the case's topic: %+v", evidence)
	}
	thread := card.ThreadID
	e.fake.SendTextInTopic(forum, zhang, thread, "/take")
	b.expect("张三（工号 K017）已接入")
	b.say("卡是昨天买的")
	relayed := e.teamExpect(&seen, "卡是昨天买的")
	if relayed.ThreadID != thread {
		t.Fatalf("buyer message went to topic %d, want %d", relayed.ThreadID, thread)
	}
	// Plain messages in the topic reach the buyer; no reply needed.
	e.fake.SendTextInTopic(forum, zhang, thread, "收到，正在核实")
	b.expect("收到，正在核实")
	e.fake.SendTextInTopic(forum, zhang, thread, "/approve original")
	e.teamExpect(&seen, number+" → 退款处理中")
	b.expect(number + "（订单 KM20261123301）已通过审核，¥300.00 将在 1-2 个工作日内原路退回支付宝")
}
