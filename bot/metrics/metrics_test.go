package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/refundbot/refundbot/bot/metrics"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
	"github.com/refundbot/refundbot/refund/postgres"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

// Both stores give the store metrics what they need.
var (
	_ metrics.Stats = (*postgres.DB)(nil)
	_ metrics.Stats = (*inmem.Store)(nil)
)

// scrape GETs /metrics from m's handler, as Prometheus does, and returns
// the exposition text.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// wantLines checks that every line is in the exposition text as it is.
func wantLines(t *testing.T, text string, lines ...string) {
	t.Helper()
	have := make(map[string]bool)
	for _, l := range strings.Split(text, "\n") {
		have[l] = true
	}
	for _, l := range lines {
		if !have[l] {
			t.Errorf("missing line %q", l)
		}
	}
	if t.Failed() {
		t.Logf("exposition:\n%s", grepRefundbot(text))
	}
}

// wantNoSeries checks that no sample line contains any of the fragments.
func wantNoSeries(t *testing.T, text string, fragments ...string) {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, f := range fragments {
			if strings.Contains(l, f) {
				t.Errorf("unexpected series %q", l)
			}
		}
	}
}

// series counts the samples of a metric family (histograms: their
// _count lines, one per series).
func series(text, name string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			n++
		}
	}
	return n
}

func grepRefundbot(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "refundbot_") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

var steps = []string{"awaiting_order", "awaiting_phone", "confirming"}

func TestProcessMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		record func(m *metrics.Metrics)
		want   []string
		absent []string
	}{
		{
			name: "updates by kind and outcome, with their handling time",
			record: func(m *metrics.Metrics) {
				m.UpdateHandled("text", 3*time.Millisecond, "ok")
				m.UpdateHandled("text", 4*time.Millisecond, "ok")
				m.UpdateHandled("callback", 2*time.Second, "duplicate")
			},
			want: []string{
				`refundbot_updates_total{kind="text",outcome="ok"} 2`,
				`refundbot_updates_total{kind="callback",outcome="duplicate"} 1`,
				`refundbot_updates_total{kind="photo",outcome="ok"} 0`,
				`refundbot_update_handling_seconds_bucket{kind="text",le="0.0025"} 0`,
				`refundbot_update_handling_seconds_bucket{kind="text",le="0.005"} 2`,
				`refundbot_update_handling_seconds_bucket{kind="callback",le="1"} 0`,
				`refundbot_update_handling_seconds_bucket{kind="callback",le="2.5"} 1`,
				`refundbot_update_handling_seconds_count{kind="text"} 2`,
			},
		},
		{
			name: "unknown update kinds and outcomes are other",
			record: func(m *metrics.Metrics) {
				m.UpdateHandled("poll", time.Millisecond, "exploded")
				m.UpdateHandled("album", time.Millisecond, "vanished")
			},
			want: []string{
				`refundbot_updates_total{kind="other",outcome="other"} 1`,
				`refundbot_updates_total{kind="album",outcome="other"} 1`,
				`refundbot_update_handling_seconds_count{kind="other"} 1`,
			},
			absent: []string{`"poll"`, `"exploded"`, `"vanished"`},
		},
		{
			name: "Bot API calls by method and result; 429s counted apart",
			record: func(m *metrics.Metrics) {
				m.TelegramCall("sendMessage", 0)
				m.TelegramCall("sendMessage", 0)
				m.TelegramCall("sendMessage", 429)
				m.TelegramCall("copyMessage", 429)
				m.TelegramCall("getUpdates", -1)
				m.TelegramCall("answerCallbackQuery", 400)
				m.TelegramCall("sendMessage", 418)
				m.TelegramCall("sendSticker", 0)
			},
			want: []string{
				`refundbot_telegram_requests_total{method="sendMessage",result="ok"} 2`,
				`refundbot_telegram_requests_total{method="sendMessage",result="429"} 1`,
				`refundbot_telegram_requests_total{method="copyMessage",result="429"} 1`,
				`refundbot_telegram_requests_total{method="getUpdates",result="network"} 1`,
				`refundbot_telegram_requests_total{method="answerCallbackQuery",result="400"} 1`,
				`refundbot_telegram_requests_total{method="sendMessage",result="other"} 1`,
				`refundbot_telegram_requests_total{method="other",result="ok"} 1`,
				`refundbot_telegram_rate_limited_total 2`,
			},
			absent: []string{`"418"`, `"sendSticker"`},
		},
		{
			name: "rate-limiter waits by scope",
			record: func(m *metrics.Metrics) {
				m.SendThrottled("chat", 1500*time.Millisecond)
				m.SendThrottled("global", 20*time.Millisecond)
				m.SendThrottled("planet", time.Second)
			},
			want: []string{
				`refundbot_send_throttled_total{scope="chat"} 1`,
				`refundbot_send_throttled_total{scope="global"} 1`,
				`refundbot_send_throttled_total{scope="group"} 0`,
				`refundbot_send_throttled_total{scope="other"} 1`,
				`refundbot_send_throttle_wait_seconds_bucket{scope="chat",le="1"} 0`,
				`refundbot_send_throttle_wait_seconds_bucket{scope="chat",le="2.5"} 1`,
				`refundbot_send_throttle_wait_seconds_sum{scope="global"} 0.02`,
			},
			absent: []string{`"planet"`},
		},
		{
			name: "dialog steps entered and ended, bounded to the steps given",
			record: func(m *metrics.Metrics) {
				m.StepEntered("awaiting_order")
				m.StepEntered("awaiting_order")
				m.StepEntered("confirming")
				m.StepEntered("hacked_step")
				m.DialogEnded("confirming", "submitted")
				m.DialogEnded("awaiting_order", "cancelled")
				m.DialogEnded("awaiting_phone", "expired")
				m.DialogEnded("hacked_step", "vanished")
			},
			want: []string{
				`refundbot_dialog_step_entered_total{step="awaiting_order"} 2`,
				`refundbot_dialog_step_entered_total{step="confirming"} 1`,
				`refundbot_dialog_step_entered_total{step="awaiting_phone"} 0`,
				`refundbot_dialog_step_entered_total{step="other"} 1`,
				`refundbot_dialog_ended_total{how="submitted",step="confirming"} 1`,
				`refundbot_dialog_ended_total{how="cancelled",step="awaiting_order"} 1`,
				`refundbot_dialog_ended_total{how="expired",step="awaiting_phone"} 1`,
				`refundbot_dialog_ended_total{how="other",step="other"} 1`,
				`refundbot_dialog_ended_total{how="cancelled",step="confirming"} 0`,
			},
			absent: []string{`"hacked_step"`, `"vanished"`},
		},
		{
			name: "webhook requests by status: known codes, else their class",
			record: func(m *metrics.Metrics) {
				m.WebhookRequest(200)
				m.WebhookRequest(200)
				m.WebhookRequest(401)
				m.WebhookRequest(418)
				m.WebhookRequest(599)
				m.WebhookRequest(999)
			},
			want: []string{
				`refundbot_webhook_requests_total{code="200"} 2`,
				`refundbot_webhook_requests_total{code="401"} 1`,
				`refundbot_webhook_requests_total{code="4xx"} 1`,
				`refundbot_webhook_requests_total{code="5xx"} 1`,
				`refundbot_webhook_requests_total{code="other"} 1`,
			},
			absent: []string{`"418"`, `"999"`},
		},
		{
			name: "buyer floods",
			record: func(m *metrics.Metrics) {
				m.BuyerFlooded()
				m.BuyerFlooded()
				m.BuyerFlooded()
			},
			want: []string{`refundbot_buyer_floods_total 3`, `refundbot_telegram_rate_limited_total 0`},
		},
		{
			name:   "Go runtime and process metrics are served, and no store metrics without a store",
			record: func(*metrics.Metrics) {},
			want:   []string{`# TYPE go_goroutines gauge`, `# TYPE process_start_time_seconds gauge`},
			absent: []string{`refundbot_cases`, `refundbot_stats_scrape_errors_total`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.Options{Steps: steps})
			tt.record(m)
			text := scrape(t, m)
			wantLines(t, text, tt.want...)
			wantNoSeries(t, text, tt.absent...)
		})
	}
}

// TestNamesFollowConventions lints every metric served, the store's too,
// against Prometheus' naming rules (units, _total on counters, help).
func TestNamesFollowConventions(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{Steps: steps, Stats: inmem.New()})
	problems, err := promlint.New(strings.NewReader(scrape(t, m))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestCardinalityIsBounded feeds every method a thousand distinct values,
// as a bug or a hostile client might, and checks that the number of
// series stays what the known label sets allow.
func TestCardinalityIsBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{Steps: steps})
	for i := range 1000 {
		v := fmt.Sprintf("junk-%d", i)
		m.UpdateHandled(v, time.Millisecond, v)
		m.TelegramCall(v, i)
		m.TelegramCall("sendMessage", -i)
		m.SendThrottled(v, time.Millisecond)
		m.StepEntered(v)
		m.DialogEnded(v, v)
		m.WebhookRequest(i)
	}
	text := scrape(t, m)
	steps := len(steps) + 1 // and other
	tests := []struct {
		family string
		max    int
	}{
		{"refundbot_updates_total", 9 * 7}, // 9 kinds; 6 outcomes and other
		{"refundbot_update_handling_seconds_count", 9},
		// 14 methods and other; ok, network, 9 codes and other.
		{"refundbot_telegram_requests_total", 15 * 12},
		{"refundbot_send_throttled_total", 4},
		{"refundbot_send_throttle_wait_seconds_count", 4},
		{"refundbot_dialog_step_entered_total", steps},
		{"refundbot_dialog_ended_total", steps * 4},
		// 14 known codes, 5 classes, other.
		{"refundbot_webhook_requests_total", 14 + 5 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			if n := series(text, tt.family); n == 0 || n > tt.max {
				t.Errorf("%d series, want 1-%d", n, tt.max)
			}
		})
	}
	wantNoSeries(t, text, "junk-")
}

// fakeStats answers Stats with fixed numbers or an error, and remembers
// the time it was asked about.
type fakeStats struct {
	st    refund.Stats
	err   error
	block bool

	mu  sync.Mutex
	now time.Time
}

func (f *fakeStats) Stats(ctx context.Context, now time.Time) (refund.Stats, error) {
	f.mu.Lock()
	f.now = now
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return refund.Stats{}, fmt.Errorf("read stats: %w", ctx.Err())
	}
	return f.st, f.err
}

func TestStoreMetrics(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 6, 5, 0, 0, time.UTC)
	st := refund.NewStats()
	st.Cases[refund.StatusHumanReview] = 3
	st.Cases[refund.StatusRefunded] = 12
	st.FirstReviews[refund.FirstReviewFastLane] = 5
	st.FirstReviews[refund.FirstReviewAdvance] = 1
	st.FirstReviews[refund.FirstReviewRejected] = 2
	st.Escalations[refund.EscalateAsked] = 4
	st.EscalationsOpen = 2
	st.EscalationsOverdue = 1
	st.Payouts[refund.PayoutConfirmed] = 9
	st.Payouts[refund.PayoutFailed] = 2
	st.Outbox[refund.OutboxNotice] = refund.OutboxStats{Pending: 7, OldestDue: now.Add(-90 * time.Second)}
	st.Outbox[refund.OutboxPayout] = refund.OutboxStats{Pending: 1, Failing: 1}
	stats := &fakeStats{st: st}
	m := metrics.New(metrics.Options{Stats: stats, Now: func() time.Time { return now }})

	text := scrape(t, m)
	wantLines(t, text,
		`# TYPE refundbot_cases gauge`,
		`refundbot_cases{status="human_review"} 3`,
		`refundbot_cases{status="refunded"} 12`,
		`refundbot_cases{status="appealed"} 0`,
		`# TYPE refundbot_first_reviews_total counter`,
		`refundbot_first_reviews_total{outcome="approved_fast_lane"} 5`,
		`refundbot_first_reviews_total{outcome="approved_advance"} 1`,
		`refundbot_first_reviews_total{outcome="rejected"} 2`,
		`refundbot_first_reviews_total{outcome="human_review"} 0`,
		`refundbot_auto_approval_ratio 0.75`,
		`# TYPE refundbot_escalations_total counter`,
		`refundbot_escalations_total{reason="asked"} 4`,
		`refundbot_escalations_total{reason="overdue"} 0`,
		`refundbot_escalations_open 2`,
		`refundbot_escalations_overdue 1`,
		`# TYPE refundbot_payouts gauge`,
		`refundbot_payouts{status="pending"} 0`,
		`refundbot_payouts{status="confirmed"} 9`,
		`refundbot_payouts{status="failed"} 2`,
		`refundbot_outbox_failing{kind="payout"} 1`,
		`refundbot_outbox_failing{kind="notice"} 0`,
		`refundbot_outbox_pending{kind="notice"} 7`,
		`refundbot_outbox_pending{kind="payout"} 1`,
		`refundbot_outbox_pending{kind="agent"} 0`,
		`refundbot_outbox_lag_seconds{kind="notice"} 90`,
		`refundbot_outbox_lag_seconds{kind="payout"} 0`,
		`refundbot_stats_scrape_errors_total 0`,
	)
	stats.mu.Lock()
	defer stats.mu.Unlock()
	if !stats.now.Equal(now) {
		t.Errorf("Stats asked about %v, want the Options clock's %v", stats.now, now)
	}
}

func TestStoreFailureKeepsTheScrape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stats *fakeStats
	}{
		{"the store fails", &fakeStats{err: errors.New("connection refused")}},
		{"the store hangs past the timeout", &fakeStats{block: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			var mu sync.Mutex
			logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
			m := metrics.New(metrics.Options{Stats: tt.stats, StatsTimeout: 50 * time.Millisecond, Logger: logger})
			m.BuyerFlooded()
			for i := 1; i <= 2; i++ {
				start := time.Now()
				text := scrape(t, m)
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("scrape took %v despite the 50ms stats timeout", took)
				}
				wantLines(t, text, fmt.Sprintf("refundbot_stats_scrape_errors_total %d", i), `refundbot_buyer_floods_total 1`)
				wantNoSeries(t, text, "refundbot_cases", "refundbot_outbox_", "refundbot_auto_approval_ratio")
			}
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(logs.String(), "read store stats") {
				t.Errorf("failure not logged; log:\n%s", logs.String())
			}
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestStoreMetricsFromPostgres serves the store metrics of a real
// PostgreSQL store that the refund core has worked on.
func TestStoreMetricsFromPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t)
	ctx := t.Context()
	svc, err := refund.NewService(refund.ServiceConfig{Store: db, Policy: refund.DefaultPolicy(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	o := refund.Order{ID: "KM20261120001", BuyerTelegramID: 1001, ContactPhone: "13800138000", Product: "点卡",
		Category: refund.CategoryGameCard, AmountPaid: 9500, ListPrice: 9500, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: now.Add(-time.Hour), DeliveredAt: now.Add(-time.Hour)}
	if _, err := db.UpsertOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Submit(ctx, refund.NewCase{OrderID: o.ID, BuyerUserID: 1001, ChatID: 1001,
		Reason: refund.ReasonInvalidCode, Statement: "卡密无效", RequestedAmount: 9500, Currency: "CNY",
		Language: "zh-CN", SubmissionKey: "k1",
		Evidence: []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: "f1", FileUniqueID: "u1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = svc.Review(ctx, c.ID); err != nil || c.Status != refund.StatusApproved {
		t.Fatalf("Review = %s, %v; want approved", c.Status, err)
	}
	m := metrics.New(metrics.Options{Stats: db})
	wantLines(t, scrape(t, m),
		`refundbot_cases{status="approved"} 1`,
		`refundbot_cases{status="submitted"} 0`,
		`refundbot_first_reviews_total{outcome="approved_fast_lane"} 1`,
		`refundbot_auto_approval_ratio 1`,
		// The approval's notice to the buyer.
		`refundbot_outbox_pending{kind="notice"} 1`,
		`refundbot_outbox_failing{kind="notice"} 0`,
		`refundbot_payouts{status="pending"} 0`,
		`refundbot_escalations_overdue 0`,
		`refundbot_stats_scrape_errors_total 0`,
	)
}

// TestTelegramReachable: refundbot_telegram_reachable is the check's
// answer at scrape time, 0 for an error and for a check that hangs past
// the timeout (the scrape does not hang with it), and absent without a
// check.
func TestTelegramReachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(ctx context.Context) error
		want  string
	}{
		{"answers", func(context.Context) error { return nil }, "refundbot_telegram_reachable 1"},
		{"refused", func(context.Context) error { return errors.New("getMe: connection refused") }, "refundbot_telegram_reachable 0"},
		{"hangs", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, "refundbot_telegram_reachable 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.Options{Telegram: tt.check, StatsTimeout: 50 * time.Millisecond})
			start := time.Now()
			wantLines(t, scrape(t, m), "# TYPE refundbot_telegram_reachable gauge", tt.want)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("scrape took %v despite the 50ms timeout", took)
			}
		})
	}
	wantNoSeries(t, scrape(t, metrics.New(metrics.Options{})), "refundbot_telegram_reachable")
}
