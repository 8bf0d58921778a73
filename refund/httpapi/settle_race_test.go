package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
	"github.com/refundbot/refundbot/refund/inmem"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

// TestSettlePayoutConcurrentRepeats sends the same confirmation (or
// failure report) 20 times at once through the whole API, over the real
// refund.Service and both stores: every answer is 200 with the payout,
// as openapi.yaml promises for a repeat, however the calls interleave.
// Before the service re-read the payout after a refused change, the
// losers of the race got 409 "is refunded, not payout_pending".
func TestSettlePayoutConcurrentRepeats(t *testing.T) {
	stores := map[string]func(t *testing.T) refund.LifecycleStore{
		"postgres": func(t *testing.T) refund.LifecycleStore { return pgtest.Open(t) },
		"inmem":    func(*testing.T) refund.LifecycleStore { return inmem.New() },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := open(t)
			policy := refund.DefaultPolicy()
			policy.FrequentRefundLimit = 1000 // one buyer, a refund a round
			svc, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: policy, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			api := newTestAPI(t, func(cfg *httpapi.Config) { cfg.Payouts = svc })
			for round := range 8 {
				route, want := "confirm", "confirmed"
				body := ""
				if round%2 == 1 {
					route, want, body = "fail", "failed", `{"reason":"收款账户已注销"}`
				}
				id := pendingPayout(t, store, svc, fmt.Sprintf("KM2026112%04d", round))
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range 20 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						w := api.do(t, request{method: http.MethodPost, path: "/api/v1/payouts/" + id + "/" + route, body: body})
						var got struct{ ID, Status string }
						if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.ID != id || got.Status != want {
							t.Errorf("round %d, call %d: POST %s: %d %s; want 200 with the payout %s", round, i, route, w.Code, w.Body, want)
						}
					}()
				}
				close(start)
				wg.Wait()
			}
		})
	}
}

// pendingPayout stores an order and a case the first review approves,
// sends it the original way, and returns the pending payout's ID.
func pendingPayout(t *testing.T, store refund.LifecycleStore, svc *refund.Service, orderID string) string {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	o := sampleOrder()
	o.ID, o.PurchasedAt, o.DeliveredAt = orderID, now.Add(-time.Hour), now.Add(-time.Hour)
	if _, err := store.UpsertOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	c, err := store.CreateCase(ctx, refund.NewCase{OrderID: orderID, BuyerUserID: o.BuyerTelegramID,
		ChatID: o.BuyerTelegramID, Reason: refund.ReasonInvalidCode, Statement: "卡密提示已被使用，申请全额退款",
		RequestedAmount: o.AmountPaid, Currency: "CNY", Language: "zh-CN", SubmissionKey: "k-" + orderID,
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f-" + orderID, FileUniqueID: "u-" + orderID}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Review(ctx, c.ID); err != nil || c.Status != refund.StatusApproved {
		t.Fatalf("review: %s, %v; want approved", c.Status, err)
	}
	if _, err := svc.ChooseRoute(ctx, c.ID, o.BuyerTelegramID, refund.RouteOriginal); err != nil {
		t.Fatal(err)
	}
	payouts, err := store.PayoutsByCase(ctx, c.ID)
	if err != nil || len(payouts) != 1 {
		t.Fatalf("payouts %+v, %v; want one", payouts, err)
	}
	return payouts[0].ID
}
