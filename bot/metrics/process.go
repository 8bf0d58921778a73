package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The process metrics: what this process saw, counted by the observer
// methods the other packages call through their own small interfaces.

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
