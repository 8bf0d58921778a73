package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/bot"
	"github.com/refundbot/refundbot/bot/metrics"
	"github.com/refundbot/refundbot/bot/sendlimit"
	"github.com/refundbot/refundbot/flows"
	buyerflow "github.com/refundbot/refundbot/flows/buyer"
	"github.com/refundbot/refundbot/flows/desk"
	"github.com/refundbot/refundbot/flows/redisstore"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
)

// Main is the whole program as a value: main() fills it from the
// environment, end-to-end tests fill it by hand, and both call Run.
type Main struct {
	Config Config
	Logger *slog.Logger
	// Stdin and Stdout are the sandbox's terminal.
	Stdin  io.Reader
	Stdout io.Writer
	// PollTimeout overrides the long-poll wait (tests shorten it).
	PollTimeout time.Duration

	mu       sync.Mutex
	httpAddr string
	ready    chan struct{}
}

// HTTPAddr returns the address the HTTP server listens on, once Ready.
func (m *Main) HTTPAddr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.httpAddr
}

// Ready is closed when the bot is receiving updates.
func (m *Main) Ready() <-chan struct{} { return m.readyChan() }

// Run runs the bot until ctx is cancelled: against Telegram when a token
// is configured, else as the sandbox.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if m.Config.Sandbox() {
		return m.runSandbox(ctx)
	}
	rdb, err := openRedis(ctx, m.Config.RedisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	db, err := openPostgres(ctx, m.Config)
	if err != nil {
		return err
	}
	defer db.Close()
	ready := func(ctx context.Context) error {
		return errors.Join(httpapi.CheckDependency("redis", rdb.Ping(ctx).Err()),
			httpapi.CheckDependency("postgres", db.Ping(ctx)))
	}
	return m.serve(ctx, db, rdb, m.Config.Token, m.Config.Endpoint, ready)
}

// serve wires the dialog to Telegram and the shop API and runs both. It is
// the one wiring used by production, the sandbox and the tests.
func (m *Main) serve(ctx context.Context, store store, rdb redis.UniversalClient, token, endpoint string,
	ready func(context.Context) error) error {
	texts, err := locales.Load()
	if err != nil {
		return err
	}
	pollTimeout := m.PollTimeout
	if pollTimeout <= 0 {
		pollTimeout = 30 * time.Second
	}
	conn, err := bot.Connect(token, endpoint, 15*time.Second, pollTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	stats := metrics.New(metrics.Options{Steps: buyerflow.StepNames(), Stats: store, Logger: m.Logger, Telegram: conn.Reachable})
	senderOpts := bot.SenderOptions{Observer: stats}
	var limiter *sendlimit.Limiter
	if m.Config.PaceSends {
		if limiter, err = sendlimit.New(rdb, m.Config.RedisPrefix, m.Config.SendLimits); err != nil {
			return err
		}
		senderOpts.Pacer = limiter
	}
	sender := bot.NewSender(conn.API, m.Logger, senderOpts)
	if err := bootstrapAgents(ctx, store, m.Config.Agents); err != nil {
		return err
	}
	sessionOpts := redisstore.Options{LeaseTTL: m.Config.LeaseTTL, FloodLimit: m.Config.FloodLimit}
	dispatch := flows.DispatcherConfig{Sender: sender, Retryable: bot.Transient, Observer: stats, Logger: m.Logger}
	if limiter != nil {
		// The dispatcher paces, with the replies booked as turns commit.
		sessionOpts.Booker = limiter
		dispatch.Pacer, dispatch.Sender = limiter, sender.Unpaced()
	}
	sessions := redisstore.NewWithOptions(rdb, m.Config.RedisPrefix, m.Config.IdleTTL, sessionOpts)
	// The desk links sent messages to their cases and hears of refused
	// ones; it is built after the dispatcher, which only sends once Run
	// starts, below.
	var links lateDesk
	dispatch.Queue, dispatch.Linker, dispatch.OnRefused = sessions, &links, links.refused
	dispatch.KeepClaims = sessions.ClaimTTL() / 3
	dispatcher, err := flows.NewDispatcher(dispatch)
	if err != nil {
		return err
	}
	queued := flows.Queued{Dispatcher: dispatcher, Direct: sender}
	core, err := m.newCore(ctx, store, texts, queued)
	if err != nil {
		return err
	}
	switch changed, err := sessions.ClaimBot(ctx, conn.API.Self.ID); {
	case err != nil:
		// Redis may be back in a moment; the turns wait for it anyway.
		m.Logger.WarnContext(ctx, "cannot record the bot's id with its handled updates", "err", err)
	case changed:
		m.Logger.WarnContext(ctx, "REDIS_PREFIX held another bot's handled updates; they no longer count for this bot",
			"bot", conn.API.Self.UserName)
	}
	agentDesk, err := m.newDesk(ctx, conn, store, core.service, texts, sender, stats, sessions)
	if err != nil {
		return err
	}
	links.desk = agentDesk
	var buyerDesk buyerflow.Desk = buyerflow.NoDesk{}
	if agentDesk != nil {
		buyerDesk = agentDesk
	}
	dialog, err := buyerflow.New(buyerflow.Config{Core: core.service, Desk: buyerDesk, Attempts: sessions, Texts: texts,
		Location: m.Config.Location, IdleTTL: m.Config.IdleTTL, OrderIDPattern: m.Config.OrderIDPattern,
		BotUsername: conn.API.Self.UserName, Observer: stats, Logger: m.Logger})
	if err != nil {
		return err
	}
	var handler flows.Handler = dialog
	if agentDesk != nil {
		handler = flows.Route(agentDesk.ChatID(), agentDesk, agentDesk.Private(agentDesk.Hold(dialog)))
	}
	runtime, err := flows.NewRuntime(flows.RuntimeConfig{Sessions: sessions, Texts: texts, Handler: handler,
		Dispatcher: dispatcher, LeaseTTL: sessions.LeaseTTL(), Observer: stats, Logger: m.Logger})
	if err != nil {
		return err
	}
	// The dispatcher outlives the turns, whose last messages it takes;
	// what is still queued when it stops waits in Redis for the restart.
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		if err := dispatcher.Run(dispatchCtx); err != nil {
			m.Logger.ErrorContext(ctx, "dispatcher stopped", "err", err)
		}
	}()
	defer func() { stopDispatch(); <-dispatched }()
	// The workers stop with ctx, or when serve returns early on an error.
	coreCtx, stopCore := context.WithCancel(ctx)
	core.start(coreCtx, agentDesk, sender, m)
	defer core.wait()
	defer stopCore()

	// Updates in hand when the stop comes get the shutdown grace to finish.
	grace := m.Config.ShutdownGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	handleCtx, cancelHandling := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandling()
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancelHandling) })
	defer stopGrace()

	var stopping atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", stats.Handler())
	mux.Handle("/", httpapi.NewHandler(httpapi.Config{Orders: store, Payouts: core.service, Cases: store,
		Token: m.Config.ShopAPIToken, Logger: m.Logger, Ready: func(ctx context.Context) error {
			if stopping.Load() {
				// Draining: the load balancer stops sending here first.
				return httpapi.CheckDependency("shutdown", errors.New("shutting down"))
			}
			return ready(ctx)
		}, TelegramReady: func(ctx context.Context) error {
			// Not in Ready: a Telegram outage must not take the shop API out too.
			return httpapi.CheckDependency("telegram", conn.Reachable(ctx))
		}}))
	var webhook *bot.Webhook
	if m.Config.WebhookURL != "" {
		// Albums are collected in Redis: their items come one request at
		// a time, to any replica.
		webhook, err = bot.NewWebhook(bot.WebhookConfig{Handler: runtime, Sender: sender, Secret: m.Config.WebhookSecret,
			Logger: m.Logger, Observer: stats, HandleContext: handleCtx, Albums: sessions})
		if err != nil {
			return err
		}
		mux.Handle(m.Config.webhookPath(), webhook)
	}

	ln, err := net.Listen("tcp", m.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w", m.Config.HTTPAddr, err)
	}
	srv := httpapi.NewServer(mux, httpapi.ServerOptions{})
	m.mu.Lock()
	m.httpAddr = ln.Addr().String()
	m.mu.Unlock()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()

	var runErr error
	if webhook != nil {
		if err := conn.SetWebhook(ctx, m.Config.WebhookURL, m.Config.WebhookSecret, 0); err != nil {
			runErr = err
		} else {
			m.Logger.InfoContext(ctx, "refundbot started in webhook mode", "bot", conn.API.Self.UserName,
				"http_addr", ln.Addr().String(), "webhook_path", m.Config.webhookPath())
			close(m.readyChan())
			webhook.Run(ctx)
		}
	} else {
		poller, err := bot.NewPoller(bot.Config{
			Connection: conn, Handler: runtime, Sender: sender, Logger: m.Logger,
			PollTimeout: pollTimeout, Observer: stats,
		})
		if err != nil {
			runErr = err
		} else {
			m.Logger.InfoContext(ctx, "refundbot started", "bot", conn.API.Self.UserName, "http_addr", ln.Addr().String())
			close(m.readyChan())
			runErr = poller.Run(ctx, handleCtx)
		}
	}
	stopping.Store(true)
	// Shutdown waits for webhook requests in flight, which finish within
	// the grace; a little more lets their answers go out.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+2*time.Second)
	defer cancel()
	httpErr := srv.Shutdown(shutdownCtx)
	if err := <-httpDone; !errors.Is(err, http.ErrServerClosed) {
		httpErr = errors.Join(httpErr, err)
	}
	if webhook != nil {
		// Albums in hand finish within the grace, like requests.
		webhook.Wait()
	}
	m.Logger.InfoContext(context.WithoutCancel(ctx), "refundbot stopped")
	return errors.Join(runErr, httpErr)
}

// newDesk builds the agents' desk, or returns nil when AGENT_CHAT_ID is
// not set. The escalations go through their domain service, which logs
// every hand-over in the case's history.
func (m *Main) newDesk(ctx context.Context, conn *bot.Connection, store store, cases *refund.Service,
	texts *locales.Bundle, sender *bot.Sender, stats *metrics.Metrics, sessions *redisstore.Store) (*desk.Desk, error) {
	if m.Config.AgentChatID == 0 {
		return nil, nil
	}
	escalations, err := refund.NewEscalationService(refund.EscalationServiceConfig{Escalations: store, Agents: store,
		Cases: cases, Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	cfg := desk.Config{Escalations: escalations, Marks: sessions, Agents: store, Cases: cases, Texts: texts,
		ChatID: m.Config.AgentChatID, Lang: "zh-CN", HoldTimeout: m.Config.AgentHoldTimeout,
		AgentChats: agentChats(m.Config.DeskRelayTeam, sessions), AutoAssign: m.Config.DeskAutoAssign, AgentCap: m.Config.DeskAgentCap, Hours: m.Config.DeskHours, Ratings: stats,
		Location: m.Config.Location, Logger: m.Logger,
		Undeliverable: func(err error) bool { return !bot.Transient(err) }}
	forum, err := conn.IsForum(ctx, m.Config.AgentChatID)
	switch {
	case err != nil:
		// Cards still work as reply threads; the operator learns why
		// topics are not used.
		m.Logger.WarnContext(ctx, "cannot read the agents' chat; case cards will be reply threads",
			"agent_chat_id", m.Config.AgentChatID, "err", err)
	case forum:
		cfg.Topics = sender
	}
	d, err := desk.New(cfg)
	if err != nil {
		return nil, err
	}
	n, err := d.SyncMarks(ctx)
	if err != nil {
		return nil, fmt.Errorf("mark the chats with open escalations: %w", err)
	}
	m.Logger.DebugContext(ctx, "chats with open escalations marked", "chats", n)
	return d, nil
}

// lateDesk is the dispatcher's view of the desk, set once the desk is
// built; a bot without a desk queues no links and ignores refusals.
type lateDesk struct{ desk *desk.Desk }

// Link implements flows.Linker.
func (l *lateDesk) Link(ctx context.Context, escalationID int64, messageID int, kind flows.LinkKind) error {
	if l.desk == nil {
		return fmt.Errorf("link message %d to escalation %d: the bot has no desk", messageID, escalationID)
	}
	return l.desk.Link(ctx, escalationID, messageID, kind)
}

func (l *lateDesk) refused(ctx context.Context, env flows.Envelope, err error) {
	if l.desk != nil {
		l.desk.Refused(ctx, env, err)
	}
}

// agentChats is where the desk learns which agents have a private chat
// with the bot, for relays there; nil keeps every relay in the team chat.
func agentChats(teamOnly bool, sessions *redisstore.Store) flows.AgentChats {
	if teamOnly {
		return nil
	}
	return sessions
}

func (m *Main) readyChan() chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready == nil {
		m.ready = make(chan struct{})
	}
	return m.ready
}

// importOrders loads a JSON-lines file of orders into PostgreSQL.
func importOrders(ctx context.Context, cfg Config, path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import orders: %w", err)
	}
	defer f.Close()
	db, err := openPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := httpapi.ImportOrders(ctx, f, db)
	if err != nil {
		return fmt.Errorf("import orders from %s: %w", path, err)
	}
	for _, le := range res.Failed {
		fmt.Fprintf(out, "%s: %v\n", path, le)
	}
	fmt.Fprintf(out, "%d created, %d updated, %d failed\n", res.Created, res.Updated, len(res.Failed))
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d lines of %s were not imported", len(res.Failed), path)
	}
	return nil
}
