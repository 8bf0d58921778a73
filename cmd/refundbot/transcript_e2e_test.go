package main

import (
	"strings"
	"testing"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// transcript keeps what each side said, in order, for a test's log: the
// README and the closing notes quote it.
type transcript struct {
	lines []string
}

func (tr *transcript) said(who, text string) {
	tr.lines = append(tr.lines, who+": "+strings.ReplaceAll(text, "\n", "\n    "))
}

func (tr *transcript) got(who string, m telegramfake.SentMessage) telegramfake.SentMessage {
	tr.said("bot → "+who, m.Text)
	return m
}

// TestTranscriptOfAnAgentAddedByID: with AGENT_USER_IDS=1001,1002 and
// nothing else, 李娜 takes a buyer's case from the team chat and replies;
// every line names her as Telegram does. Run with -v to read it.
func TestTranscriptOfAnAgentAddedByID(t *testing.T) {
	e, li, _ := newStaffEnv(t)
	tr := &transcript{}
	b := e.buyer(1501, "zh-hans")
	e.putOrder("KM20261202150", b.user.ID, "13800138000", "Steam 充值卡 300", "game_card", "300.00")
	number := b.submitRefund("KM20261202150", "卡密无效", true)
	tr.said("买家", "（提交退款申请 "+number+"，¥300 超过自动审核额度）")
	tr.got("买家", b.expect("已转人工审核"))

	seen := 0
	card := tr.got("客服群", e.teamExpect(&seen, number))
	tr.said("李娜", "（点“🙋 接手”）")
	answer := e.answer(li.press(card, "接手"))
	tr.said("bot → 李娜（按钮提示）", answer)
	tr.got("客服群", e.teamExpect(&seen, "由 李娜（S1001）接手"))
	joined := tr.got("买家", b.expect("已接入"))

	b.say("卡密是 ABCD-1234，一直提示已被使用")
	tr.said("买家", "卡密是 ABCD-1234，一直提示已被使用")
	relayed := tr.got("客服群", e.teamExpect(&seen, "ABCD-1234"))
	li.reply(relayed, "您好，已查到这张卡在您购买前已被兑换，马上为您退款")
	tr.said("李娜（回复上一条）", "您好，已查到这张卡在您购买前已被兑换，马上为您退款")
	signed := tr.got("买家", b.expect("马上为您退款"))
	li.reply(card, "/approve")
	tr.said("李娜（回复卡片）", "/approve")
	tr.got("客服群", e.teamExpect(&seen, number+" → "))
	approved := tr.got("买家", b.expect("已通过审核"))

	t.Log("\n" + strings.Join(tr.lines, "\n"))
	for what, text := range map[string]string{"buyer's joined notice": joined.Text, "signed reply": signed.Text} {
		if !strings.Contains(text, "李娜") {
			t.Errorf("%s %q does not name 李娜", what, text)
		}
	}
	if !strings.Contains(approved.Text, number) {
		t.Errorf("approval %q does not name the case", approved.Text)
	}
}
