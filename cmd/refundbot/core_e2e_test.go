package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/shopwebhook"
)

// submitWithScreenshot runs the buyer through the dialog for a game card
// whose code failed and returns the case number.
func (b *buyer) submitRefund(orderID, reason string, screenshot bool) string {
	b.e.t.Helper()
	b.say("我要退款 订单号" + orderID + " " + reason)
	b.press(b.expect("时间 + 事件 + 诉求"), "使用这段陈述")
	ev := b.expect("请上传凭证")
	if screenshot {
		b.e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG redeem error of "+orderID), "", "")
		ev = b.expect("已收到 1/10")
	}
	b.press(ev, "上传完成")
	b.press(b.expect("请核对"), "提交申请")
	number := caseNumber.FindString(b.expect("退款申请已提交").Text)
	if number == "" {
		b.e.t.Fatal("no case number")
	}
	return number
}

func TestAutoApprovedToBalanceWithTimeline(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM20261123001", 1001, "13800138000", "王者荣耀点卡 100元", "game_card", "95.00")
	b := e.buyer(1001, "zh-hans")
	number := b.submitRefund("KM20261123001", "卡密无效", true)

	approved := b.expect(number + "（订单 KM20261123001）已通过审核，可退 ¥95.00")
	for _, want := range []string{"【", "全额退款 ¥95.00", "系统快速通过"} {
		if !strings.Contains(approved.Text, want) {
			t.Errorf("approval notice lacks %q:\n%s", want, approved.Text)
		}
	}
	cb := b.press(approved, "退到平台余额")
	if got := e.answer(cb); !strings.Contains(got, "已选择退款方式") {
		t.Errorf("route button answered %q", got)
	}
	b.expect(number + "（订单 KM20261123001）已通过审核，¥95.00 已退到您的平台余额")

	// Pressing the other route afterwards changes nothing.
	b.press(approved, "原路退回")
	b.expect("当前状态为“已退款”，这个操作已不可用")

	b.say("/status " + number)
	st := b.expect("处理记录：")
	for _, want := range []string{"当前状态：已退款", "提交申请", "系统初审中", "已通过审核 ¥95.00", "选择了退款方式",
		"退款处理中", "已退款 ¥95.00", "审核依据：", "系统快速通过"} {
		if !strings.Contains(st.Text, want) {
			t.Errorf("status lacks %q:\n%s", want, st.Text)
		}
	}
	id, _ := refund.ParseCaseNumber(number)
	if bal, err := e.db().Balance(context.Background(), 1001, "CNY"); err != nil || bal != 9500 {
		t.Fatalf("balance %v, %v", bal, err)
	}
	if payouts, err := e.db().PayoutsByCase(context.Background(), id); err != nil || len(payouts) != 1 ||
		payouts[0].Status != refund.PayoutConfirmed {
		t.Fatalf("payouts %+v, %v", payouts, err)
	}
}

func TestMissingScreenshotAskedThenApproved(t *testing.T) {
	e := newEnv(t)
	e.putOrder("KM20261123002", 1002, "13800138000", "网易点卡 50元", "game_card", "48.00")
	b := e.buyer(1002, "zh-hans")
	number := b.submitRefund("KM20261123002", "卡密无效", false)

	ask := b.expect(number + "（订单 KM20261123002）需要补充材料")
	b.press(ask, "补充材料")
	b.expect("请为退款申请 " + number + " 上传补充材料")
	b.say("截图在这里")
	b.expect("现在需要上传图片或文件")
	e.fake.SendPhoto(b.chat, b.user, []byte("\x89PNG the missing screenshot"), "", "")
	got := b.expect("已收到 1/10")
	cb := b.press(got, "上传完成")
	if ans := e.answer(cb); !strings.Contains(ans, "已提交") {
		t.Errorf("done answered %q", ans)
	}
	b.expect(number + "（订单 KM20261123002）已通过审核，可退 ¥48.00")
	// The old "add evidence" button is now harmless.
	b.press(ask, "补充材料")
	b.expect("这个操作已不可用")
}

func TestRefusalAppealedByButton(t *testing.T) {
	e := newEnv(t)
	// Delivered three days ago: outside the game-card window.
	e.putOrderWith("KM20261123003", 1003, "13800138000", "Steam 充值卡 100", "game_card", "100.00",
		map[string]string{"delivered_at": `"` + threeDaysAgo() + `"`, "purchased_at": `"` + threeDaysAgo() + `"`})
	b := e.buyer(1003, "zh-hans")
	number := b.submitRefund("KM20261123003", "卡密无效", true)

	refused := b.expect(number + "（订单 KM20261123003）未通过审核")
	if !strings.Contains(refused.Text, "超过了该类商品的退款时限") && !strings.Contains(refused.Text, "已超过该类商品的退款时限") {
		t.Errorf("refusal does not say why:\n%s", refused.Text)
	}
	b.press(refused, "提交申诉")
	appeal := b.expect("每个申请只能申诉一次")
	b.press(appeal, "提交申诉")
	b.expect("申诉需要新的说明或新的凭证")
	b.say("11月20日到货后我在外地出差，回来第一时间兑换就提示卡密已被使用，不是我本人超时。")
	noted := b.expect("已记下您的申诉说明")
	b.press(noted, "提交申诉")
	b.expect(number + "（订单 KM20261123003）已转人工审核")

	id, _ := refund.ParseCaseNumber(number)
	c, err := e.db().Case(context.Background(), id)
	if err != nil || c.Status != refund.StatusHumanReview || c.Appeals != 1 {
		t.Fatalf("case %+v, %v", c, err)
	}
	// The refusal's appeal button cannot be used twice.
	b.press(refused, "提交申诉")
	b.expect("这个操作已不可用")
}

// shop is a fake shop receiving payout webhooks.
type shop struct {
	*httptest.Server
	mu       sync.Mutex
	payouts  []refund.PayoutRequest
	keys     []string
	badSigns int
}

func startShop(t *testing.T, secret string) *shop {
	s := &shop{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if !shopwebhook.Verify([]byte(secret), r.Header.Get("X-Refundbot-Timestamp"), body, r.Header.Get("X-Refundbot-Signature")) {
			s.badSigns++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p refund.PayoutRequest
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.payouts = append(s.payouts, p)
		s.keys = append(s.keys, r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *shop) received() []refund.PayoutRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]refund.PayoutRequest(nil), s.payouts...)
}

func TestOriginalRoutePaidThroughTheShop(t *testing.T) {
	shop := startShop(t, "hook-secret")
	e := newEnvWith(t, map[string]string{"SHOP_WEBHOOK_URL": shop.URL, "SHOP_WEBHOOK_SECRET": "hook-secret"})
	e.putOrder("KM20261123004", 1004, "13800138000", "王者荣耀点卡 100元", "game_card", "95.00")
	b := e.buyer(1004, "zh-hans")
	number := b.submitRefund("KM20261123004", "卡密无效", true)
	b.press(b.expect("请选择退款方式"), "原路退回支付宝")
	b.expect(number + "（订单 KM20261123004）已通过审核，¥95.00 将在 1-2 个工作日内原路退回支付宝")

	var payout refund.PayoutRequest
	waitUntil(t, func() bool {
		got := shop.received()
		if len(got) > 0 {
			payout = got[0]
		}
		return len(got) > 0
	})
	if payout.Amount != "95.00" || payout.OrderID != "KM20261123004" || payout.Case != number || shop.keys[0] != payout.PayoutID {
		t.Fatalf("shop got %+v with key %q", payout, shop.keys[0])
	}
	e.shopPost(t, "/api/v1/payouts/"+payout.PayoutID+"/confirm", "{}", http.StatusOK)
	b.expect(number + "（订单 KM20261123004）¥95.00 已原路退回支付宝")
	// The shop confirming twice is harmless; failing it now is a conflict.
	e.shopPost(t, "/api/v1/payouts/"+payout.PayoutID+"/confirm", "{}", http.StatusOK)
	e.shopPost(t, "/api/v1/payouts/"+payout.PayoutID+"/fail", `{"reason":"late"}`, http.StatusConflict)
	b.quiet()
	if n := len(shop.received()); n != 1 || shop.badSigns != 0 {
		t.Fatalf("shop got %d payouts, %d bad signatures", n, shop.badSigns)
	}
}

func threeDaysAgo() string { return time.Now().Add(-72 * time.Hour).UTC().Format(time.RFC3339) }

// waitUntil polls cond until it holds or the test's patience runs out.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shopPost calls the shop API as the shop would and checks the status.
func (e *env) shopPost(t *testing.T, path, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+e.httpAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+shopToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: status %d, want %d: %s", path, resp.StatusCode, want, msg)
	}
}
