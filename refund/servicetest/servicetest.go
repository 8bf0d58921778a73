// Package servicetest holds checks of the refund core that must hold on
// every store: they run the real refund.Service against a store given by
// the caller, so the PostgreSQL store is held to them under real
// concurrency and the in-memory store under the race detector.
package servicetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/outbox"
)

// Run runs every check against fresh stores made by open.
func Run(t *testing.T, open func(t *testing.T) refund.LifecycleStore) {
	t.Run("concurrent approvals pay once", func(t *testing.T) {
		t.Parallel()
		testConcurrentApprovals(t, open(t))
	})
	t.Run("concurrent route choices pay once", func(t *testing.T) {
		t.Parallel()
		testConcurrentRoutes(t, open(t))
	})
	t.Run("concurrent identical settlements all return the payout", func(t *testing.T) {
		t.Parallel()
		testConcurrentSettlements(t, open(t))
	})
	t.Run("a worker killed mid-delivery is replaced with the same payout ID", func(t *testing.T) {
		t.Parallel()
		testKilledWorker(t, open(t))
	})
}

const buyer = 4242

func service(t *testing.T, store refund.LifecycleStore, policy refund.Policy) *refund.Service {
	t.Helper()
	svc, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: policy, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// submit stores an order of paid cents and a case with a screenshot for
// it, and runs the first review.
func submit(t *testing.T, ctx context.Context, store refund.LifecycleStore, svc *refund.Service, id string, paid refund.Money) refund.Case {
	t.Helper()
	now := time.Now().UTC()
	o := refund.Order{ID: id, BuyerTelegramID: buyer, ContactPhone: "13800001234", Product: "点卡",
		Category: refund.CategoryGameCard, AmountPaid: paid, ListPrice: paid, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: now.Add(-time.Hour), DeliveredAt: now.Add(-time.Hour)}
	if _, err := store.UpsertOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	c, err := store.CreateCase(ctx, refund.NewCase{OrderID: id, BuyerUserID: buyer, ChatID: buyer,
		Reason: refund.ReasonInvalidCode, Statement: "卡密提示已被使用，申请全额退款", RequestedAmount: paid,
		Currency: "CNY", Language: "zh-CN", SubmissionKey: "k-" + id,
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f-" + id, FileUniqueID: "u-" + id}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Review(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

// race runs n calls at once and returns how many succeeded; every failure
// must be an ECONFLICT.
func race(t *testing.T, n int, call func(i int) error) int {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	var won atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := call(i)
			switch refund.ErrorCode(err) {
			case "":
				won.Add(1)
			case refund.ECONFLICT:
			default:
				t.Errorf("call %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(won.Load())
}

func testConcurrentApprovals(t *testing.T, store refund.LifecycleStore) {
	ctx := context.Background()
	policy := refund.DefaultPolicy()
	gc := policy.Categories[refund.CategoryGameCard]
	gc.Payout = refund.PayoutBalanceOnly
	policy.Categories[refund.CategoryGameCard] = gc
	svc := service(t, store, policy)
	c := submit(t, ctx, store, svc, "KM-RACE-1", 30000) // over the fast-lane limit: a human decides
	if c.Status != refund.StatusHumanReview {
		t.Fatalf("case is %s, want human_review", c.Status)
	}
	won := race(t, 8, func(i int) error {
		_, err := svc.Decide(ctx, c.ID, fmt.Sprintf("agent:%d", i), refund.Verdict{Outcome: refund.OutcomeApprove})
		return err
	})
	if won != 1 {
		t.Fatalf("%d approvals won, want 1", won)
	}
	checkPaidOnce(t, ctx, store, c.ID, 30000)
	if bal, err := store.Balance(ctx, buyer, "CNY"); err != nil || bal != 30000 {
		t.Fatalf("balance %v (%v), want 300.00 credited once", bal, err)
	}
}

func testConcurrentRoutes(t *testing.T, store refund.LifecycleStore) {
	ctx := context.Background()
	svc := service(t, store, refund.DefaultPolicy())
	c := submit(t, ctx, store, svc, "KM-RACE-2", 9500)
	if c.Status != refund.StatusApproved {
		t.Fatalf("case is %s, want approved", c.Status)
	}
	won := race(t, 8, func(i int) error {
		route := refund.RouteOriginal
		if i%2 == 1 {
			route = refund.RouteBalance
		}
		_, err := svc.ChooseRoute(ctx, c.ID, buyer, route)
		return err
	})
	if won != 1 {
		t.Fatalf("%d route choices won, want 1", won)
	}
	checkPaidOnce(t, ctx, store, c.ID, 9500)
}

func checkPaidOnce(t *testing.T, ctx context.Context, store refund.LifecycleStore, caseID int64, amount refund.Money) {
	t.Helper()
	payouts, err := store.PayoutsByCase(ctx, caseID)
	if err != nil || len(payouts) != 1 || payouts[0].Amount != amount {
		t.Fatalf("payouts %+v (%v), want one of %v", payouts, err, amount)
	}
}

// testKilledWorker: a worker takes the payout message and dies before it
// can record the delivery; once its lease ends, another worker delivers
// the same message, with the same payout ID, so the shop pays once.
func testKilledWorker(t *testing.T, store refund.LifecycleStore) {
	ctx := context.Background()
	svc := service(t, store, refund.DefaultPolicy())
	c := submit(t, ctx, store, svc, "KM-KILL-1", 9500)
	if _, err := svc.ChooseRoute(ctx, c.ID, buyer, refund.RouteOriginal); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var keys []string
	record := func(item refund.OutboxItem) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, item.Key)
	}

	// The first worker claims the item, the shop receives it, and the
	// process is killed before anything is recorded: a claim with no
	// outcome. (A clean stop hands the item back at once instead.)
	const lease = 300 * time.Millisecond
	claimed, err := store.ClaimOutbox(ctx, refund.OutboxPayout, time.Now(), lease, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("the killed worker's claim: %+v, %v", claimed, err)
	}
	record(claimed[0])
	second := outbox.New(outbox.Config{Store: store, Kind: refund.OutboxPayout, Lease: lease, Poll: time.Hour,
		Deliver: func(_ context.Context, item refund.OutboxItem) error { record(item); return nil }})
	if n, err := second.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("second worker took a leased item: %d, %v", n, err)
	}
	time.Sleep(lease + 100*time.Millisecond)
	if n, err := second.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("second worker after the lease: %d, %v", n, err)
	}
	if n, err := second.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("delivered item came back: %d, %v", n, err)
	}
	payouts, err := store.PayoutsByCase(ctx, c.ID)
	if err != nil || len(payouts) != 1 {
		t.Fatalf("payouts %+v, %v", payouts, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != payouts[0].ID || keys[1] != payouts[0].ID {
		t.Fatalf("deliveries %v, want payout %s twice", keys, payouts[0].ID)
	}
}

// testConcurrentSettlements: a shop that never saw its confirmation (or
// failure report) acknowledged sends it again, possibly while the first is
// still being applied. Every repeat, whatever the interleaving, gets the
// payout back, as the API documents, and the case moves once. Several
// rounds, since one round may happen to run the calls one after another.
func testConcurrentSettlements(t *testing.T, store refund.LifecycleStore) {
	ctx := context.Background()
	policy := refund.DefaultPolicy()
	// One buyer gets every round's refund: no frequent-refund review.
	policy.FrequentRefundLimit = 1000
	svc := service(t, store, policy)
	const rounds, callers = 6, 20
	for round := range rounds {
		ok := round%2 == 0
		c := submit(t, ctx, store, svc, fmt.Sprintf("KM-SETTLE-%d", round), 9500)
		if _, err := svc.ChooseRoute(ctx, c.ID, buyer, refund.RouteOriginal); err != nil {
			t.Fatal(err)
		}
		payouts, err := store.PayoutsByCase(ctx, c.ID)
		if err != nil || len(payouts) != 1 {
			t.Fatalf("payouts %+v, %v", payouts, err)
		}
		st := refund.Settlement{PayoutID: payouts[0].ID, OK: ok}
		want := refund.PayoutConfirmed
		if !ok {
			st.Error, want = "收款账户已注销", refund.PayoutFailed
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				p, err := svc.SettlePayout(ctx, st)
				if err != nil || p.Status != want || p.ID != st.PayoutID {
					t.Errorf("round %d, call %d (ok=%v): %+v, %v; want the payout %s", round, i, ok, p, err, want)
				}
			}()
		}
		close(start)
		wg.Wait()
		events, err := store.Events(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		moves := 0
		for _, e := range events {
			if e.Type == refund.EventStatusChanged && (e.Status == refund.StatusRefunded || e.Status == refund.StatusPayoutFailed) {
				moves++
			}
		}
		if moves != 1 {
			t.Errorf("round %d: the case was settled %d times, want once: %+v", round, moves, events)
		}
	}
}
