package buyer

import (
	"regexp"
	"testing"

	"github.com/refundbot/refundbot/flows"
)

func TestLooksLikeScam(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"客服说要先交保证金才能退款", true},
		{"对方让我付解冻费", true},
		{"他要我的验证码", true},
		{"客服让我加QQ", true},
		{"加我微信 abc123 给你退", true},
		{"需要刷流水才能解冻", true},
		{"保 证 金", true},
		{"please pay a deposit to unfreeze your refund", true},
		{"send me the verification code", true},
		{"Add me on WeChat for faster refund", true},
		{"我用微信支付的，想退款", false},
		{"卡密提示已被使用", false},
		{"我要退款 订单号KM20261120001 卡密无效", false},
		{"I paid with wechat and got charged twice", false},
		{"I got paid", false},
		{"hotpot", false},
	}
	for _, tt := range tests {
		if got := flows.LooksLikeScam(tt.text); got != tt.want {
			t.Errorf("flows.LooksLikeScam(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestOrderAndCaseExtraction(t *testing.T) {
	pattern := regexp.MustCompile(DefaultOrderIDPattern)
	tests := []struct {
		text      string
		wantOrder string
		wantCase  int64
		intent    bool
	}{
		{"我要退款 订单号KM20261120001 卡密无效", "KM20261120001", 0, true},
		{"km20261120001", "KM20261120001", 0, false},
		{"R-000123", "", 123, false},
		{"进度 r000042 怎么样了", "", 42, false},
		{"refund please, order AB1234567", "AB1234567", 0, true},
		{"13800138000", "", 0, false},
		{"你好", "", 0, false},
	}
	for _, tt := range tests {
		order, _ := findOrderID(pattern, tt.text)
		if order != tt.wantOrder {
			t.Errorf("findOrderID(%q) = %q, want %q", tt.text, order, tt.wantOrder)
		}
		id, _ := findCaseNumber(tt.text)
		if id != tt.wantCase {
			t.Errorf("findCaseNumber(%q) = %d, want %d", tt.text, id, tt.wantCase)
		}
		if got := hasRefundIntent(tt.text); got != tt.intent {
			t.Errorf("hasRefundIntent(%q) = %v, want %v", tt.text, got, tt.intent)
		}
	}
}

func TestParseButton(t *testing.T) {
	nonce := "abcd1234"
	tests := []struct {
		data string
		ok   bool
	}{
		{menuData(actMenuRefund, ""), true},
		{menuData(actMenuOrder, "KM20261120001"), true},
		{menuData(actMenuOrder, "KM 1"), false},
		{menuData(actMenuRefund, "x"), false},
		{stepData(nonce, actReason, "invalid_code"), true},
		{stepData(nonce, actReason, "free_money"), false},
		{stepData(nonce, actSubmit, ""), true},
		{stepData(nonce, actSubmit, "x"), false},
		{stepData("short", actSubmit, ""), false},
		{stepData("ABCD1234", actSubmit, ""), false},
		{"s:" + nonce + ":drop_tables", false},
		{"", false},
		{"m", false},
		{"m::", false},
		{"x:refund", false},
		{string(make([]byte, 65)), false},
	}
	for _, tt := range tests {
		if _, ok := parseButton(tt.data); ok != tt.ok {
			t.Errorf("parseButton(%q) ok = %v, want %v", tt.data, ok, tt.ok)
		}
	}
}

func TestEveryButtonFitsTelegramsLimit(t *testing.T) {
	longest := stepData("abcd1234", actReason, "activation_failed")
	if len(longest) > maxCallbackDataSz {
		t.Fatalf("callback data %q is %d bytes, Telegram allows 64", longest, len(longest))
	}
	if order := menuData(actMenuOrder, "A234567890123456789012345678901234567890"); len(order) > maxCallbackDataSz {
		t.Fatalf("callback data %q is %d bytes, Telegram allows 64", order, len(order))
	}
}

func TestIdentifiersAreNormalised(t *testing.T) {
	pattern := regexp.MustCompile(DefaultOrderIDPattern)
	for _, tt := range []struct {
		text      string
		wantOrder string
		wantCase  int64
	}{
		{"ＫＭ２０２６１１２０００１", "KM20261120001", 0},
		{"KM 2026 1120 001 退款", "KM20261120001", 0},
		{"KM20261120001 5678", "KM20261120001", 0}, // the digits after an ID stay apart
		{"Ｒ－０００１２３", "", 123},
		{"R 000123", "", 123},
		{"r-000123", "", 123},
		{"R—000123", "", 123},
		{"5678", "", 0},
		{"13800138000", "", 0},
	} {
		if got, _ := findOrderID(pattern, tt.text); got != tt.wantOrder {
			t.Errorf("findOrderID(%q) = %q, want %q", tt.text, got, tt.wantOrder)
		}
		if got, _ := findCaseNumber(tt.text); got != tt.wantCase {
			t.Errorf("findCaseNumber(%q) = %d, want %d", tt.text, got, tt.wantCase)
		}
	}
	if id, ok := parseOrderAnswer(pattern, "5678"); ok {
		t.Errorf("parseOrderAnswer(5678) = %q: bare digits taken for an order ID", id)
	}
	if got := digitsAnswer("５６ ７８"); got != "5678" {
		t.Errorf("digitsAnswer = %q", got)
	}
}

func TestBuyerScamCheckIsStricterThanTheDesks(t *testing.T) {
	for _, tt := range []struct {
		text       string
		buyer, any bool
	}{
		{"充错了QQ号，想退款", false, true},
		{"账号被冻结了", false, true},
		{"验证码收不到怎么办", false, true},
		{"客服让我加QQ", true, true},
		{"他让我报一下短信验证码", true, true},
		{"someone told me to pay a deposit to unfreeze my refund", true, true},
		{"I paid with wechat", false, false},
	} {
		if got := flows.SmellsOfScam(tt.text); got != tt.buyer {
			t.Errorf("SmellsOfScam(%q) = %v, want %v", tt.text, got, tt.buyer)
		}
		if got := flows.LooksLikeScam(tt.text); got != tt.any {
			t.Errorf("LooksLikeScam(%q) = %v, want %v (the desk's check stays as strict)", tt.text, got, tt.any)
		}
	}
}
