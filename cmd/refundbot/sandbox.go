package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/bot/sandbox"
	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

// sandboxToken is the fake Bot API's token; it never leaves the process.
const sandboxToken = "sandbox:token"

// runSandbox runs the real bot against an embedded Redis, an in-memory
// store of demo orders and an in-process fake of the Bot API, with the
// terminal as the Telegram client of the buyer and of the desk's one
// agent, in their team chat and in their private chat with the bot.
func (m *Main) runSandbox(ctx context.Context) error {
	mr, err := miniredis.Run()
	if err != nil {
		return fmt.Errorf("start embedded Redis: %w", err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	store := inmem.New()
	orders := sandbox.DemoOrders(time.Now())
	for _, o := range orders {
		if _, err := store.UpsertOrder(ctx, o); err != nil {
			return fmt.Errorf("seed demo order %s: %w", o.ID, err)
		}
	}
	fake, err := telegramfake.Start(sandboxToken)
	if err != nil {
		return fmt.Errorf("start the sandbox's Bot API: %w", err)
	}
	defer fake.Close()
	// The desk is the real one, with the team chat and the agent in the
	// fake: Telegram reports the agent's name there (getChatMember), which
	// signs their replies to the buyer.
	fake.AddChat(sandbox.TeamChat())
	fake.SetMember(sandbox.TeamChatID, telegramfake.Member{User: sandbox.Agent()})
	m.Config.AgentChatID, m.Config.Agents = sandbox.TeamChatID, []refund.Agent{sandbox.DeskAgent()}
	term := &sandbox.Terminal{Server: fake, In: m.Stdin, Out: m.Stdout, Location: m.Config.Location}
	fake.Subscribe(term.Show)
	term.PrintIntro(orders)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A pretend shop pays original-route refunds two seconds after it is
	// asked, so the whole life of a case can be watched here.
	if m.Config.ShopAPIToken == "" {
		m.Config.ShopAPIToken = rand.Text()
	}
	shop := &sandbox.Shop{Secret: []byte(rand.Text()), Token: m.Config.ShopAPIToken, API: m.HTTPAddr,
		Delay: 2 * time.Second, Logger: m.Logger, Notify: term.ShopNotified}
	term.Shop = shop
	hookURL, err := shop.Start(ctx)
	if err != nil {
		return err
	}
	defer shop.Close()
	m.Config.ShopWebhookURL, m.Config.ShopWebhookSecret = hookURL, string(shop.Secret)
	busy := m.freeHTTPAddr()
	served := make(chan error, 1)
	go func() {
		// The fake has no limits to keep within; the scripted buyer
		// types faster than any person.
		m.Config.PaceSends = false
		m.Config.FloodLimit = 1 << 20
		served <- m.serve(ctx, store, rdb, sandboxToken, fake.Endpoint(), func(context.Context) error { return nil })
	}()
	select {
	case <-m.Ready():
	case err := <-served:
		return err
	}
	if busy != "" {
		fmt.Fprintf(m.Stdout, "HTTP_ADDR %s is in use; the shop API listens on %s instead.\n", busy, m.HTTPAddr())
	}
	if !m.Config.DeskRelayTeam {
		term.OpenAgentChat(ctx)
	}
	termErr := term.Run(ctx)
	cancel()
	if err := <-served; err != nil {
		return err
	}
	return termErr
}

// freeHTTPAddr moves the sandbox's HTTP server to a free port when
// HTTP_ADDR is taken (another sandbox, a local service), so that trying
// the bot never fails on it; it returns the busy address, "" if none.
func (m *Main) freeHTTPAddr() string {
	ln, err := net.Listen("tcp", m.Config.HTTPAddr)
	if err == nil {
		_ = ln.Close()
		return ""
	}
	host, _, splitErr := net.SplitHostPort(m.Config.HTTPAddr)
	if splitErr != nil {
		return ""
	}
	busy := m.Config.HTTPAddr
	m.Config.HTTPAddr = net.JoinHostPort(host, "0")
	return busy
}
