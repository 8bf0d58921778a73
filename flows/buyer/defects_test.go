package buyer

import (
	"strings"
	"testing"

	"github.com/refundbot/refundbot/flows"
)

// The dialog defects of issue 14, each through the real dialog and runtime.

func contains(t *testing.T, r turnResult, want string) {
	t.Helper()
	if !strings.Contains(r.text(), want) {
		t.Fatalf("replies lack %q:\n%s", want, r.text())
	}
}

func lacks(t *testing.T, r turnResult, unwanted string) {
	t.Helper()
	if strings.Contains(r.text(), unwanted) {
		t.Fatalf("replies have %q:\n%s", unwanted, r.text())
	}
}

func TestMenuStatusButtonAnswersOnceAndKeepsTheStep(t *testing.T) {
	e := newDialogEnv(t)
	const chat = 1
	menu := e.say(chat, "zh-hans", "你好") // the idle menu
	reasons := e.say(chat, "zh-hans", "/refund "+freeOrder)
	contains(t, reasons, "请选择退款原因")
	got := e.press(chat, "zh-hans", menu.replies[len(menu.replies)-1], "查询")
	contains(t, got, "请发送退款单号")
	if got.answer != "" || len(got.replies) != 1 {
		t.Fatalf("the status button also answered %q and said %d things:\n%s", got.answer, len(got.replies), got.text())
	}
	if got.state != StateChoosingReason {
		t.Fatalf("state = %s, want the reason step kept", got.state)
	}
}

func TestEvidenceIsAskedPerReason(t *testing.T) {
	e := newDialogEnv(t)
	for i, tt := range []struct {
		reason, want, unwanted string
	}{
		{"重复扣款", "无需上传，平台会核对扣款记录", "卡密充值时报错页面"},
		{"卡密无效", "卡密充值时报错页面的截图", "无需上传"},
	} {
		chat := int64(10 + i)
		e.say(chat, "zh-hans", "/refund "+freeOrder)
		st := e.press(chat, "zh-hans", lastMsgOf(e, chat, "/refund "+freeOrder), tt.reason)
		ev := e.press(chat, "zh-hans", st.replies[len(st.replies)-1], "使用这段陈述")
		contains(t, ev, tt.want)
		lacks(t, ev, tt.unwanted)
		if ev.state != StateCollectingEvidence {
			t.Fatalf("%s: state = %s", tt.reason, ev.state)
		}
	}
}

// lastMsgOf restarts a request in chat and returns its last reply.
func lastMsgOf(e *dialogEnv, chat int64, text string) flows.Message {
	r := e.say(chat, "zh-hans", text)
	return r.replies[len(r.replies)-1]
}

func TestOpenCaseIsToldAtTheOrderStep(t *testing.T) {
	e := newDialogEnv(t)
	got := e.say(1, "zh-hans", "/refund "+openOrder)
	contains(t, got, "已有进行中的退款申请 R-000001（已提交")
	lacks(t, got, "请选择退款原因")
	if got.state != StateIdle {
		t.Fatalf("state = %s, want idle", got.state)
	}
}

func TestPhoneMismatchKeepsTheDigitsStepWithOneAnswer(t *testing.T) {
	e := newDialogEnv(t)
	// Four digits where the order ID is wanted are not an order ID.
	e.say(1, "zh-hans", "/refund")
	got := e.say(1, "zh-hans", "5678")
	contains(t, got, "这看起来像手机号后 4 位")
	if got.state != StateAwaitingOrder {
		t.Fatalf("state = %s", got.state)
	}
	// A wrong answer for a real unbound order and one for an unknown order
	// read the same, and both keep the buyer on the digits step.
	var answers []string
	for chat, order := range map[int64]string{2: phoneOrdr, 3: "KM20269999999"} {
		contains(t, e.say(chat, "zh-hans", "/refund "+order), "后 4 位")
		wrong := e.say(chat, "zh-hans", "0000")
		if wrong.state != StateAwaitingPhone {
			t.Fatalf("%s: after a mismatch state = %s, want the digits step", order, wrong.state)
		}
		answers = append(answers, wrong.text())
	}
	if answers[0] != answers[1] {
		t.Fatalf("a mismatch is told apart by its order:\n%s\n%s", answers[0], answers[1])
	}
	// The buyer retypes the digits, full-width with a space: accepted.
	right := e.say(2, "zh-hans", "８０ ００")
	contains(t, right, "请选择退款原因")
	lacks(t, right, "请发送订单 8000")
}

func TestHelpListsAgentVerifyAndLanguage(t *testing.T) {
	e := newDialogEnv(t)
	for _, lang := range []string{"zh-hans", "en"} {
		got := e.say(1, lang, "/help")
		for _, want := range []string{"/agent", "/verify", "/lang"} {
			contains(t, got, want)
		}
	}
}

func TestEnglishSentencesGetEnglishAnswersUnlessLangChose(t *testing.T) {
	e := newDialogEnv(t)
	contains(t, e.say(1, "zh-hans", "I want a refund"), "Please send the ID of the order")
	e.say(1, "zh-hans", "/cancel")
	contains(t, e.say(1, "zh-hans", "我要退款"), "请发送需要退款的订单号")
	e.say(1, "zh-hans", "/cancel")
	e.say(1, "zh-hans", "/lang zh")
	contains(t, e.say(1, "zh-hans", "I want a refund"), "请发送需要退款的订单号")
}

func TestFullWidthIdentifiersEverywhere(t *testing.T) {
	e := newDialogEnv(t)
	contains(t, e.say(1, "zh-hans", "/status Ｒ－０００００１"), "R-000001（订单 "+openOrder)
	contains(t, e.say(1, "zh-hans", "r 000001 怎么样了"), "R-000001（订单 "+openOrder)
	e.say(2, "zh-hans", "/refund")
	contains(t, e.say(2, "zh-hans", "ＫＭ２０２６１１２０００２"), "请选择退款原因")
}

func TestScamWarningKeepsTheRequest(t *testing.T) {
	e := newDialogEnv(t)
	got := e.say(1, "zh-hans", "有个自称客服的让我加他ＱＱ退款，订单"+freeOrder)
	contains(t, got, "防骗提醒")
	contains(t, got, "请选择退款原因")
	innocent := e.say(2, "zh-hans", "QQ币充错了QQ号，想把钱退回来 "+phoneOrdr)
	lacks(t, innocent, "防骗提醒")
	contains(t, innocent, "后 4 位")
}

// TestTypedReasonAtTheReasonStep: a reason typed at the reason step is
// taken as the button would be; a text that names none, or one that does
// not fit the product, shows the buttons again.
func TestTypedReasonAtTheReasonStep(t *testing.T) {
	e := newDialogEnv(t)
	for i, tt := range []struct {
		text  string
		state State
		want  string
	}{
		{"卡密无效", StateWritingStatement, "已根据您的描述选择退款原因：卡密无效"},
		{"提示卡密已被使用", StateWritingStatement, "时间 + 事件 + 诉求"},
		{"你好", StateChoosingReason, "请选择退款原因"},
	} {
		chat := int64(40 + i)
		contains(t, e.say(chat, "zh-hans", "/refund "+freeOrder), "请选择退款原因")
		got := e.say(chat, "zh-hans", tt.text)
		contains(t, got, tt.want)
		if got.state != tt.state {
			t.Fatalf("%q at the reason step: state %s, want %s\n%s", tt.text, got.state, tt.state, got.text())
		}
	}
}
