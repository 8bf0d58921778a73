package main

import (
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// TestPersonFromEveryStepKeepsTheStep asks for a person at each step of
// the refund dialog, in the words buyers use, and checks that the request
// is escalated rather than taken as the step's answer, and that after the
// agent's /release the dialog goes on at that step.
func TestPersonFromEveryStepKeepsTheStep(t *testing.T) {
	e, zhang, _ := newDeskEnv(t)
	// No buyer on record: the phone-digits step is asked too.
	e.putOrder("KM20261123120", 0, "13800138000", "网易点卡 50元", "game_card", "48.00")
	b := e.buyer(1120, "zh-hans")
	seen := 0
	var prompt telegramfake.SentMessage
	steps := []struct {
		name string
		// enter brings the dialog to the step; its prompt contains want.
		enter func()
		want  string
		ask   string
		// resume answers the step; the answer leads to next.
		resume func()
		next   string
	}{
		{"order ID", func() { b.say("我要退款") }, "请发送需要退款的订单号", "转人工",
			func() { b.say("KM20261123120") }, "预留手机号的后 4 位"},
		{"phone digits", nil, "预留手机号的后 4 位", "人工客服",
			func() { b.say("8000") }, "请选择退款原因"},
		{"reason buttons", nil, "请选择退款原因", "human",
			func() { b.press(prompt, "卡密无效") }, "时间 + 事件 + 诉求"},
		{"statement", nil, "时间 + 事件 + 诉求", "我要投诉",
			func() { b.say("11月23日购买网易点卡50元，卡密提示已被使用，申请全额退款") }, "请上传凭证"},
		{"evidence", nil, "请上传凭证", "找你们负责人",
			func() {
				e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG used card"), "", "")
				b.press(b.expect("已收到 1/10"), "上传完成")
			}, "请核对"},
		{"confirmation", nil, "请核对", "/agent",
			func() { b.press(prompt, "提交申请") }, "退款申请已提交"},
	}
	for i, st := range steps {
		if st.enter != nil {
			st.enter()
		}
		if i == 0 || st.enter != nil {
			prompt = b.expect(st.want)
		}
		before := len(e.fake.Messages(b.chat.ID))
		b.say(st.ask)
		// The place comes last: it is the message edited as it moves.
		b.expect("客服结束对话后从这一步接着来")
		b.expect("您前面还有 0 位")
		for _, m := range e.fake.Messages(b.chat.ID)[before:] {
			if strings.Contains(m.Text, st.next) {
				t.Fatalf("step %s: %q was taken as the step's answer: the bot went on with %q", st.name, st.ask, m.Text)
			}
		}
		card := e.teamExpect(&seen, "#")
		zhang.press(card, "接手")
		b.expect("张三（工号 K017）已接入")
		zhang.reply(card, "/release")
		e.teamExpect(&seen, "已交还机器人")
		b.expect("已结束本次会话")

		st.resume()
		prompt = b.expect(st.next)
		t.Logf("step %s: %q escalated, the step kept, resumed with %q", st.name, st.ask, firstLine(prompt.Text))
	}
}

// TestEscalationEvidenceRetriedAsOneAlbum makes the album of a case's
// evidence fail on its way to the team: the buyer is told their place at
// once, the card is posted once, and the album follows under it on the
// outbox's retry, as one sendMediaGroup.
func TestEscalationEvidenceRetriedAsOneAlbum(t *testing.T) {
	e, _, _ := newDeskEnv(t)
	const orderID = "KM20261123121"
	e.putOrder(orderID, 1121, "13800138000", "Steam 充值卡 300", "game_card", "300.00")
	b := e.buyer(1121, "zh-hans")
	e.fake.FailNext("sendMediaGroup", 1, 400, 0)
	b.say("我要退款 订单号" + orderID + " 卡密无效")
	b.press(b.expect("时间 + 事件 + 诉求"), "使用这段陈述")
	b.expect("请上传凭证")
	e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG error page"), "报错页面", "album-b")
	e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG card back"), "", "album-b")
	b.press(b.expect("已收到 2/10"), "上传完成")
	b.press(b.expect("请核对"), "提交申请")
	b.expectAll("已转人工审核", "您前面还有 0 位")

	seen := 0
	card := e.teamExpect(&seen, "2 个文件")
	deadline := time.Now().Add(waitFor)
	var album []telegramfake.SentMessage
	for time.Now().Before(deadline) && len(album) < 2 {
		album = album[:0]
		for _, m := range e.fake.Messages(teamChatID) {
			if m.FileID != "" {
				album = append(album, m)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(album) != 2 {
		t.Fatalf("team got %d evidence files, want the album of 2 after the retry", len(album))
	}
	for _, m := range album {
		if m.Method != "sendMediaGroup" || m.MediaGroupID == "" || m.MediaGroupID != album[0].MediaGroupID ||
			m.ReplyToMessageID != card.MessageID {
			t.Errorf("evidence %+v: want one album under the card", m)
		}
	}
	if album[0].Text != "报错页面" {
		t.Errorf("album caption %q, want the buyer's", album[0].Text)
	}
	cards := 0
	for _, m := range e.fake.Messages(teamChatID) {
		if strings.Contains(m.Text, "2 个文件") {
			cards++
		}
	}
	if cards != 1 {
		t.Errorf("%d cards in the team chat, want 1 however often the delivery was tried", cards)
	}
	if n := e.fake.Calls("sendMediaGroup"); n != 2 {
		t.Errorf("sendMediaGroup called %d times, want the failure and its retry", n)
	}
	b.quiet()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
