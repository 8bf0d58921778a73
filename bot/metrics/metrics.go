package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultStatsTimeout bounds each scrape's read of the store when Options
// sets no timeout: well under Prometheus' default scrape timeout of 10 s,
// so that a slow database costs the store's series, not the whole scrape.
// The Telegram check gets the same bound.
const DefaultStatsTimeout = 2 * time.Second

// Options configures New.
type Options struct {
	// Steps are the dialog's step names (the flows' state names); any
	// other step is reported as other.
	Steps []string
	// Stats, when set, is read at every scrape for the store metrics;
	// without it only the process metrics are served.
	Stats Stats
	// StatsTimeout bounds each read of Stats, and each Telegram check; 0
	// means DefaultStatsTimeout.
	StatsTimeout time.Duration
	// Telegram, when set, is asked at every scrape whether the Telegram
	// Bot API answers (the check behind /readyz/telegram, which trusts a
	// success for a while, so scrapes do not each call Telegram); its
	// answer is refundbot_telegram_reachable. It lets an alert tell "no
	// updates because Telegram is down" from "no updates although it is up".
	Telegram func(ctx context.Context) error
	// Logger receives failures to read Stats; nil discards them.
	Logger *slog.Logger
	// Now is the clock given to Stats; nil means time.Now.
	Now func() time.Time
}

// Metrics records refundbot's process metrics and serves them, with the
// store's, from its own registry. Its methods are safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	// The label sets, bounding every label value.
	kinds, outcomes, methods, results, scopes, ends, codes, steps labelSet

	updates       *prometheus.CounterVec
	updateSeconds *prometheus.HistogramVec
	telegram      *prometheus.CounterVec
	rateLimited   prometheus.Counter
	throttled     *prometheus.CounterVec
	throttleWait  *prometheus.HistogramVec
	stepEntered   *prometheus.CounterVec
	dialogEnded   *prometheus.CounterVec
	webhook       *prometheus.CounterVec
	buyerFloods   prometheus.Counter
	duplicates    prometheus.Counter
	ratings       *prometheus.CounterVec
	sendQueue     sendQueueMetrics
}

// New returns a Metrics with its own registry, holding the process
// metrics, the Go runtime's and the process's, and, when opts.Stats is
// set, the store's.
func New(opts Options) *Metrics {
	if opts.StatsTimeout <= 0 {
		opts.StatsTimeout = DefaultStatsTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		kinds:    newLabelSet(updateKinds()),
		outcomes: newLabelSet(updateOutcomes()),
		methods:  newLabelSet(telegramMethods()),
		results:  newLabelSet(telegramResults()),
		scopes:   newLabelSet(throttleScopes()),
		ends:     newLabelSet(dialogEnds()),
		codes:    newLabelSet(webhookCodes()),
		steps:    labelSet{other: true},
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundbot_updates_total",
			Help: "Telegram updates handled, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		updateSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refundbot_update_handling_seconds",
			Help:    "Time to handle one Telegram update, replies included, by kind.",
			Buckets: handlingBuckets(),
		}, []string{"kind"}),
		telegram: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundbot_telegram_requests_total",
			Help: "Bot API requests, by method and result: ok, network (no answer) or Telegram's error_code.",
		}, []string{"method", "result"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refundbot_telegram_rate_limited_total",
			Help: "Bot API requests Telegram refused with 429 Too Many Requests.",
		}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundbot_send_throttled_total",
			Help: "Sends the shared rate limiter made wait, by the limit that applied (global, chat, group).",
		}, []string{"scope"}),
		throttleWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refundbot_send_throttle_wait_seconds",
			Help:    "How long the shared rate limiter made a send wait, by scope.",
			Buckets: throttleBuckets(),
		}, []string{"scope"}),
		stepEntered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundbot_dialog_step_entered_total",
			Help: "Refund dialogs that entered a step.",
		}, []string{"step"}),
		dialogEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundbot_dialog_ended_total",
			Help: "Refund dialogs that ended, by the step they ended in and how (submitted, cancelled, expired).",
		}, []string{"step", "how"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundbot_webhook_requests_total",
			Help: "Requests to the Telegram webhook endpoint, by HTTP status answered.",
		}, []string{"code"}),
		buyerFloods: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refundbot_buyer_floods_total",
			Help: "Times a buyer sent too many messages and was throttled.",
		}),
		ratings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundbot_desk_ratings_total",
			Help: "Buyers' ratings (1 to 5) of a talk with an agent, by rating.",
		}, []string{"rating"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refundbot_updates_duplicate_total",
			Help: "Updates dropped because they were handled before (Telegram delivered them again).",
		}),
	}
	for _, s := range opts.Steps {
		if s != "" {
			m.steps[s] = true
		}
	}
	m.sendQueue = newSendQueueMetrics(m.registry)
	m.registry.MustRegister(m.updates, m.updateSeconds, m.telegram, m.rateLimited, m.throttled, m.throttleWait,
		m.stepEntered, m.dialogEnded, m.webhook, m.buyerFloods, m.duplicates, m.ratings,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.Stats != nil {
		m.registry.MustRegister(newStoreCollector(opts.Stats, opts.StatsTimeout, opts.Now, opts.Logger))
	}
	if opts.Telegram != nil {
		m.registry.MustRegister(newReachableGauge(opts.Telegram, opts.StatsTimeout))
	}
	m.initSeries()
	// Built once: HandlerFor registers its own error counter in the
	// registry, which a second registration would refuse.
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		Registry:      m.registry,
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(opts.Logger.Handler(), slog.LevelError),
	})
	return m
}

// initSeries creates the series of the small label sets at zero, so that
// they exist from the first scrape and rate() sees their first increase.
// Bot API results are left out: methods × codes would be mostly empty.
func (m *Metrics) initSeries() {
	for k := range m.kinds {
		m.updateSeconds.WithLabelValues(k)
		for o := range m.outcomes {
			m.updates.WithLabelValues(k, o)
		}
	}
	for s := range m.scopes {
		m.throttled.WithLabelValues(s)
		m.throttleWait.WithLabelValues(s)
	}
	for s := range m.steps {
		m.stepEntered.WithLabelValues(s)
		for how := range m.ends {
			m.dialogEnded.WithLabelValues(s, how)
		}
	}
}

// Handler serves every metric of m in the Prometheus exposition format,
// for mounting at /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }
