package metrics

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/refundbot/refundbot/refund"
)

// Stats is what the store metrics need: the store's counts at a moment.
// refund/postgres.DB and refund/inmem.Store have it.
type Stats interface {
	Stats(ctx context.Context, now time.Time) (refund.Stats, error)
}

// storeCollector reads Stats at every scrape and turns them into metrics,
// so that the numbers are the database's and not one replica's memory. A
// failed or slow read drops the store's series from that scrape rather
// than failing it: the process metrics still matter when the database
// does not answer, and the error counter says what happened.
type storeCollector struct {
	stats   Stats
	timeout time.Duration
	now     func() time.Time
	logger  *slog.Logger
	// errors counts failed reads. It is exported by Collect itself, so a
	// scrape that fails shows its own failure: a separate counter might
	// be gathered before the read went wrong.
	errors atomic.Uint64

	cases, firstReviews, autoApproval, escalations, escalationsOpen *prometheus.Desc
	escalationsOverdue, payouts                                     *prometheus.Desc
	outboxPending, outboxFailing, outboxLag, scrapeErrors           *prometheus.Desc
}

func newStoreCollector(stats Stats, timeout time.Duration, now func() time.Time, logger *slog.Logger) *storeCollector {
	return &storeCollector{
		stats: stats, timeout: timeout, now: now, logger: logger,
		cases: prometheus.NewDesc("refundbot_cases",
			"Refund cases by current status, from the store.", []string{"status"}, nil),
		firstReviews: prometheus.NewDesc("refundbot_first_reviews_total",
			"Cases by how their automatic first review ended, from the store's case log.", []string{"outcome"}, nil),
		autoApproval: prometheus.NewDesc("refundbot_auto_approval_ratio",
			"Share of first reviews approved without a human (0 when there were none).", nil, nil),
		escalations: prometheus.NewDesc("refundbot_escalations_total",
			"Escalations to the agents ever opened, by reason, from the store.", []string{"reason"}, nil),
		escalationsOpen: prometheus.NewDesc("refundbot_escalations_open",
			"Escalations queued for or held by an agent, from the store.", nil, nil),
		escalationsOverdue: prometheus.NewDesc("refundbot_escalations_overdue",
			"Open escalations past their deadline (the buyer should have had an answer), from the store.", nil, nil),
		payouts: prometheus.NewDesc("refundbot_payouts",
			"Payouts by status (pending, confirmed, failed), from the store; confirmed and failed only grow.",
			[]string{"status"}, nil),
		outboxPending: prometheus.NewDesc("refundbot_outbox_pending",
			"Undelivered outbox items, by outbox.", []string{"kind"}, nil),
		outboxFailing: prometheus.NewDesc("refundbot_outbox_failing",
			"Undelivered outbox items whose last delivery attempt failed, by outbox.", []string{"kind"}, nil),
		outboxLag: prometheus.NewDesc("refundbot_outbox_lag_seconds",
			"Age of the oldest outbox item due for delivery, by outbox (0 when none is due).", []string{"kind"}, nil),
		scrapeErrors: prometheus.NewDesc("refundbot_stats_scrape_errors_total",
			"Scrapes whose read of the store's stats failed or timed out.", nil, nil),
	}
}

// Describe sends every metric the collector can export.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cases, c.firstReviews, c.autoApproval, c.escalations,
		c.escalationsOpen, c.escalationsOverdue, c.payouts, c.outboxPending, c.outboxFailing, c.outboxLag, c.scrapeErrors} {
		ch <- d
	}
}

// Collect reads the store, within the timeout, and sends its metrics.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	// Collect gets no context from the registry; the timeout is what
	// keeps a hung database from hanging the scrape.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	now := c.now()
	st, err := c.stats.Stats(ctx, now)
	if err != nil {
		n := c.errors.Add(1)
		c.logger.WarnContext(ctx, "metrics: read store stats", "err", err, "timeout", c.timeout, "failures", n)
	}
	send := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			// Only a label that is not valid UTF-8 gets here: a store
			// value no code writes. Skip it rather than fail the scrape.
			c.logger.WarnContext(ctx, "metrics: store value not exportable", "metric", d.String(), "err", err)
			return
		}
		ch <- m
	}
	send(c.scrapeErrors, prometheus.CounterValue, float64(c.errors.Load()))
	if err != nil {
		return
	}
	for status, n := range st.Cases {
		send(c.cases, prometheus.GaugeValue, float64(n), string(status))
	}
	for outcome, n := range st.FirstReviews {
		send(c.firstReviews, prometheus.CounterValue, float64(n), string(outcome))
	}
	send(c.autoApproval, prometheus.GaugeValue, st.AutoApprovalRatio())
	for reason, n := range st.Escalations {
		send(c.escalations, prometheus.CounterValue, float64(n), string(reason))
	}
	send(c.escalationsOpen, prometheus.GaugeValue, float64(st.EscalationsOpen))
	send(c.escalationsOverdue, prometheus.GaugeValue, float64(st.EscalationsOverdue))
	for status, n := range st.Payouts {
		send(c.payouts, prometheus.GaugeValue, float64(n), string(status))
	}
	for kind, o := range st.Outbox {
		send(c.outboxPending, prometheus.GaugeValue, float64(o.Pending), string(kind))
		send(c.outboxFailing, prometheus.GaugeValue, float64(o.Failing), string(kind))
		send(c.outboxLag, prometheus.GaugeValue, o.Lag(now).Seconds(), string(kind))
	}
}
