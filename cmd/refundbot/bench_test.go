package main

// Benchmarks of the whole bot: the fake Bot API on loopback, the update
// loop, the Redis session, the dialog and the reply, with many buyer chats
// at once. docs/performance.md has the figures and `make bench` the
// commands. Nothing here runs without -bench.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/redis/go-redis/v9"

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

const (
	benchOrderID = "KM20261120999"
	// benchChatBase keeps benchmark chats clear of any other IDs.
	benchChatBase = 7_000_000
	// echoWorkers is what the update loop allows by default (bot.Config.Workers).
	echoWorkers = 64
)

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
// same chats, a bare tgbotapi echo bot on the same fake API (the
// transport's ceiling) and a GET+SET pair per update on the same Redis
// (the state floor), and reports the bot against both.
//
// Latency is from the update being queued at the fake to the reply
// arriving there. With every chat waiting on the bot it is mostly queueing
// (chats / rate); BenchmarkDialogLatency measures it at a set rate.
func BenchmarkDialog(b *testing.B) {
	for _, chats := range benchList(b, "BENCH_CHATS", 100, 1000) {
		b.Run(fmt.Sprintf("chats=%d", chats), func(b *testing.B) {
			ctx := context.Background()
			echo := benchEcho(b, chats, 2*time.Second)
			floor := benchFloor(b, chats, echoWorkers, 2*time.Second)

			bb := startBenchBot(b, false)
			maxRT := bb.probe(b)
			d := newBenchDriver(bb.fake, chats, benchSteps, benchReplies)
			d.warmUp(b) // every chat has a dialog open
			d.latencies()

			cmds0 := benchRedisCommands(b, bb.rdbInfo)
			rt0, dials0 := bb.rt.calls.Load(), bb.rt.dials.Load()
			tcp0 := benchTCPDials.Load()
			d.startAll()
			for b.Loop() {
				d.next(b)
			}
			elapsed := b.Elapsed()
			handled := d.drain(b) // the updates still in flight finish uncounted by the timer
			bb.settle(ctx)
			rt := bb.rt.calls.Load() - rt0
			cmds := benchRedisCommands(b, bb.rdbInfo) - cmds0
			lat := d.latencies()
			d.check(b)

			rate := float64(b.N) / elapsed.Seconds()
			b.ReportMetric(rate, "updates/s")
			b.ReportMetric(benchMillis(benchPercentile(lat, 0.50)), "p50_ms")
			b.ReportMetric(benchMillis(benchPercentile(lat, 0.99)), "p99_ms")
			b.ReportMetric(float64(rt)/float64(handled), "redis_rt/upd")
			b.ReportMetric(float64(maxRT), "redis_rt_max")
			b.ReportMetric(float64(cmds)/float64(handled), "redis_cmds/upd")
			b.ReportMetric(float64(bb.rt.dials.Load()-dials0), "redis_dials")
			b.ReportMetric(float64(benchTCPDials.Load()-tcp0)/float64(handled), "http_dials/upd")
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
	bb := startBenchBot(b, webhook)
	d := newBenchDriver(bb.fake, chats, benchSteps, benchReplies)
	d.warmUp(b)
	d.latencies()
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	sent := 0
	for b.Loop() {
		time.Sleep(time.Until(start.Add(time.Duration(sent) * interval)))
		d.sendIdle(b)
		sent++
	}
	elapsed := b.Elapsed()
	d.drain(b)
	lat := d.latencies()
	d.check(b)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
	b.ReportMetric(benchMillis(benchPercentile(lat, 0.50)), "p50_ms")
	b.ReportMetric(benchMillis(benchPercentile(lat, 0.99)), "p99_ms")
	b.ReportMetric(benchMillis(benchPercentile(lat, 1)), "max_ms")
}

// BenchmarkDialogProcess runs the refundbot binary as its own process, the
// way it is deployed, with N chats (BENCH_PROCESS_CHATS, default 10,000).
// It reports the process's resident memory (VmRSS in /proc/PID/status)
// once started, once every chat has a dialog open, and after the run, its
// peak (VmHWM), and the CPU time it spends per update, which the fake and
// the chats driving it (in this process) do not add to.
func BenchmarkDialogProcess(b *testing.B) {
	for _, chats := range benchList(b, "BENCH_PROCESS_CHATS", 10000) {
		b.Run(fmt.Sprintf("chats=%d", chats), func(b *testing.B) {
			fake, child := startBenchProcess(b)
			pid := child.Process.Pid
			started := benchProcMemory(b, pid)
			d := newBenchDriver(fake, chats, benchSteps, benchReplies)
			d.warmUp(b)
			open := benchProcMemory(b, pid)
			d.latencies()
			cpu0 := benchProcCPU(b, pid)
			d.startAll()
			for b.Loop() {
				d.next(b)
			}
			elapsed := b.Elapsed()
			handled := d.drain(b)
			cpu := benchProcCPU(b, pid) - cpu0
			after := benchProcMemory(b, pid)
			lat := d.latencies()
			d.check(b)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "updates/s")
			b.ReportMetric(benchMillis(benchPercentile(lat, 0.99)), "p99_ms")
			b.ReportMetric(float64(cpu.Microseconds())/float64(handled), "bot_cpu_us/upd")
			b.ReportMetric(started.rss, "rss_start_MiB")
			b.ReportMetric(open.rss, "rss_open_MiB")
			b.ReportMetric(after.rss, "rss_after_MiB")
			b.ReportMetric(after.hwm, "rss_peak_MiB")
		})
	}
}

// benchBot is a running deployment: the fake Bot API it polls, the count
// of its Redis round trips, and a client of the same Redis for INFO.
type benchBot struct {
	fake    *telegramfake.Server
	rt      *benchRoundTrips
	rdbInfo *redis.Client
}

// startBenchBot starts a deployment as Run does (openRedis, openPostgres,
// serve), with a hook on the Redis client that counts round trips, and the
// unbound order that benchSteps name.
func startBenchBot(b *testing.B, webhook bool) *benchBot {
	b.Helper()
	countBenchTCPDials()
	fake, err := telegramfake.Start(testToken)
	if err != nil {
		b.Fatal(err)
	}
	fake.AllowHTTPWebhooks()
	b.Cleanup(func() { fake.Close() })
	rdbInfo, prefix := openBenchRedis(b)
	schema := pgtest.NewSchema(b)
	vars := map[string]string{
		"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_ENDPOINT": fake.Endpoint(),
		"REDIS_URL": redistest.URL(), "REDIS_PREFIX": prefix, "DATABASE_URL": pgtest.DatabaseURL(),
		"DATABASE_SCHEMA": schema, "HTTP_ADDR": "127.0.0.1:0",
		// Every reply is booked with the shared limiter, as in production,
		// at limits the benchmark never reaches: its cost is measured, its
		// waits are not.
		"SEND_RATE_GLOBAL": "1000000", "SEND_RATE_CHAT": "1000000", "SEND_RATE_GROUP": "1000000",
		// A benchmark chat types hundreds of messages a minute; the flood
		// counter is still incremented on every update, so its cost counts.
		"FLOOD_LIMIT": "100000000",
	}
	if webhook {
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
	rt := &benchRoundTrips{}
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
	go func() {
		done <- m.serve(ctx, db, rdb, cfg.Token, cfg.Endpoint, func(context.Context) error { return nil })
	}()
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
	return &benchBot{fake: fake, rt: rt, rdbInfo: rdbInfo}
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

// probe runs one chat through the steps alone and returns the most Redis
// round trips one step took, session save included.
func (bb *benchBot) probe(b *testing.B) int64 {
	b.Helper()
	ctx := context.Background()
	chat := telegramfake.Chat{ID: benchChatBase - 1, Type: "private"}
	user := telegramfake.User{ID: chat.ID, FirstName: "Probe", LanguageCode: "zh-hans"}
	var most int64
	// Twice: the first pass also opens the client's pooled connections,
	// whose handshakes (HELLO, CLIENT SETINFO) go through the hook too.
	for i, text := range append(slices.Clone(benchSteps), benchSteps...) {
		before := bb.rt.calls.Load()
		bb.fake.SendText(chat, user, text)
		wctx, cancel := context.WithTimeout(ctx, waitFor)
		msgs, err := bb.fake.WaitMessages(wctx, chat.ID, i+1)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if want := benchReplies[i%len(benchReplies)]; !strings.Contains(msgs[i].Text, want) {
			b.Fatalf("step %q: reply %q, want one containing %q", text, msgs[i].Text, want)
		}
		bb.settle(ctx)
		if i >= len(benchSteps) {
			most = max(most, bb.rt.calls.Load()-before)
		}
	}
	return most
}

// settle waits until the bot polls again, which it does only once every
// update of the batch in hand was handled and its session saved.
func (bb *benchBot) settle(ctx context.Context) {
	polls := bb.fake.Calls("getUpdates")
	wctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	_ = bb.fake.WaitFor(wctx, func(s *telegramfake.Server) bool { return s.Calls("getUpdates") > polls })
}

// benchRoundTrips is a go-redis hook counting what the client sends: one
// per command, one per pipeline or MULTI/EXEC block, and new connections.
type benchRoundTrips struct {
	calls atomic.Int64
	dials atomic.Int64
}

func (r *benchRoundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		r.dials.Add(1)
		return next(ctx, network, addr)
	}
}

func (r *benchRoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.calls.Add(1)
		return next(ctx, cmd)
	}
}

func (r *benchRoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.calls.Add(1)
		return next(ctx, cmds)
	}
}

// benchRedisCommands is the server's total_commands_processed (INFO stats): it
// counts every client's commands, MULTI and EXEC included, and this call.
func benchRedisCommands(b *testing.B, rdb *redis.Client) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("INFO stats has no total_commands_processed")
	return 0
}

// benchTCPDials counts the TCP connections http.DefaultTransport opens, which
// is what tgbotapi's clients (the bot's and the echo bot's) use. Setting
// BENCH_MAX_IDLE_CONNS_PER_HOST changes how many idle connections that
// transport keeps per host (Go's default is 2), to see what connection
// reuse would change.
var (
	benchTCPDials     atomic.Int64
	benchTCPDialsOnce sync.Once
)

func countBenchTCPDials() {
	benchTCPDialsOnce.Do(func() {
		t := http.DefaultTransport.(*http.Transport)
		if n, err := strconv.Atoi(os.Getenv("BENCH_MAX_IDLE_CONNS_PER_HOST")); err == nil && n > 0 {
			t.MaxIdleConnsPerHost = n
		}
		dial := t.DialContext
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			benchTCPDials.Add(1)
			return dial(ctx, network, addr)
		}
	})
}

// benchDriver plays the buyers: each chat sends its next step once the
// reply to the last one arrived, and the latency of every update is
// recorded.
type benchDriver struct {
	fake  *telegramfake.Server
	chats int
	steps []string
	// want is what each step's reply contains; nil checks nothing.
	want []string
	done chan int // chats whose reply arrived

	mu       sync.Mutex
	step     []int
	sentAt   []time.Time
	inflight []bool
	lat      []time.Duration
	extra    int // replies nobody was waiting for
	wrong    string
	rr       int // where sendIdle looks next
}

func newBenchDriver(fake *telegramfake.Server, chats int, steps, want []string) *benchDriver {
	d := &benchDriver{fake: fake, chats: chats, steps: steps, want: want, done: make(chan int, chats+1),
		step: make([]int, chats), sentAt: make([]time.Time, chats), inflight: make([]bool, chats)}
	fake.Subscribe(d.replied)
	return d
}

func (d *benchDriver) replied(m telegramfake.SentMessage) {
	i := int(m.ChatID - benchChatBase)
	if i < 0 || i >= d.chats || m.Edits > 0 || m.Deleted {
		return
	}
	d.mu.Lock()
	if !d.inflight[i] {
		d.extra++
		d.mu.Unlock()
		return
	}
	if d.want != nil && d.wrong == "" {
		if want := d.want[(d.step[i]-1)%len(d.want)]; !strings.Contains(m.Text, want) {
			d.wrong = fmt.Sprintf("chat %d: reply %q, want one containing %q", m.ChatID, m.Text, want)
		}
	}
	d.inflight[i] = false
	d.lat = append(d.lat, m.At.Sub(d.sentAt[i]))
	d.mu.Unlock()
	d.done <- i
}

// send queues chat i's next step.
func (d *benchDriver) send(i int) {
	id := int64(benchChatBase + i)
	d.mu.Lock()
	text := d.steps[d.step[i]%len(d.steps)]
	d.step[i]++
	d.inflight[i] = true
	d.sentAt[i] = time.Now()
	d.mu.Unlock()
	d.fake.SendText(telegramfake.Chat{ID: id, Type: "private"},
		telegramfake.User{ID: id, FirstName: "Buyer", LanguageCode: "zh-hans"}, text)
}

// wait returns the next chat whose reply arrived.
func (d *benchDriver) wait(b *testing.B) int {
	select {
	case i := <-d.done:
		return i
	case <-time.After(waitFor):
		b.Fatalf("no reply for %s", waitFor)
		return 0
	}
}

// warmUp gives every chat one turn and waits for the answers.
func (d *benchDriver) warmUp(b *testing.B) {
	b.Helper()
	d.startAll()
	d.drain(b)
}

func (d *benchDriver) startAll() {
	for i := range d.chats {
		d.send(i)
	}
}

// next waits for one reply and sends that chat its next step.
func (d *benchDriver) next(b *testing.B) { d.send(d.wait(b)) }

// sendIdle sends the next step to the next chat with nothing in flight,
// collecting the replies that arrived meanwhile.
func (d *benchDriver) sendIdle(b *testing.B) {
	for {
		select {
		case <-d.done:
			continue
		default:
		}
		d.mu.Lock()
		found := -1
		for k := range d.chats {
			if i := (d.rr + k) % d.chats; !d.inflight[i] {
				found = i
				break
			}
		}
		d.mu.Unlock()
		if found >= 0 {
			d.rr = found + 1
			d.send(found)
			return
		}
		select {
		case <-d.done:
		case <-time.After(waitFor):
			b.Fatal("every chat waits for a reply")
		}
	}
}

// drain waits for every update in flight and returns how many updates were
// answered since the last call to latencies.
func (d *benchDriver) drain(b *testing.B) int {
	b.Helper()
	for {
		d.mu.Lock()
		busy := slices.Contains(d.inflight, true)
		n := len(d.lat)
		d.mu.Unlock()
		if !busy {
			for len(d.done) > 0 {
				<-d.done
			}
			return n
		}
		d.wait(b)
	}
}

// latencies returns the latencies recorded so far and starts afresh.
func (d *benchDriver) latencies() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	lat := d.lat
	d.lat = nil
	return lat
}

// check fails the benchmark if the bot did not answer as measured.
func (d *benchDriver) check(b *testing.B) {
	b.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.wrong != "" {
		b.Fatal(d.wrong)
	}
	if d.extra > 0 {
		b.Fatalf("%d replies more than one per update", d.extra)
	}
}

func benchPercentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func benchMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchEcho runs a bare echo bot on the real tgbotapi client against a
// fresh fake with the same chats and returns the updates it answers per
// second. Like the bot's update loop it handles a batch's updates
// concurrently, echoWorkers at a time, before polling again.
func benchEcho(b *testing.B, chats int, d time.Duration) float64 {
	b.Helper()
	countBenchTCPDials()
	fake, err := telegramfake.Start(testToken)
	if err != nil {
		b.Fatal(err)
	}
	defer fake.Close()
	api, err := tgbotapi.NewBotAPIWithAPIEndpoint(testToken, fake.Endpoint())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		offset := 0
		slots := make(chan struct{}, echoWorkers)
		for ctx.Err() == nil {
			updates, err := api.GetUpdates(tgbotapi.UpdateConfig{Offset: offset, Limit: 100, Timeout: 1})
			if err != nil {
				continue
			}
			var wg sync.WaitGroup
			for _, u := range updates {
				offset = u.UpdateID + 1
				if u.Message == nil {
					continue
				}
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots }()
					_, _ = api.Send(tgbotapi.NewMessage(u.Message.Chat.ID, u.Message.Text))
				})
			}
			wg.Wait()
		}
	}()
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

// startBenchProcess builds refundbot and starts it against a fresh fake,
// Redis prefix and schema, as a deployment would run it.
func startBenchProcess(b *testing.B) (*telegramfake.Server, *exec.Cmd) {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "refundbot")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	fake, err := telegramfake.Start(testToken)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fake.Close() })
	_, prefix := openBenchRedis(b)
	schema := pgtest.NewSchema(b)
	// The order goes in before the bot starts; the bot's own Open then
	// finds the schema migrated.
	db, err := postgres.Open(context.Background(), pgtest.DatabaseURL(), postgres.WithSchema(schema))
	if err != nil {
		b.Fatal(err)
	}
	putBenchOrder(b, db)
	db.Close()

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"TELEGRAM_BOT_TOKEN="+testToken, "TELEGRAM_API_ENDPOINT="+fake.Endpoint(),
		"REDIS_URL="+redistest.URL(), "REDIS_PREFIX="+prefix, "DATABASE_URL="+pgtest.DatabaseURL(),
		"DATABASE_SCHEMA="+schema, "HTTP_ADDR=127.0.0.1:0",
		// The rest as startBenchBot has them: the defaults.
		"SHOP_API_TOKEN=", "SHOP_TIMEZONE=", "ORDER_ID_PATTERN=", "SESSION_IDLE_TTL=", "POLICY_FILE=",
		"SHOP_WEBHOOK_URL=", "SHOP_WEBHOOK_SECRET=", "SWEEP_INTERVAL=", "AGENT_CHAT_ID=", "AGENT_USER_IDS=",
		"AGENT_HOLD_TIMEOUT=", "AGENT_REFRESH=", "WEBHOOK_URL=", "WEBHOOK_SECRET=", "CHAT_LEASE_TTL=", "FLOOD_LIMIT=100000000",
		"SEND_RATE_GLOBAL=1000000", "SEND_RATE_CHAT=1000000", "SEND_RATE_GROUP=1000000")
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(waitFor):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := fake.WaitFor(ctx, func(s *telegramfake.Server) bool { return s.Calls("getUpdates") > 0 }); err != nil {
		b.Fatalf("refundbot did not start polling: %v\n%s", err, logs.String())
	}
	return fake, cmd
}

// benchMemory is a process's resident set now and at its peak, from
// /proc/PID/status (VmRSS, VmHWM), in MiB.
type benchMemory struct{ rss, hwm float64 }

func benchProcMemory(b *testing.B, pid int) benchMemory {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var m benchMemory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			m.rss = kb / 1024
		case "VmHWM:":
			m.hwm = kb / 1024
		}
	}
	return m
}

// benchProcCPU is the user+system CPU time a process used, from /proc/PID/stat
// (clock ticks of 10 ms, the Linux default).
func benchProcCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name may hold spaces; the fields after it are fixed.
	rest := string(raw[bytes.LastIndexByte(raw, ')')+2:])
	fields := strings.Fields(rest)
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
