package main

// Benchmarks of the whole bot: the fake Bot API on loopback, the update
// loop, the Redis session, the dialog, the dispatcher and the reply, with
// many buyer chats at once. docs/performance.md has the figures, `make
// bench` the commands, and cmd/benchtable checks a run against the
// performance issue's targets. Nothing here runs without -bench.
//
// Every benchmark runs the bot with the settings a shop runs in production
// (benchSettings): the agents' desk on, the flood limit and the chat leases
// on, and each send booked with the shared limiter. The exception is where
// the bot's rate is divided by the echo bot's, which paces nothing: there
// the bot's sends are unpaced too, and the benchmark says so in its name
// (pacing=off).

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/bot/echobot"
	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/postgres"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

// The turn every benchmark chat repeats: start a request, name an order
// that is not bound to the chat (so the bot checks the ownership lockout in
// Redis, reads the order from PostgreSQL and asks for the phone digits),
// then cancel. Each step is answered with exactly one message, and each
// touches the session. After the warm-up every chat has a dialog open.
var benchSteps = []string{"/refund", benchOrderID, "/cancel"}

// The reply each step gets, to check that the bot did what was measured.
var benchReplies = []string{"请发送需要退款的订单号", "预留手机号的后 4 位", "已取消本次申请"}

// benchAgent is the desk's agent, a member of the team chat, so that the
// staff refresher reads a profile as it does in a shop.
var benchAgent = telegramfake.User{ID: 9017, FirstName: "张三", Username: "cs_zhang"}

const (
	benchOrderID = "KM20261120999"
	// benchOrderStep is the step of benchSteps that reads the order; the
	// others read nothing from PostgreSQL, or should not.
	benchOrderStep = 1
	// benchChatBase keeps benchmark chats clear of any other IDs.
	benchChatBase = 7_000_000
	// echoWorkers is what the update loop allows by default (bot.Config.Workers).
	echoWorkers = 64
)

// benchSettings is the bot's environment in the benchmarks beyond the
// servers it talks to: a shop's production settings. pacing false turns
// pacing off (SEND_RATE_GLOBAL=off), for the ratio to the echo bot only.
func benchSettings(pacing bool) map[string]string {
	vars := map[string]string{
		// The desk on, with one agent: the team chat's middleware (the
		// hold check, agents' private chats) runs in front of every turn.
		"AGENT_CHAT_ID": strconv.FormatInt(teamChatID, 10), "AGENT_USER_IDS": "9017:张三:K017:@cs_zhang",
		// A benchmark chat types hundreds of messages a minute, which no
		// buyer does; the limit is above that, and the flood counter is
		// still incremented in every Begin, so its cost counts.
		"FLOOD_LIMIT": "100000000",
		// CHAT_LEASE_TTL is left at its default: every turn takes and
		// gives back its chat's lease, as in production.
	}
	if pacing {
		// Every send is booked with the shared limiter, as in production,
		// at limits the benchmark never reaches: its cost is measured, its
		// waits are not.
		vars["SEND_RATE_GLOBAL"], vars["SEND_RATE_CHAT"], vars["SEND_RATE_GROUP"] = "1000000", "1000000", "1000000"
	} else {
		vars["SEND_RATE_GLOBAL"] = "off"
	}
	return vars
}

// benchList reads a comma-separated list of positive numbers from the
// environment variable name, e.g. BENCH_CHATS=100,1000,10000; def when
// it is unset.
func benchList(b *testing.B, name string, def ...int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s: want positive numbers such as 100,1000, got %q", name, v)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkDialog measures dialog turns through the whole bot with N buyer
// chats, each with one update in flight at a time (a closed loop): one op
// is one update handled and answered. Before the bot it measures, for the
// same chats, the echo bot (bot/echobot) on the same fake API, the
// transport's ceiling, and a GET+SET pair per update on the same Redis,
// the state floor, and reports the bot against both. The bot's sends are
// not paced here, since the echo bot's are not (pacing=off); everything
// else is as in production.
//
// Latency is from the update being queued at the fake to the reply
// arriving there. With every chat waiting on the bot it is mostly queueing
// (chats / rate); BenchmarkDialogLatency measures it at a set rate.
func BenchmarkDialog(b *testing.B) {
	for _, chats := range benchList(b, "BENCH_CHATS", 100, 1000) {
		b.Run(fmt.Sprintf("pacing=off/chats=%d", chats), func(b *testing.B) {
			echo := benchEcho(b, chats, 2*time.Second)
			floor := benchFloor(b, chats, echoWorkers, 2*time.Second)

			bb := startBenchBot(b, benchOptions{})
			probe := bb.probe(b)
			d := newBenchDriver(bb.fake, chats, benchSteps, benchReplies)
			d.warmUp(b) // every chat has a dialog open
			d.latencies()

			c0 := bb.counters(b)
			d.startAll()
			for b.Loop() {
				d.next(b)
			}
			elapsed := b.Elapsed()
			handled := d.drain(b) // the updates still in flight finish uncounted by the timer
			bb.quiet(b)
			c := bb.counters(b)
			lat := d.latencies()
			d.check(b)

			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "updates/s")
			b.ReportMetric(benchMillis(benchPercentile(lat, 0.50)), "p50_ms")
			b.ReportMetric(benchMillis(benchPercentile(lat, 0.99)), "p99_ms")
			bb.report(b, c0, c, handled)
			// Only here: in webhook mode the fake's own posts of the
			// updates would count too, its client being this process's
			// default transport.
			b.ReportMetric(float64(c.httpDials-c0.httpDials)/float64(handled), "http_dials/upd")
			probe.report(b)
			b.ReportMetric(echo, "echo_upd/s")
			b.ReportMetric(rate/echo, "x_echo")
			b.ReportMetric(floor, "floor_pairs/s")
			b.ReportMetric(floor/rate, "x_floor")
		})
	}
}

// BenchmarkDialogLatency sends updates at set rates (BENCH_RATES per
// second, default 200 and 1000) to 1000 chats with open dialogs, never two
// at once to one chat, and reports the latency from queueing an update at
// the fake to its reply arriving there: the bot's handling time without
// network, at loads it keeps up with. ns/op is the pacing, not a cost.
// The bot runs as in production, sends paced, so that its Redis round
// trips per update are the production figure.
//
// mode=poll is long polling, where an update that arrives while a batch
// is handled waits for the batch and the next getUpdates; mode=webhook has
// the fake post each update as Telegram does, so the latency is the
// turn's own plus one local HTTP request.
func BenchmarkDialogLatency(b *testing.B) {
	const chats = 1000
	for _, mode := range []string{"poll", "webhook"} {
		for _, rate := range benchList(b, "BENCH_RATES", 200, 1000) {
			b.Run(fmt.Sprintf("mode=%s/rate=%d", mode, rate), func(b *testing.B) {
				benchLatency(b, mode == "webhook", chats, rate)
			})
		}
	}
}

func benchLatency(b *testing.B, webhook bool, chats, rate int) {
	bb := startBenchBot(b, benchOptions{webhook: webhook, pacing: true})
	probe := bb.probe(b)
	d := newBenchDriver(bb.fake, chats, benchSteps, benchReplies)
	d.warmUp(b)
	d.latencies()
	interval := time.Second / time.Duration(rate)
	c0 := bb.counters(b)
	start := time.Now()
	sent := 0
	for b.Loop() {
		time.Sleep(time.Until(start.Add(time.Duration(sent) * interval)))
		d.sendIdle(b)
		sent++
	}
	elapsed := b.Elapsed()
	handled := d.drain(b)
	bb.quiet(b)
	c := bb.counters(b)
	lat := d.latencies()
	d.check(b)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
	b.ReportMetric(benchMillis(benchPercentile(lat, 0.50)), "p50_ms")
	b.ReportMetric(benchMillis(benchPercentile(lat, 0.99)), "p99_ms")
	b.ReportMetric(benchMillis(benchPercentile(lat, 1)), "max_ms")
	bb.report(b, c0, c, handled)
	probe.report(b)
}

// BenchmarkDialogProcess runs the refundbot binary as its own process, the
// way it is deployed, with production settings (sends paced) and N chats
// (BENCH_PROCESS_CHATS, default 100 and 10,000). It reports the process's
// resident memory (VmRSS in /proc/PID/status) once started, once every
// chat has a dialog open, and after the run, its peak (VmHWM); the CPU
// time it spends per update, which the fake and the chats driving it (in
// this process) do not add to; its allocations and collections per update
// (its /metrics); and the CPU time per update of the echo bot run the same
// way (cmd/benchecho), with the ratio of the two.
//
// With BENCH_BOT_PROFILE=DIR the bot is built with -tags benchprofile
// and writes DIR/chats=N/cpu.pprof and heap.pprof (allocations) covering
// the measured updates only.
func BenchmarkDialogProcess(b *testing.B) {
	bins := buildBenchBinaries(b)
	for _, chats := range benchList(b, "BENCH_PROCESS_CHATS", 100, 10000) {
		b.Run(fmt.Sprintf("chats=%d", chats), func(b *testing.B) {
			bins := bins
			if bins.profile != "" {
				bins.profile = filepath.Join(bins.profile, fmt.Sprintf("chats=%d", chats))
				if err := os.MkdirAll(bins.profile, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			fake, p := startBenchBotProcess(b, bins, benchSettings(true))
			pid := p.cmd.Process.Pid
			started := benchProcMemory(b, pid)
			d := newBenchDriver(fake, chats, benchSteps, benchReplies)
			d.warmUp(b)
			open := benchProcMemory(b, pid)
			d.latencies()
			gc0 := p.goStats(b)
			cpu0 := benchProcCPU(b, pid)
			p.profile(b, bins.profile, true)
			d.startAll()
			for b.Loop() {
				d.next(b)
			}
			elapsed := b.Elapsed()
			handled := d.drain(b)
			cpu := benchProcCPU(b, pid) - cpu0
			p.profile(b, bins.profile, false)
			gc := p.goStats(b)
			after := benchProcMemory(b, pid)
			lat := d.latencies()
			d.check(b)
			echoCPU, echoRSS := benchEchoProcess(b, bins.echo, chats, handled)

			perUpdate := func(v float64) float64 { return v / float64(handled) }
			botCPU := float64(cpu.Microseconds()) / float64(handled)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
			b.ReportMetric(benchMillis(benchPercentile(lat, 0.99)), "p99_ms")
			b.ReportMetric(botCPU, "bot_cpu_us/upd")
			b.ReportMetric(float64(echoCPU.Nanoseconds())/1e3, "echo_cpu_us/upd")
			b.ReportMetric(botCPU/(float64(echoCPU.Nanoseconds())/1e3), "x_echo_cpu")
			b.ReportMetric(perUpdate(gc.mallocs-gc0.mallocs), "allocs/upd")
			b.ReportMetric(perUpdate(gc.allocBytes-gc0.allocBytes), "alloc_B/upd")
			b.ReportMetric(1000*perUpdate(gc.gcs-gc0.gcs), "gc/kupd")
			b.ReportMetric(started.rss, "rss_start_MiB")
			b.ReportMetric(open.rss, "rss_open_MiB")
			b.ReportMetric(after.rss, "rss_after_MiB")
			b.ReportMetric(after.hwm, "rss_peak_MiB")
			b.ReportMetric(echoRSS, "echo_rss_MiB")
		})
	}
}

// benchOptions are what differ between the benchmarks' deployments.
type benchOptions struct {
	webhook bool
	// pacing books every send with the shared limiter (benchSettings).
	pacing bool
}

// benchBot is a running deployment: the fake Bot API it polls, the
// counters of its Redis round trips and its PostgreSQL statements, and a
// client of the same Redis for INFO.
type benchBot struct {
	fake    *telegramfake.Server
	rt      *benchRoundTrips
	pg      *benchPostgres
	rdbInfo *redis.Client
}

// startBenchBot starts a deployment as Run does (openRedis, openPostgres,
// serve) with benchSettings, a hook on the Redis client that counts round
// trips, PostgreSQL behind the counting proxy, and the unbound order that
// benchSteps name. The bot's goroutines carry the profiler label
// side=bot, so that `go tool pprof -tagfocus side=bot` shows its share of
// a profile of this process apart from the fake's and the buyers'.
func startBenchBot(b *testing.B, o benchOptions) *benchBot {
	b.Helper()
	countBenchTCPDials()
	fake := startBenchFake(b)
	rdbInfo, prefix := openBenchRedis(b)
	schema := pgtest.NewSchema(b)
	pg, dbURL := startBenchPostgres(b, pgtest.DatabaseURL())
	vars := benchSettings(o.pacing)
	for k, v := range map[string]string{
		"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_ENDPOINT": fake.Endpoint(),
		"REDIS_URL": redistest.URL(), "REDIS_PREFIX": prefix, "DATABASE_URL": dbURL,
		"DATABASE_SCHEMA": schema, "HTTP_ADDR": "127.0.0.1:0",
	} {
		vars[k] = v
	}
	if o.webhook {
		addr := freeAddr(b)
		vars["HTTP_ADDR"], vars["WEBHOOK_URL"], vars["WEBHOOK_SECRET"] = addr, "http://"+addr+"/telegram/webhook", "bench-secret"
	}
	cfg, err := ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	rdb, err := openRedis(ctx, cfg.RedisURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rdb.Close() })
	rt := &benchRoundTrips{prefix: prefix}
	rdb.AddHook(rt)
	db, err := openPostgres(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	putBenchOrder(b, db)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := &Main{Config: cfg, Logger: logger, PollTimeout: time.Second}
	done := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "bot"), func(ctx context.Context) {
		done <- m.serve(ctx, db, rdb, cfg.Token, cfg.Endpoint, func(context.Context) error { return nil })
	})
	b.Cleanup(func() { // before the clients close
		cancel()
		if err := <-done; err != nil {
			b.Errorf("bot stopped with error: %v", err)
		}
	})
	select {
	case <-m.Ready():
	case err := <-done:
		b.Fatalf("bot did not start: %v", err)
	case <-time.After(waitFor):
		b.Fatal("bot did not start in time")
	}
	return &benchBot{fake: fake, rt: rt, pg: pg, rdbInfo: rdbInfo}
}

// openBenchRedis is redistest.Open for the hundreds of thousands of keys
// a benchmark leaves (sessions, and a handled-mark per update): they are
// deleted in pipelined batches, which redistest's cleanup, a key per round
// trip in at most 5 s, would not finish.
func openBenchRedis(b *testing.B) (*redis.Client, string) {
	b.Helper()
	rdb, prefix := redistest.Open(b)
	b.Cleanup(func() { // runs before redistest's, which then finds nothing
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		flush := func() {
			if len(keys) > 0 {
				if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
					b.Logf("clean up redis prefix %s: %v", prefix, err)
				}
				keys = keys[:0]
			}
		}
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 1000 {
				flush()
			}
		}
		flush()
		if err := iter.Err(); err != nil {
			b.Logf("clean up redis prefix %s: %v", prefix, err)
		}
	})
	return rdb, prefix
}

// putBenchOrder stores the order the chats name: bound to nobody, so every
// chat is asked for the phone digits.
func putBenchOrder(b *testing.B, db *postgres.DB) {
	b.Helper()
	now := time.Now().UTC()
	_, err := db.UpsertOrder(context.Background(), refund.Order{
		ID: benchOrderID, ContactPhone: "13800138000", Product: "王者荣耀点卡 100元",
		Category: refund.CategoryGameCard, AmountPaid: 9500, ListPrice: 10000, Currency: "CNY",
		PaymentMethod: refund.PayAlipay, PurchasedAt: now.Add(-2 * time.Hour), DeliveredAt: now.Add(-time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
}

// benchProbe is what each step of benchSteps costs one chat alone, from
// its update to the dispatcher's bookkeeping after the reply: Redis round
// trips and PostgreSQL statements. Each is the least of several passes:
// the bot's background work (the dispatcher's poll of the send queues,
// the outbox workers) may fall into a step, and a step's own cost is the
// same every time.
type benchProbe struct{ redis, pg []int64 }

// probe runs one chat through the steps alone.
func (bb *benchBot) probe(b *testing.B) benchProbe {
	b.Helper()
	// The first pass opens the pools' connections and loads the scripts,
	// and is not counted.
	const passes = 6
	ctx := context.Background()
	chat := telegramfake.Chat{ID: benchChatBase - 1, Type: "private"}
	user := telegramfake.User{ID: chat.ID, FirstName: "Probe", LanguageCode: "zh-hans"}
	pr := benchProbe{redis: make([]int64, len(benchSteps)), pg: make([]int64, len(benchSteps))}
	sent := 0
	for pass := range passes {
		for i, text := range benchSteps {
			bb.quiet(b)
			// A pass takes about as long as the dispatcher's poll period, so
			// a poll would fall into the same step of every pass; each step
			// starts at another offset in each pass instead.
			time.Sleep(time.Duration((pass*7+i*3)%10) * 20 * time.Millisecond)
			r0, q0 := bb.rt.calls.Load(), bb.pg.queries.Load()
			bb.fake.SendText(chat, user, text)
			sent++
			wctx, cancel := context.WithTimeout(ctx, waitFor)
			msgs, err := bb.fake.WaitMessages(wctx, chat.ID, sent)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			if want := benchReplies[i]; !strings.Contains(msgs[sent-1].Text, want) {
				b.Fatalf("step %q: reply %q, want one containing %q", text, msgs[sent-1].Text, want)
			}
			bb.quiet(b)
			r, q := bb.rt.calls.Load()-r0, bb.pg.queries.Load()-q0
			if pass == 1 || pass > 1 && r < pr.redis[i] {
				pr.redis[i] = r
			}
			if pass == 1 || pass > 1 && q < pr.pg[i] {
				pr.pg[i] = q
			}
		}
	}
	b.Logf("one chat alone, steps %q: Redis round trips %v, PostgreSQL statements %v (the least of %d passes)",
		benchSteps, pr.redis, pr.pg, passes-1)
	return pr
}

// report reports the most round trips one step took, and the statements
// of the steps that read no order and of the one that does.
func (pr benchProbe) report(b *testing.B) {
	var noOrder int64
	for i, n := range pr.pg {
		if i != benchOrderStep {
			noOrder = max(noOrder, n)
		}
	}
	b.ReportMetric(float64(slices.Max(pr.redis)), "redis_rt_max")
	b.ReportMetric(float64(noOrder), "pg_q_noorder")
	b.ReportMetric(float64(pr.pg[benchOrderStep]), "pg_q_order")
}

// quiet waits until the bot has sent nothing to Redis or PostgreSQL for
// 20 ms: a turn's last round trip, the dispatcher's Done, comes after the
// reply arrived.
func (bb *benchBot) quiet(b *testing.B) {
	b.Helper()
	last := [2]int64{-1, -1}
	for start := time.Now(); time.Since(start) < waitFor; time.Sleep(20 * time.Millisecond) {
		now := [2]int64{bb.rt.calls.Load(), bb.pg.trips.Load()}
		if now == last {
			return
		}
		last = now
	}
	b.Fatalf("the bot kept talking to Redis or PostgreSQL for %s", waitFor)
}

// benchCounts are the deployment's counters at one moment.
type benchCounts struct {
	redisCalls, redisDials, redisCmds int64
	redisKinds                        map[string]int64
	pgQueries, pgTrips                int64
	pgSQL                             map[string]int64
	httpDials                         int64
}

func (bb *benchBot) counters(b *testing.B) benchCounts {
	b.Helper()
	return benchCounts{redisCalls: bb.rt.calls.Load(), redisDials: bb.rt.dials.Load(), redisCmds: benchRedisCommands(b, bb.rdbInfo),
		redisKinds: bb.rt.snapshot(), pgQueries: bb.pg.queries.Load(), pgTrips: bb.pg.trips.Load(), pgSQL: bb.pg.snapshot(),
		httpDials: benchTCPDials.Load()}
}

// report reports what the updates between two counts cost on average,
// everything the bot did meanwhile included, and logs of what.
func (bb *benchBot) report(b *testing.B, c0, c benchCounts, updates int) {
	b.Helper()
	per := func(d int64) float64 { return float64(d) / float64(updates) }
	b.ReportMetric(per(c.redisCalls-c0.redisCalls), "redis_rt/upd")
	b.ReportMetric(per(c.redisCmds-c0.redisCmds), "redis_cmds/upd")
	b.ReportMetric(float64(c.redisDials-c0.redisDials), "redis_dials")
	b.ReportMetric(per(c.pgQueries-c0.pgQueries), "pg_q/upd")
	b.ReportMetric(per(c.pgTrips-c0.pgTrips), "pg_rt/upd")
	logBenchBreakdown(b, "Redis round trips", c0.redisKinds, c.redisKinds, updates, benchRedisName)
	logBenchBreakdown(b, "PostgreSQL statements", c0.pgSQL, c.pgSQL, updates, func(s string) string { return s })
}

// benchEcho runs the echo bot (bot/echobot) in this process against a
// fresh fake with the same chats and returns the updates it answers per
// second. Its goroutines carry the profiler label side=echo.
func benchEcho(b *testing.B, chats int, d time.Duration) float64 {
	b.Helper()
	countBenchTCPDials()
	fake, err := telegramfake.Start(testToken)
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	api, err := echobot.New(testToken, fake.Endpoint(), echoWorkers)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go pprof.Do(ctx, pprof.Labels("side", "echo"), func(ctx context.Context) {
		defer close(stopped)
		echobot.Run(ctx, api, echoWorkers)
	})
	defer func() {
		cancel()
		fake.Close() // ends the long poll in flight
		<-stopped
	}()
	drv := newBenchDriver(fake, chats, benchSteps, nil)
	drv.warmUp(b)
	drv.latencies()
	drv.startAll()
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		drv.next(b)
		n++
	}
	rate := float64(n) / time.Since(start).Seconds()
	drv.drain(b)
	return rate
}

// benchFloor returns how many GET+SET pairs per second workers
// goroutines get from the same Redis with a client made as the bot makes
// its own: the least one update that reads and saves a session can cost.
func benchFloor(b *testing.B, chats, workers int, d time.Duration) float64 {
	b.Helper()
	_, prefix := openBenchRedis(b)
	ctx := context.Background()
	rdb, err := openRedis(ctx, redistest.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	session := bytes.Repeat([]byte("x"), 240) // about a session's JSON
	var pairs atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := w; time.Now().Before(stop); i += workers {
				key := prefix + "sess:" + strconv.Itoa(i%chats)
				if err := rdb.Get(ctx, key).Err(); err != nil && err != redis.Nil {
					b.Error(err)
					return
				}
				if err := rdb.Set(ctx, key, session, time.Hour).Err(); err != nil {
					b.Error(err)
					return
				}
				pairs.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(pairs.Load()) / time.Since(start).Seconds()
}
