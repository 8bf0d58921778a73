package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/refundbot/refundbot/refund"
)

var caseNumber = regexp.MustCompile(`R-\d{6,}`)

func TestGameCardRefundFromFreeText(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM20261120001", 1001, "13800138000", "王者荣耀点卡 100元", "game_card", "95.00")
	b := e.buyer(1001, "zh-hans")

	b.say("/start")
	hello := b.expect("退款助手")
	for _, want := range []string{"保证金", "解冻费", "验证码", "支付密码", "QQ", "微信"} {
		if !strings.Contains(hello.Text, want) {
			t.Errorf("greeting lacks the scam warning's %q:\n%s", want, hello.Text)
		}
	}

	b.say("我要退款 订单号KM20261120001 卡密无效")
	b.expect("卡密无效/已被使用")
	draft := b.expect("11月20日购买王者荣耀点卡 100元（订单号 KM20261120001，实付 ¥95.00），卡密提示无效或已被使用，申请全额退款。")
	b.press(draft, "使用这段陈述")
	b.expect("卡密充值时报错页面的截图")
	e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG screenshot of the redeem error"), "提示已被使用", "")
	got := b.expect("已收到 1/10")
	b.press(got, "上传完成")
	summary := b.expect("请核对")
	for _, want := range []string{"KM20261120001", "¥95.00", "卡密无效/已被使用", "1 个文件"} {
		if !strings.Contains(summary.Text, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.Text)
		}
	}
	b.press(summary, "提交申请")
	done := b.expect("退款申请已提交")
	number := caseNumber.FindString(done.Text)
	if number == "" {
		t.Fatalf("no case number in %q", done.Text)
	}

	// The first review runs at once: unused, screenshot attached, under
	// the fast-lane limit. The buyer is told without asking.
	b.expect(number + "（订单 KM20261120001）已通过审核，可退 ¥95.00。请选择退款方式")

	id, _ := refund.ParseCaseNumber(number)
	c, err := e.db().Case(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.OrderID != "KM20261120001" || c.BuyerUserID != 1001 || c.Reason != refund.ReasonInvalidCode ||
		c.RequestedAmount != 9500 || c.Status != refund.StatusApproved || len(c.Evidence) != 1 ||
		c.Evidence[0].Kind != refund.EvidencePhoto || c.Evidence[0].Caption != "提示已被使用" ||
		!strings.Contains(c.Statement, "卡密提示无效") {
		t.Fatalf("stored case = %+v", c)
	}
	events, err := e.db().Events(context.Background(), id)
	if err != nil || len(events) != 3 || events[0].Type != refund.EventSubmitted ||
		events[1].Status != refund.StatusAutoReview || events[2].Status != refund.StatusApproved {
		t.Fatalf("events = %+v, %v", events, err)
	}

	// Status by message: the case number alone, and /status with the order.
	b.say(number)
	st := b.expect("当前状态：已通过审核")
	if !regexp.MustCompile(`【\d{1,2}月\d{1,2}日 \d\d:\d\d】`).MatchString(st.Text) || !strings.Contains(st.Text, "¥95.00") || !strings.Contains(st.Text, "下一步") {
		t.Errorf("status answer is not in time+event+request form: %q", st.Text)
	}
	b.say("/status KM20261120001")
	b.expect(number + "（订单 KM20261120001")

	// A second request for the same order is refused at the order step,
	// with the open case and its status, not after every step at Submit.
	b.say("/refund KM20261120001")
	b.expect("已有进行中的退款申请 " + number + "（已通过审核）")
	b.say(number)
	b.expect("当前状态：已通过审核") // the dialog is back at the start
}

func TestTopupRefundInEnglishWithButtonsAlbumAndEdit(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM20261121007", 2001, "13900001234", "China Mobile top-up 50", "topup", "49.80")
	b := e.buyer(2001, "en-US")

	b.say("/refund")
	b.say("km20261121007") // lower case, as people type it
	reasons := b.expect("Why do you want a refund?")
	var labels []string
	for _, row := range reasons.Keyboard {
		labels = append(labels, row[0].Text)
	}
	if !strings.Contains(strings.Join(labels, "|"), "Top-up not received") || strings.Contains(strings.Join(labels, "|"), "Invalid / already used code") {
		t.Fatalf("top-up reasons = %v", labels)
	}
	b.press(reasons, "Top-up not received")
	b.expect("time + event + request")
	b.say("On Nov 21 I topped up 50 yuan to 139****1234, it never arrived, please refund.")
	b.expect("balance or top-up history")

	// An album of three screenshots gets one answer.
	for i := range 3 {
		e.fake.SendPhoto(b.chat, b.user, []byte(fmt.Sprintf("\x89PNG album photo %d", i)), "", "album-1")
	}
	b.expect("Received 3/10 files")
	// The same screenshot again is recognised.
	e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG album photo 1"), "", "")
	b.expect("already uploaded")
	got := b.expect("Received 3/10 files")

	b.press(got, "Done uploading")
	summary := b.expect("Please check your refund request")
	b.press(summary, "Edit")
	b.press(b.expect("What would you like to change?"), "Change statement")
	b.expect("time + event + request")
	b.say("Nov 21 14:00: paid 49.80 for a top-up that never arrived. I ask for a full refund.")
	ev := b.expect("Please upload evidence")
	if !strings.Contains(ev.Text, "Received 3/10") {
		t.Errorf("evidence step after an edit does not show the files kept: %q", ev.Text)
	}
	b.press(ev, "Done uploading")
	summary = b.expect("Please check your refund request")
	if !strings.Contains(summary.Text, "paid 49.80 for a top-up") || !strings.Contains(summary.Text, "3 files") ||
		!strings.Contains(summary.Text, "¥49.80") {
		t.Errorf("summary after edit = %q", summary.Text)
	}
	b.press(summary, "Submit")
	b.expect("Your refund request is submitted: case R-")
}
