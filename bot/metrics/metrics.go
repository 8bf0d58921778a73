// Package metrics is refundbot's Prometheus instrumentation: what one
// process saw (updates handled, Bot API calls, rate-limiter waits, dialog
// steps, webhook requests, buyer floods) and what the store knows about
// the whole shop (cases, first reviews, escalations, outboxes), served in
// the text exposition format by Metrics.Handler.
//
// Nothing here is package state: a Metrics owns its own registry, so that
// tests and several bots in one process never share a counter. The other
// packages do not import this one; each declares the small observer
// interface it calls (UpdateHandled, TelegramCall, …) and cmd/refundbot
// hands it a *Metrics.
//
// Every label is bounded: values outside the sets this package knows (or,
// for dialog steps, the set given in Options) are reported as "other", so
// that a bug or a hostile input cannot grow the number of series.
//
// # Process metrics
//
//	refundbot_updates_total{kind,outcome}            counter
//	refundbot_update_handling_seconds{kind}          histogram, 0.5 ms … 10 s
//	refundbot_telegram_requests_total{method,result} counter; result ok, network or the error_code
//	refundbot_telegram_rate_limited_total            counter of 429 answers
//	refundbot_send_throttled_total{scope}            counter; scope global, chat or group
//	refundbot_send_throttle_wait_seconds{scope}      histogram of those waits
//	refundbot_dialog_step_entered_total{step}        counter
//	refundbot_dialog_ended_total{step,how}           counter; how submitted, cancelled or expired
//	refundbot_webhook_requests_total{code}           counter
//	refundbot_buyer_floods_total                     counter
//	refundbot_updates_duplicate_total                counter of updates dropped as handled before
//	refundbot_desk_ratings_total{rating}             counter of buyers' 1-5 ratings of a talk with an agent
//	refundbot_telegram_reachable                     gauge, 1 when getMe answers (Options.Telegram), else 0
//
// These are per process: sum them across replicas (the reachability gauge:
// max or min, it is 0 or 1).
//
// # Store metrics
//
//	refundbot_cases{status}                  gauge
//	refundbot_first_reviews_total{outcome}   counter; see refund.FirstReviewOutcome
//	refundbot_auto_approval_ratio            gauge, approved first reviews / all first reviews
//	refundbot_escalations_total{reason}      counter
//	refundbot_escalations_open               gauge, queued or held
//	refundbot_escalations_overdue            gauge, open past their deadline
//	refundbot_payouts{status}                gauge; status pending, confirmed or failed
//	refundbot_outbox_pending{kind}           gauge, undelivered items
//	refundbot_outbox_failing{kind}           gauge, undelivered items whose last attempt failed
//	refundbot_outbox_lag_seconds{kind}       gauge, age of the oldest item due, 0 when none
//	refundbot_stats_scrape_errors_total      counter of scrapes whose store read failed
//
// These are read from the store at every scrape, so every replica reports
// the same values: aggregate them with max, not sum, e.g.
// max without (instance) (refundbot_cases{status="human_review"}). When
// the store cannot be read within Options.StatsTimeout the scrape still
// succeeds, without the store's series, and the error counter goes up.
//
// # Queries
//
// Where buyers give up, per step, over a day: of the dialogs that entered a
// step, the share that ended there without being submitted.
//
//	sum by (step) (increase(refundbot_dialog_ended_total{how=~"cancelled|expired"}[1d]))
//	  / sum by (step) (increase(refundbot_dialog_step_entered_total[1d]))
//
// The funnel itself is sum by (step) (increase(refundbot_dialog_step_entered_total[1d])).
// The share of first reviews approved without a human over the last day
// (refundbot_auto_approval_ratio is the same since the beginning):
//
//	sum(max without (instance) (increase(refundbot_first_reviews_total{outcome=~"approved_.*"}[1d])))
//	  / sum(max without (instance) (increase(refundbot_first_reviews_total[1d])))
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// other is the label value of everything outside a label's known set.
const other = "other"

// The label sets, as functions rather than package variables so that no
// state is shared between Metrics values. Each is what the bot produces
// today; anything else is reported as other.

// updateKinds are the bot adapter's kinds of update.
func updateKinds() []string {
	return []string{"text", "command", "callback", "photo", "document", "album", "sticker", "voice", other}
}

// updateOutcomes are how handling an update can end.
func updateOutcomes() []string {
	return []string{"ok", "duplicate", "error", "undelivered", "postponed", "throttled", other}
}

// telegramMethods are the Bot API methods the bot calls.
func telegramMethods() []string {
	return []string{"sendMessage", "sendPhoto", "sendDocument", "answerCallbackQuery", "editMessageReplyMarkup",
		"getUpdates", "getMe", "setWebhook", "deleteWebhook", "getWebhookInfo", "createForumTopic", "getChat",
		"forwardMessage", "copyMessage", other}
}

// telegramResults are "ok", "network" and the Bot API error codes worth
// telling apart.
func telegramResults() []string {
	return []string{"ok", "network", "400", "403", "404", "409", "429", "500", "502", "503", "504", other}
}

// throttleScopes are the shared rate limiter's scopes.
func throttleScopes() []string { return []string{"global", "chat", "group", other} }

// dialogEnds are how a dialog can end.
func dialogEnds() []string { return []string{"submitted", "cancelled", "expired", other} }

// webhookCodes are the statuses the webhook endpoint answers with; any
// other is counted by its class ("2xx", …).
func webhookCodes() []string {
	return []string{"200", "204", "400", "401", "403", "404", "405", "409", "413", "415", "429", "500", "502", "503"}
}

// labelSet bounds a label's values.
type labelSet map[string]bool

func newLabelSet(values []string) labelSet {
	s := make(labelSet, len(values))
	for _, v := range values {
		s[v] = true
	}
	return s
}

// bound returns v if the set has it, else other.
func (s labelSet) bound(v string) string {
	if s[v] {
		return v
	}
	return other
}

// Buckets. Handling an update is a few Redis round trips and maybe a
// send, so milliseconds; a slow Bot API or database stretches it to
// seconds, and beyond 10 s the exact time no longer matters.
func handlingBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

// throttleBuckets follow Telegram's limits (30 messages/s in all, about
// 1/s per chat, 20/min per group): waits from milliseconds to a minute.
func throttleBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

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

// UpdateHandled records one update handled: kind is text, command,
// callback, photo, document, album, sticker, voice or other; outcome is ok,
// duplicate, error, undelivered (replies not sent), postponed (a server was
// out; handled again later) or throttled. took is the whole handling,
// replies included.
func (m *Metrics) UpdateHandled(kind string, took time.Duration, outcome string) {
	kind = m.kinds.bound(kind)
	m.updates.WithLabelValues(kind, m.outcomes.bound(outcome)).Inc()
	m.updateSeconds.WithLabelValues(kind).Observe(took.Seconds())
}

// TelegramCall records one Bot API request: code is 0 on success, -1 when
// no answer came (network error, timeout), otherwise Telegram's
// error_code. A 429 also counts in refundbot_telegram_rate_limited_total.
func (m *Metrics) TelegramCall(method string, code int) {
	m.telegram.WithLabelValues(m.methods.bound(method), m.results.bound(telegramResult(code))).Inc()
	if code == http.StatusTooManyRequests {
		m.rateLimited.Inc()
	}
}

// SendThrottled records that the shared rate limiter made a send wait
// for the given time; scope is the limit that applied: global, chat or
// group.
func (m *Metrics) SendThrottled(scope string, waited time.Duration) {
	scope = m.scopes.bound(scope)
	m.throttled.WithLabelValues(scope).Inc()
	m.throttleWait.WithLabelValues(scope).Observe(waited.Seconds())
}

// StepEntered records a dialog entering a step.
func (m *Metrics) StepEntered(step string) {
	m.stepEntered.WithLabelValues(m.steps.bound(step)).Inc()
}

// DialogEnded records a dialog ending in a step; how is submitted,
// cancelled or expired. With StepEntered it shows where buyers give up.
func (m *Metrics) DialogEnded(step string, how string) {
	m.dialogEnded.WithLabelValues(m.steps.bound(step), m.ends.bound(how)).Inc()
}

// WebhookRequest records a request to the webhook endpoint by the HTTP
// status it was answered with.
func (m *Metrics) WebhookRequest(status int) {
	m.webhook.WithLabelValues(m.webhookCode(status)).Inc()
}

// BuyerFlooded records a buyer throttled for sending too many messages.
func (m *Metrics) BuyerFlooded() { m.buyerFloods.Inc() }

// DeskRated records a buyer's rating; anything but 1 to 5 is not one.
func (m *Metrics) DeskRated(rating int) {
	if rating >= 1 && rating <= 5 {
		m.ratings.WithLabelValues(strconv.Itoa(rating)).Inc()
	}
}

// UpdateDuplicate records an update dropped as handled before.
func (m *Metrics) UpdateDuplicate() { m.duplicates.Inc() }

// telegramResult names a Bot API result before bounding: "ok", "network"
// or the error code.
func telegramResult(code int) string {
	switch code {
	case 0:
		return "ok"
	case -1:
		return "network"
	}
	return strconv.Itoa(code)
}

// webhookCode is the code label of an HTTP status: itself when known,
// else its class, else other.
func (m *Metrics) webhookCode(status int) string {
	code := strconv.Itoa(status)
	switch {
	case m.codes[code]:
		return code
	case status >= 100 && status <= 599:
		return strconv.Itoa(status/100) + "xx"
	}
	return other
}

// newReachableGauge is refundbot_telegram_reachable: check's answer at
// scrape time, bounded by timeout so that a hung Bot API reads as
// unreachable rather than hanging the scrape.
func newReachableGauge(check func(ctx context.Context) error, timeout time.Duration) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "refundbot_telegram_reachable",
		Help: "1 when the Telegram Bot API answered getMe (a success is trusted for a few seconds), else 0.",
	}, func() float64 {
		// The registry gives Collect no context; the timeout is the bound.
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if check(ctx) != nil {
			return 0
		}
		return 1
	})
}
