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
//	refundbot_send_queue_wait_seconds                histogram, a message's time from queued to sent
//	refundbot_send_dropped_total                     counter of queued messages Telegram refused for good
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
