package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sendQueueMetrics watch the send queues: how long a message waited from
// the turn that queued it to Telegram's answer, and how many Telegram
// refused for good.
type sendQueueMetrics struct {
	wait    prometheus.Histogram
	dropped prometheus.Counter
}

func newSendQueueMetrics(reg *prometheus.Registry) sendQueueMetrics {
	q := sendQueueMetrics{
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "refundbot_send_queue_wait_seconds",
			Help: "Time from a message being queued to Telegram accepting it: the limits' waits and retries included.",
			// From an instant reply to a group's minute-long backlog.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 180},
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refundbot_send_dropped_total",
			Help: "Queued messages dropped because Telegram refused them for good (blocked bot, bad request).",
		}),
	}
	reg.MustRegister(q.wait, q.dropped)
	return q
}

// MessageSent implements flows.DispatchObserver.
func (m *Metrics) MessageSent(waited time.Duration) { m.sendQueue.wait.Observe(waited.Seconds()) }

// MessageDropped implements flows.DispatchObserver.
func (m *Metrics) MessageDropped() { m.sendQueue.dropped.Inc() }
