package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/refundbot/refundbot/bot"
	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/outbox"
	"github.com/refundbot/refundbot/refund/shopwebhook"
)

// sweepBatch bounds the cases one deadline sweep moves, so that a backlog
// is worked off over several sweeps instead of one long transaction burst.
const sweepBatch = 200

// core is the running refund core: the service and its background work.
type core struct {
	service *refund.Service
	wg      sync.WaitGroup
}

// wait blocks until the background work has stopped; it stops when the
// context given to startCore ends.
func (c *core) wait() { c.wg.Wait() }

// startCore builds the refund service and starts its outbox workers and
// deadline sweeper, which run until ctx ends.
func (m *Main) startCore(ctx context.Context, store refund.LifecycleStore, texts *locales.Bundle, send flows.Sender) (*core, error) {
	notifier := flows.NewNotifier(texts, m.Config.Location, send)
	notices := outbox.New(outbox.Config{Store: store, Kind: refund.OutboxNotice, Logger: m.Logger,
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
		payouts = outbox.New(outbox.Config{Store: store, Kind: refund.OutboxPayout, Deliver: hook.Deliver, Logger: m.Logger})
	} else {
		m.Logger.WarnContext(ctx, "SHOP_WEBHOOK_URL is not set: original-route payouts wait in the outbox")
	}
	service, err := refund.NewService(refund.ServiceConfig{Store: store, Policy: m.Config.Policy,
		Location: m.Config.Location, Kick: func(k refund.OutboxKind) {
			switch {
			case k == refund.OutboxNotice:
				notices.Kick()
			case k == refund.OutboxPayout && payouts != nil:
				payouts.Kick()
			}
		}})
	if err != nil {
		return nil, err
	}
	c := &core{service: service}
	run := func(name string, f func(context.Context) error) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				m.Logger.ErrorContext(ctx, name+" stopped", "err", err)
			}
		}()
	}
	run("notice outbox", notices.Run)
	if payouts != nil {
		run("payout outbox", payouts.Run)
	}
	run("deadline sweeper", func(ctx context.Context) error {
		return sweep(ctx, service, m.Config.SweepInterval, m)
	})
	return c, nil
}

// sweep acts on passed deadlines every interval until ctx ends.
func sweep(ctx context.Context, service *refund.Service, interval time.Duration, m *Main) error {
	if interval <= 0 {
		interval = time.Minute
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		moved, err := service.Sweep(ctx, sweepBatch)
		switch {
		case err != nil && ctx.Err() == nil:
			m.Logger.ErrorContext(ctx, "deadline sweep", "err", err, "moved", moved)
		case moved > 0:
			m.Logger.InfoContext(ctx, "deadline sweep", "moved", moved)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
