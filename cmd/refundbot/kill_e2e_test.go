package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Crash tests: the bot is a real process, killed with SIGKILL (no
// shutdown, no deferred function, nothing flushed), then started again.

// TestKilledBeforeReplyingHandlesTheUpdateOnceAfterRestart: the bot has
// taken an update from Telegram and is failing to send its answer (Telegram
// answers 500) when it is killed. The turn and its answer were saved
// together in Redis, so the restarted bot sends that answer, exactly once,
// once the dead process's claim on the chat's send queue has run out.
func TestKilledBeforeReplyingHandlesTheUpdateOnceAfterRestart(t *testing.T) {
	e := newEnvWith(t, map[string]string{"CHAT_LEASE_TTL": "2s"})
	p := e.startProcess()
	b := e.buyer(19001, "en")
	b.say("/help")
	b.expect("/status")
	answers := len(e.fake.Messages(b.chat.ID))

	e.fake.FailNext("sendMessage", 2, http.StatusInternalServerError, 0)
	b.say("/status KM76000000001")
	e.within(waitFor, "the bot never tried to answer", func() bool { return e.fake.Calls("sendMessage") > answers })
	p.kill()
	if got := len(e.fake.Messages(b.chat.ID)); got != answers {
		t.Fatalf("an answer arrived before the kill (%d messages); the test must kill the bot before it replies", got)
	}

	e.startProcess()
	b.expect("KM76000000001")
	b.say("/status KM76000000002")
	b.expect("KM76000000002")
	var once int
	for _, m := range e.fake.Messages(b.chat.ID) {
		if strings.Contains(m.Text, "KM76000000001") {
			once++
		}
	}
	if once != 1 {
		t.Fatalf("the update in hand at the kill was answered %d times, want once", once)
	}
}

// TestKilledDuringAPayoutPostsItAgainWithTheSameKey: the bot is killed while
// the shop holds its payout request. The restarted bot (any replica, once
// the dead one's outbox lease ends) posts the payout again with the same
// Idempotency-Key, so the shop pays once; its confirmation then reaches the
// buyer.
func TestKilledDuringAPayoutPostsItAgainWithTheSameKey(t *testing.T) {
	shop := startHangingShop(t, "hook-secret")
	e := newEnvWith(t, map[string]string{"SHOP_WEBHOOK_URL": shop.URL, "SHOP_WEBHOOK_SECRET": "hook-secret",
		"OUTBOX_LEASE": "2s"})
	e.putOrder("KM76000000003", 19002, "13800000002", "王者荣耀点卡 100元", "game_card", "95.00")
	p := e.startProcess()
	b := e.buyer(19002, "zh-hans")
	number := b.refundToAlipay("KM76000000003")
	select {
	case <-shop.hung:
	case <-time.After(waitFor):
		t.Fatal("the payout was never posted to the shop")
	}
	p.kill()
	select {
	case <-shop.aborted:
	case <-time.After(waitFor):
		t.Fatal("the killed bot's request to the shop never ended")
	}

	e.startProcess()
	var (
		keys    []string
		payouts []refund.PayoutRequest
	)
	e.within(waitFor, "the interrupted payout was not posted again after the restart", func() bool {
		keys, payouts = shop.seen()
		return len(payouts) > 0
	})
	if len(keys) != 2 || keys[1] != keys[0] || payouts[0].PayoutID != keys[0] || payouts[0].Case != number ||
		payouts[0].Amount != "95.00" {
		t.Fatalf("shop got keys %q and payouts %+v; want the same payout twice under one key", keys, payouts)
	}
	waitUntil(t, func() bool { return e.undelivered(refund.OutboxPayout) == 0 })
	e.shopPost(t, "/api/v1/payouts/"+payouts[0].PayoutID+"/confirm", "{}", http.StatusOK)
	b.expect(number + "（订单 KM76000000003）¥95.00 已原路退回支付宝")
}
