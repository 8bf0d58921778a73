package refund_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

// clock is a settable service clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     *testing.T
	store refund.LifecycleStore
	svc   *refund.Service
	clock *clock
	ctx   context.Context
	kicks map[refund.OutboxKind]int
	mu    sync.Mutex
}

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

func newFixture(t *testing.T, store refund.LifecycleStore, policy refund.Policy) *fixture {
	t.Helper()
	f := &fixture{t: t, store: store, clock: &clock{t: time.Now().UTC()}, ctx: context.Background(),
		kicks: map[refund.OutboxKind]int{}}
	svc, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: policy, Location: shanghai,
		Now: f.clock.now, Kick: func(k refund.OutboxKind) { f.mu.Lock(); f.kicks[k]++; f.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

const buyer = 4242

// order returns a delivered, unused ¥95.00 game card paid by Alipay.
func (f *fixture) order(id string, mutate func(*refund.Order)) refund.Order {
	f.t.Helper()
	now := f.clock.now()
	o := refund.Order{ID: id, BuyerTelegramID: buyer, ContactPhone: "13800001234", Product: "王者荣耀点卡 100元",
		Category: refund.CategoryGameCard, AmountPaid: 9500, ListPrice: 9500, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: now.Add(-2 * time.Hour), DeliveredAt: now.Add(-2 * time.Hour)}
	if mutate != nil {
		mutate(&o)
	}
	if _, err := f.store.UpsertOrder(f.ctx, o); err != nil {
		f.t.Fatal(err)
	}
	return o
}

func file(n int) refund.Evidence {
	return refund.Evidence{Kind: refund.EvidencePhoto, FileID: fmt.Sprintf("file-%d", n),
		FileUniqueID: fmt.Sprintf("uniq-%d", n), Size: 1000}
}

func (f *fixture) submit(o refund.Order, reason refund.Reason, files ...refund.Evidence) refund.Case {
	f.t.Helper()
	c, err := f.store.CreateCase(f.ctx, refund.NewCase{OrderID: o.ID, BuyerUserID: buyer, ChatID: buyer,
		Reason: reason, Statement: "11月20日购买点卡，卡密提示已被使用，申请全额退款", RequestedAmount: o.AmountPaid,
		Currency: o.Currency, Language: "zh-CN", SubmissionKey: "key-" + o.ID + "-" + string(reason), Evidence: files})
	if err != nil {
		f.t.Fatal(err)
	}
	c, err = f.svc.Review(f.ctx, c.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) wantStatus(c refund.Case, want refund.Status) refund.Case {
	f.t.Helper()
	got, err := f.store.Case(f.ctx, c.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if got.Status != want {
		f.t.Fatalf("case %s is %s, want %s", got.Number(), got.Status, want)
	}
	return got
}

// outbox drains an outbox, returning its payloads.
func (f *fixture) outbox(kind refund.OutboxKind) [][]byte {
	f.t.Helper()
	items, err := f.store.ClaimOutbox(f.ctx, kind, f.clock.now().Add(time.Hour), time.Minute, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	var out [][]byte
	for _, it := range items {
		out = append(out, it.Payload)
		if err := f.store.CompleteOutbox(f.ctx, it.ID); err != nil {
			f.t.Fatal(err)
		}
	}
	return out
}

func (f *fixture) notices() []refund.Notice {
	f.t.Helper()
	var out []refund.Notice
	for _, p := range f.outbox(refund.OutboxNotice) {
		n, err := refund.DecodeNotice(p)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func (f *fixture) lastNotice() refund.Notice {
	f.t.Helper()
	ns := f.notices()
	if len(ns) == 0 {
		f.t.Fatal("no notice was written")
	}
	return ns[len(ns)-1]
}

func balanceOnly(p refund.Policy) refund.Policy {
	cp := p.Categories[refund.CategoryGameCard]
	cp.Payout = refund.PayoutBalanceOnly
	p.Categories[refund.CategoryGameCard] = cp
	return p
}

func TestReviewApprovesAndAsksForRoute(t *testing.T) {
	f := newFixture(t, inmem.New(), refund.DefaultPolicy())
	o := f.order("KM1", nil)
	c := f.submit(o, refund.ReasonInvalidCode, file(1))
	c = f.wantStatus(c, refund.StatusApproved)
	if c.Decided.Refund != 9500 || c.Due.Kind != refund.DueRoute {
		t.Fatalf("decided %+v due %+v", c.Decided, c.Due)
	}
	n := f.lastNotice()
	if n.Status != refund.StatusApproved || len(n.Routes) != 2 || n.Deadline.IsZero() || n.Amount != 9500 {
		t.Fatalf("notice %+v", n)
	}
	events, _ := f.store.Events(f.ctx, c.ID)
	last := events[len(events)-1]
	if last.Status != refund.StatusApproved || last.Actor != refund.ActorSystem || len(last.Rules) == 0 {
		t.Fatalf("last event %+v", last)
	}
	if events[len(events)-2].Status != refund.StatusAutoReview {
		t.Fatalf("auto_review step missing from the log: %+v", events)
	}
	if f.kicks[refund.OutboxNotice] == 0 {
		t.Fatal("notice worker was not kicked")
	}
}

func TestReviewTwiceIsHarmless(t *testing.T) {
	f := newFixture(t, inmem.New(), refund.DefaultPolicy())
	c := f.submit(f.order("KM1", nil), refund.ReasonInvalidCode, file(1))
	again, err := f.svc.Review(f.ctx, c.ID)
	if err != nil || again.Status != refund.StatusApproved {
		t.Fatalf("second review: %v %s", err, again.Status)
	}
	if n := len(f.notices()); n != 1 {
		t.Fatalf("%d notices, want 1", n)
	}
}

func TestBalanceRouteCreditsAtOnce(t *testing.T) {
	f := newFixture(t, inmem.New(), balanceOnly(refund.DefaultPolicy()))
	c := f.submit(f.order("KM1", nil), refund.ReasonInvalidCode, file(1))
	f.wantStatus(c, refund.StatusRefunded)
	bal, err := f.store.Balance(f.ctx, buyer, "CNY")
	if err != nil || bal != 9500 {
		t.Fatalf("balance %v, %v", bal, err)
	}
	n := f.lastNotice()
	if n.Status != refund.StatusRefunded || n.Route != refund.RouteBalance {
		t.Fatalf("notice %+v", n)
	}
	if len(f.outbox(refund.OutboxPayout)) != 0 {
		t.Fatal("a balance refund must not ask the shop to pay")
	}
}

func TestOriginalRoutePayoutConfirmAndFail(t *testing.T) {
	f := newFixture(t, inmem.New(), refund.DefaultPolicy())
	c := f.submit(f.order("KM1", nil), refund.ReasonInvalidCode, file(1))
	if _, err := f.svc.ChooseRoute(f.ctx, c.ID, buyer+1, refund.RouteOriginal); refund.ErrorCode(err) != refund.ENOTFOUND {
		t.Fatalf("a stranger choosing the route: %v, want ENOTFOUND", err)
	}
	if _, err := f.svc.ChooseRoute(f.ctx, c.ID, buyer, refund.RouteOriginal); err != nil {
		t.Fatal(err)
	}
	f.wantStatus(c, refund.StatusPayoutPending)
	n := f.lastNotice()
	if n.Status != refund.StatusPayoutPending || n.Method != refund.PayAlipay || n.PayoutDays != [2]int{1, 2} {
		t.Fatalf("notice %+v", n)
	}
	payloads := f.outbox(refund.OutboxPayout)
	if len(payloads) != 1 {
		t.Fatalf("%d payout messages, want 1", len(payloads))
	}
	var req refund.PayoutRequest
	if err := json.Unmarshal(payloads[0], &req); err != nil {
		t.Fatal(err)
	}
	if req.Amount != "95.00" || req.Method != refund.PayAlipay || req.PayoutID == "" {
		t.Fatalf("payout request %+v", req)
	}

	// The shop reports a failure; the buyer gives a new account.
	if _, err := f.svc.SettlePayout(f.ctx, refund.Settlement{PayoutID: req.PayoutID}); refund.ErrorCode(err) != refund.EINVALID {
		t.Fatalf("failure without a reason: %v", err)
	}
	if _, err := f.svc.SettlePayout(f.ctx, refund.Settlement{PayoutID: req.PayoutID, Error: "账户已注销"}); err != nil {
		t.Fatal(err)
	}
	f.wantStatus(c, refund.StatusPayoutFailed)
	if n := f.lastNotice(); n.Status != refund.StatusPayoutFailed || n.Note != "账户已注销" {
		t.Fatalf("notice %+v", n)
	}
	if _, err := f.svc.RetryPayout(f.ctx, c.ID, buyer, "alipay: new@example.com"); err != nil {
		t.Fatal(err)
	}
	f.wantStatus(c, refund.StatusPayoutPending)
	payloads = f.outbox(refund.OutboxPayout)
	if len(payloads) != 1 {
		t.Fatalf("%d payout messages after retry, want 1", len(payloads))
	}
	var retry refund.PayoutRequest
	if err := json.Unmarshal(payloads[0], &retry); err != nil {
		t.Fatal(err)
	}
	if retry.PayoutID == req.PayoutID || retry.Account != "alipay: new@example.com" {
		t.Fatalf("retry %+v after %+v", retry, req)
	}
	// Confirm, then confirm again: one refund.
	for range 2 {
		p, err := f.svc.SettlePayout(f.ctx, refund.Settlement{PayoutID: retry.PayoutID, OK: true})
		if err != nil || p.Status != refund.PayoutConfirmed {
			t.Fatalf("confirm: %+v, %v", p, err)
		}
	}
	f.wantStatus(c, refund.StatusRefunded)
	if _, err := f.svc.SettlePayout(f.ctx, refund.Settlement{PayoutID: retry.PayoutID, Error: "late"}); refund.ErrorCode(err) != refund.ECONFLICT {
		t.Fatalf("failing a confirmed payout: %v, want ECONFLICT", err)
	}
	if _, err := f.svc.SettlePayout(f.ctx, refund.Settlement{PayoutID: "P999999-1", OK: true}); refund.ErrorCode(err) != refund.ENOTFOUND {
		t.Fatalf("unknown payout: %v", err)
	}
}

func TestMissingScreenshotThenApproved(t *testing.T) {
	f := newFixture(t, inmem.New(), refund.DefaultPolicy())
	c := f.submit(f.order("KM1", nil), refund.ReasonInvalidCode)
	c = f.wantStatus(c, refund.StatusNeedsInfo)
	n := f.lastNotice()
	if n.Status != refund.StatusNeedsInfo || n.Deadline.IsZero() || !n.Deadline.After(c.Due.At) {
		t.Fatalf("notice %+v, due %+v", n, c.Due)
	}
	if _, err := f.svc.AddEvidence(f.ctx, c.ID, buyer+1, []refund.Evidence{file(1)}); refund.ErrorCode(err) != refund.ENOTFOUND {
		t.Fatalf("stranger adding evidence: %v", err)
	}
	if _, err := f.svc.AddEvidence(f.ctx, c.ID, buyer, []refund.Evidence{file(1), file(1)}); err != nil {
		t.Fatal(err)
	}
	c = f.wantStatus(c, refund.StatusApproved)
	if len(c.Evidence) != 1 {
		t.Fatalf("%d files, want the one new file once", len(c.Evidence))
	}
	if _, err := f.svc.AddEvidence(f.ctx, c.ID, buyer, []refund.Evidence{file(2)}); refund.ErrorCode(err) != refund.ECONFLICT {
		t.Fatalf("evidence after approval: %v, want ECONFLICT", err)
	}
}

func TestAppealAfterRefusal(t *testing.T) {
	f := newFixture(t, inmem.New(), refund.DefaultPolicy())
	o := f.order("KM1", func(o *refund.Order) {
		o.PurchasedAt, o.DeliveredAt = o.PurchasedAt.Add(-72*time.Hour), o.DeliveredAt.Add(-72*time.Hour)
	})
	c := f.submit(o, refund.ReasonInvalidCode, file(1))
	c = f.wantStatus(c, refund.StatusRejected)
	n := f.lastNotice()
	if !n.CanAppeal || n.Deadline.IsZero() || n.Rules[0] != refund.RuleWindowExpired {
		t.Fatalf("refusal notice %+v", n)
	}
	if _, err := f.svc.Appeal(f.ctx, c.ID, buyer, "  ", nil); refund.ErrorCode(err) != refund.EINVALID {
		t.Fatalf("empty appeal: %v", err)
	}
	if _, err := f.svc.Appeal(f.ctx, c.ID, buyer, "快递延误，我第一时间就联系了客服", []refund.Evidence{file(9)}); err != nil {
		t.Fatal(err)
	}
	c = f.wantStatus(c, refund.StatusHumanReview)
	if c.Appeals != 1 || c.Due.Kind != refund.DueReview || len(c.Evidence) != 2 {
		t.Fatalf("after appeal: appeals %d due %+v files %d", c.Appeals, c.Due, len(c.Evidence))
	}
	if _, err := f.svc.Decide(f.ctx, c.ID, "agent:7", refund.Verdict{Outcome: refund.OutcomeReject}); refund.ErrorCode(err) != refund.EINVALID {
		t.Fatalf("refusal without a reason: %v", err)
	}
	if _, err := f.svc.Decide(f.ctx, c.ID, "agent:7", refund.Verdict{Outcome: refund.OutcomeReject, Note: "超过时限"}); err != nil {
		t.Fatal(err)
	}
	c = f.wantStatus(c, refund.StatusRejected)
	if n := f.lastNotice(); n.CanAppeal || n.Note != "超过时限" {
		t.Fatalf("second refusal notice %+v: no second appeal may be offered", n)
	}
	if _, err := f.svc.Appeal(f.ctx, c.ID, buyer, "再申诉", nil); refund.ErrorCode(err) != refund.ECONFLICT {
		t.Fatalf("second appeal: %v, want ECONFLICT", err)
	}
}

func TestAppealWindowCloses(t *testing.T) {
	f := newFixture(t, inmem.New(), refund.DefaultPolicy())
	o := f.order("KM1", func(o *refund.Order) { o.Used = true })
	c := f.submit(o, refund.ReasonMistakenPurchase)
	f.wantStatus(c, refund.StatusRejected)
	f.clock.advance(7*24*time.Hour + time.Second)
	if _, err := f.svc.Appeal(f.ctx, c.ID, buyer, "迟到的申诉", nil); refund.ErrorCode(err) != refund.ECONFLICT {
		t.Fatalf("late appeal: %v", err)
	}
	if n, err := f.svc.Sweep(f.ctx, 10); err != nil || n != 1 {
		t.Fatalf("sweep moved %d: %v", n, err)
	}
	f.wantStatus(c, refund.StatusClosed)
}

func TestHumanDecisions(t *testing.T) {
	tests := []struct {
		name    string
		verdict refund.Verdict
		want    refund.Status
		code    string
	}{
		{"approve the proposal", refund.Verdict{Outcome: refund.OutcomeApprove}, refund.StatusApproved, ""},
		{"approve a partial amount", refund.Verdict{Outcome: refund.OutcomeApprove, Amount: 15000}, refund.StatusApproved, ""},
		{"approve more than paid", refund.Verdict{Outcome: refund.OutcomeApprove, Amount: 30001}, refund.StatusHumanReview, refund.EINVALID},
		{"ask for info", refund.Verdict{Outcome: refund.OutcomeNeedsInfo, Note: "请提供充值记录"}, refund.StatusNeedsInfo, ""},
		{"reject", refund.Verdict{Outcome: refund.OutcomeReject, Note: "卡密已被本人兑换"}, refund.StatusRejected, ""},
		{"unknown outcome", refund.Verdict{Outcome: "maybe"}, refund.StatusHumanReview, refund.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, inmem.New(), refund.DefaultPolicy())
			o := f.order("KM1", func(o *refund.Order) { o.AmountPaid, o.ListPrice = 30000, 30000 })
			c := f.submit(o, refund.ReasonInvalidCode, file(1))
			c = f.wantStatus(c, refund.StatusHumanReview)
			if c.Decided.Refund != 30000 {
				t.Fatalf("proposal %v", c.Decided.Refund)
			}
			_, err := f.svc.Decide(f.ctx, c.ID, "agent:7", tt.verdict)
			if refund.ErrorCode(err) != tt.code {
				t.Fatalf("Decide: %v, want code %q", err, tt.code)
			}
			got := f.wantStatus(c, tt.want)
			if tt.verdict.Amount > 0 && tt.code == "" && got.Decided.Refund != tt.verdict.Amount {
				t.Fatalf("decided %v, want %v", got.Decided.Refund, tt.verdict.Amount)
			}
			if tt.code == "" {
				events, _ := f.store.Events(f.ctx, c.ID)
				if last := events[len(events)-1]; last.Actor != "agent:7" && tt.want != refund.StatusApproved {
					t.Fatalf("last event %+v, want the agent as actor", last)
				}
			}
		})
	}
}

func TestSweepDeadlines(t *testing.T) {
	t.Run("needs_info: reminder at half time, closed at the end", func(t *testing.T) {
		f := newFixture(t, inmem.New(), refund.DefaultPolicy())
		c := f.submit(f.order("KM1", nil), refund.ReasonInvalidCode)
		f.notices()
		if n, _ := f.svc.Sweep(f.ctx, 10); n != 0 {
			t.Fatalf("swept %d before any deadline", n)
		}
		f.clock.advance(12*time.Hour + time.Second)
		if n, err := f.svc.Sweep(f.ctx, 10); err != nil || n != 1 {
			t.Fatalf("reminder sweep: %d, %v", n, err)
		}
		f.wantStatus(c, refund.StatusNeedsInfo)
		if n := f.lastNotice(); n.Kind != refund.NoticeReminder {
			t.Fatalf("notice %+v, want a reminder", n)
		}
		f.clock.advance(12 * time.Hour)
		if n, err := f.svc.Sweep(f.ctx, 10); err != nil || n != 1 {
			t.Fatalf("close sweep: %d, %v", n, err)
		}
		f.wantStatus(c, refund.StatusClosed)
		if n := f.lastNotice(); n.Status != refund.StatusClosed {
			t.Fatalf("notice %+v", n)
		}
	})
	t.Run("approved: the original route when the buyer does not choose", func(t *testing.T) {
		f := newFixture(t, inmem.New(), refund.DefaultPolicy())
		c := f.submit(f.order("KM1", nil), refund.ReasonInvalidCode, file(1))
		f.clock.advance(24*time.Hour + time.Second)
		if n, err := f.svc.Sweep(f.ctx, 10); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		c = f.wantStatus(c, refund.StatusPayoutPending)
		if c.Route != refund.RouteOriginal || len(f.outbox(refund.OutboxPayout)) != 1 {
			t.Fatalf("route %s", c.Route)
		}
	})
	t.Run("human review overdue is flagged for agents", func(t *testing.T) {
		f := newFixture(t, inmem.New(), refund.DefaultPolicy())
		o := f.order("KM1", func(o *refund.Order) { o.AmountPaid, o.ListPrice = 30000, 30000 })
		c := f.submit(o, refund.ReasonInvalidCode, file(1))
		f.clock.advance(6 * 24 * time.Hour) // three business days have passed whatever the weekday
		if n, err := f.svc.Sweep(f.ctx, 10); err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		c = f.wantStatus(c, refund.StatusHumanReview)
		if !c.ReviewOverdue || c.Due.Kind != "" {
			t.Fatalf("overdue %v due %+v", c.ReviewOverdue, c.Due)
		}
		agents := f.outbox(refund.OutboxAgent)
		if len(agents) != 2 {
			t.Fatalf("%d agent notices, want the escalation and the overdue flag", len(agents))
		}
		for i, want := range []refund.NoticeKind{refund.NoticeEscalated, refund.NoticeReviewOverdue} {
			if n, err := refund.DecodeNotice(agents[i]); err != nil || n.Kind != want || n.CaseID != c.ID {
				t.Fatalf("agent notice %d = %+v, %v; want %s", i, n, err, want)
			}
		}
		if n, _ := f.svc.Sweep(f.ctx, 10); n != 0 {
			t.Fatalf("swept %d again", n)
		}
	})
}

// TestUnreviewedCaseIsSweptUp: the process stopped between submission and
// the first review; the sweeper reviews the case after the grace period.
func TestUnreviewedCaseIsSweptUp(t *testing.T) {
	f := newFixture(t, inmem.New(), refund.DefaultPolicy())
	o := f.order("KM1", nil)
	c, err := f.svc.Submit(f.ctx, refund.NewCase{OrderID: o.ID, BuyerUserID: buyer, ChatID: buyer,
		Reason: refund.ReasonInvalidCode, Statement: "卡密提示已被使用", RequestedAmount: o.AmountPaid,
		Currency: o.Currency, Language: "zh-CN", SubmissionKey: "k1", Evidence: []refund.Evidence{file(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != refund.StatusSubmitted || c.Due.Kind != refund.DueFirstReview {
		t.Fatalf("submitted case %s due %+v", c.Status, c.Due)
	}
	if n, _ := f.svc.Sweep(f.ctx, 10); n != 0 {
		t.Fatalf("swept %d within the grace period", n)
	}
	f.clock.advance(refund.FirstReviewGrace + time.Second)
	if n, err := f.svc.Sweep(f.ctx, 10); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	c = f.wantStatus(c, refund.StatusApproved)
	if c.Due.Kind != refund.DueRoute {
		t.Fatalf("due after review %+v", c.Due)
	}
}
