package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/refundbot/refundbot/bot"
	"github.com/refundbot/refundbot/bot/metrics"
	"github.com/refundbot/refundbot/flows"
	buyerflow "github.com/refundbot/refundbot/flows/buyer"
	"github.com/refundbot/refundbot/flows/desk"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
	"github.com/refundbot/refundbot/refund/outbox"
	"github.com/refundbot/refundbot/refund/shopwebhook"
)

// sweepBatch bounds the cases one deadline sweep moves, so that a backlog
// is worked off over several sweeps instead of one long transaction burst.
const sweepBatch = 200

// store is everything the bot keeps in its database.
type store interface {
	refund.LifecycleStore
	refund.AgentStore
	refund.EscalationStore
	httpapi.CaseReader
	metrics.Stats
}

// core is the refund core: the service and its background work.
type core struct {
	service *refund.Service
	notices *outbox.Worker
	payouts *outbox.Worker
	agents  *outbox.Worker
	// desk is the agents' desk; nil when the shop has no team chat.
	desk     *desk.Desk
	sender   flows.Sender
	interval time.Duration
	// members reads the agents' profiles from Telegram, every refresh.
	members desk.Members
	refresh time.Duration
	wg      sync.WaitGroup
}

// wait blocks until the background work has stopped; it stops when the
// context given to startCore ends.
func (c *core) wait() { c.wg.Wait() }

// newCore builds the refund service and its outbox workers; start runs
// them once the dialog they deliver through exists.
func (m *Main) newCore(ctx context.Context, store store, texts *locales.Bundle, send flows.Sender) (*core, error) {
	c := &core{sender: send, interval: m.Config.SweepInterval, refresh: m.Config.AgentRefresh}
	notifier := buyerflow.NewNotifier(texts, m.Config.Location, send)
	notices := outbox.New(outbox.Config{Store: store, Kind: refund.OutboxNotice, Logger: m.Logger, Lease: m.Config.OutboxLease,
		Deliver: func(ctx context.Context, item refund.OutboxItem) error {
			err := notifier.Deliver(ctx, item)
			if err != nil && ctx.Err() == nil && !bot.Transient(err) {
				// Telegram refuses this message for good (the buyer
				// blocked the bot, the chat is gone): retrying cannot help.
				return outbox.Permanent(err)
			}
			return err
		}})
	var payouts *outbox.Worker
	if m.Config.ShopWebhookURL != "" {
		hook, err := shopwebhook.New(shopwebhook.Config{URL: m.Config.ShopWebhookURL, Secret: []byte(m.Config.ShopWebhookSecret)})
		if err != nil {
			return nil, fmt.Errorf("SHOP_WEBHOOK_URL: %w", err)
		}
		payouts = outbox.New(outbox.Config{Store: store, Kind: refund.OutboxPayout, Deliver: hook.Deliver, Logger: m.Logger,
			Lease: m.Config.OutboxLease})
	} else {
		m.Logger.WarnContext(ctx, "SHOP_WEBHOOK_URL is not set: original-route payouts wait in the outbox")
	}
	// The agents' notices open escalations through the desk, which is
	// built after the core: c.desk is set before start runs the worker.
	agents := outbox.New(outbox.Config{Store: store, Kind: refund.OutboxAgent, Logger: m.Logger, Lease: m.Config.OutboxLease,
		Deliver: func(ctx context.Context, item refund.OutboxItem) error {
			if c.desk == nil {
				// No team chat: the case waits in human review, where the
				// shop API lists it.
				return nil
			}
			return c.desk.DeliverAgentNotice(ctx, item, send)
		}})
	service, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: m.Config.Policy,
		Location: m.Config.Location, Kick: func(k refund.OutboxKind) {
			switch {
			case k == refund.OutboxNotice:
				notices.Kick()
			case k == refund.OutboxAgent:
				agents.Kick()
			case k == refund.OutboxPayout && payouts != nil:
				payouts.Kick()
			}
		}})
	if err != nil {
		return nil, err
	}
	c.service, c.notices, c.payouts, c.agents = service, notices, payouts, agents
	return c, nil
}

// start runs the outbox workers, the deadline sweeper and, with a desk,
// the staff refresher until ctx ends.
func (c *core) start(ctx context.Context, agentDesk *desk.Desk, members desk.Members, m *Main) {
	c.desk, c.members = agentDesk, members
	run := func(name string, f func(context.Context) error) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				m.Logger.ErrorContext(ctx, name+" stopped", "err", err)
			}
		}()
	}
	run("notice outbox", c.notices.Run)
	run("agent outbox", c.agents.Run)
	if c.payouts != nil {
		run("payout outbox", c.payouts.Run)
	}
	run("deadline sweeper", func(ctx context.Context) error { return c.sweep(ctx, m) })
	if c.desk != nil && c.members != nil {
		run("staff refresher", func(ctx context.Context) error { return c.refreshStaff(ctx, m) })
	}
}

// refreshStaff reads the agents' profiles from Telegram at start and then
// every refresh interval until ctx ends. Every replica does so; the store
// makes sure the team hears of a departure once.
func (c *core) refreshStaff(ctx context.Context, m *Main) error {
	interval := c.refresh
	if interval <= 0 {
		interval = desk.DefaultStaffRefresh
	}
	every(ctx, interval, func() {
		n, err := c.desk.RefreshStaff(ctx, c.members, c.sender)
		switch {
		case err != nil && ctx.Err() == nil:
			// Some agents could not be read (Telegram down, or a user it
			// does not know in the team chat): they keep their records.
			m.Logger.WarnContext(ctx, "refresh staff profiles", "err", err, "refreshed", n)
		default:
			m.Logger.DebugContext(ctx, "refresh staff profiles", "refreshed", n)
		}
	})
	return nil
}

// every runs f at once and then every interval until ctx ends; a run
// that takes longer than interval delays the next rather than piling up.
func every(ctx context.Context, interval time.Duration, f func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// logSweep logs one part of a sweep: its error, unless the sweep is
// stopping, or else at level how much it did (key n), if anything.
func logSweep(ctx context.Context, logger *slog.Logger, level slog.Level, what, key string, n int, err error) {
	switch {
	case err != nil && ctx.Err() == nil:
		args := []any{"err", err}
		if key != "" {
			args = append(args, key, n)
		}
		logger.ErrorContext(ctx, what, args...)
	case err == nil && n > 0:
		logger.Log(ctx, level, what, key, n)
	}
}

// sweep acts on passed deadlines every interval until ctx ends: the
// cases' deadlines, and agents' holds gone silent; then it brings the
// team's queue board and the queued buyers' place messages up to date.
func (c *core) sweep(ctx context.Context, m *Main) error {
	interval := c.interval
	if interval <= 0 {
		interval = time.Minute
	}
	every(ctx, interval, func() {
		moved, err := c.service.Sweep(ctx, sweepBatch)
		logSweep(ctx, m.Logger, slog.LevelInfo, "deadline sweep", "moved", moved, err)
		if c.desk != nil {
			released, err := c.desk.ReleaseStaleHolds(ctx, c.sender)
			logSweep(ctx, m.Logger, slog.LevelInfo, "release silent holds", "released", released, err)
			err = c.desk.RefreshBoard(ctx, c.sender)
			logSweep(ctx, m.Logger, slog.LevelDebug, "refresh the queue board", "", 0, err)
			edited, err := c.desk.RefreshPlaces(ctx, c.sender)
			logSweep(ctx, m.Logger, slog.LevelDebug, "refresh the buyers' places in the queue", "edited", edited, err)
		}
	})
	return nil
}
