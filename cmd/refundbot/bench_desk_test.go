package main

// BenchmarkDesk: the agents' desk on a promotion day, the whole bot wired
// as in production against the fake Bot API enforcing Telegram's limits.
// Nothing here runs without -bench; `go test` only compiles it.

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

const (
	// deskBuyerBase and deskAgentBase keep the desk's users clear of the
	// other benchmarks' chats and of the e2e tests' agents.
	deskBuyerBase = 7_100_000
	deskAgentBase = 9_100
	// deskGroupGap is the bot's pace into a group (SEND_RATE_GROUP's
	// default, 20 a minute), for the set-up's time budget.
	deskGroupGap = 3 * time.Second
	// deskQuiet ends the drain after a round: a relay still queued moves
	// at least once a second (a chat's pace, or a 429's retry_after), so
	// this long without any relay arriving means the rest never will.
	deskQuiet = 20 * time.Second
)

// What the bot says that the benchmark waits for (locales/zh-CN.json).
const (
	deskHello    = "买家的消息会转到这里" // desk.private_hello
	deskQueued   = "您前面还有"      // queued_for_agent
	deskTookNote = "）接手。"       // desk.took_over, in the team chat
	deskTookHere = "由您接手。"      // desk.private_took, in the agent's private chat
	deskJoined   = "已接入"        // agent_joined, to the buyer
	deskCard     = "🆕 #"        // desk.card_header
	deskFlooded  = "您发送消息太快了"   // flooded
)

// deskToken finds the token that makes each message of the measured part
// unique: B<buyer>-<seq> written by a buyer, A<buyer>-<seq> by the agent
// answering it. Nothing else the bot sends holds a Latin letter A or B
// followed by digits (names are Chinese, staff numbers start with K).
var deskToken = regexp.MustCompile(`[AB][0-9]+-[0-9]+`)

// deskStaff reads the staff number out of the buyer's "agent joined".
var deskStaff = regexp.MustCompile(`工号 (K[0-9]+)`)

// BenchmarkDesk measures the relay of held chats through the whole bot,
// with Telegram's limits as they really are: the fake refuses what
// Telegram would (telegramfake.TelegramLimits) and the bot paces itself
// with its production defaults (25/s, 1/s per chat with bursts of 3, one
// every 3 s per group; the flood limit and the leases at theirs too).
//
// Set-up, untimed: 10 agents open their private chat with the bot
// (/start), 50 buyers ask for a person (转人工) at once, and each agent
// takes 5 with /next in that private chat. The takes act at once, but the
// 50 cards and 50 take notes go into the team chat at its 20 a minute:
// the set-up waits for them (about 5 minutes), so that the measured part
// starts from a drained team chat, as a desk does once its morning's
// escalations are taken.
//
// Measured, one sub-benchmark per pace (BENCH_DESK_PACES): every buyer
// writes on average once per pace (uniformly between half and one and a
// half of it), and the agent holding the chat answers each relayed
// message by replying to it in their private chat after 1-3 s. One op is
// BENCH_DESK_ROUND of that traffic. Each message carries a unique token;
// its latency is from the fake receiving the user's message (the update
// queued for the bot) to the fake receiving the relay in the other side's
// chat. Reported: p50/p99/max each way, the team chat's messages a minute
// (sends and edits), messages never relayed (lost), relayed twice (dup)
// or out of order, the fake's 429s and the flood notices the bot gave.
//
// The default pace is 20 s; BENCH_DESK_PACES=20s,10s,6s,4s adds harder
// ones (about 2.5 minutes each, so give go test a -timeout: the benchmark
// says how much when the default 10 minutes is too short). -short runs 10
// chats and 2 agents for 30 s; BENCH_DESK_CHATS, BENCH_DESK_AGENTS and
// BENCH_DESK_ROUND set the sizes, and BENCH_DESK_SET replaces settings
// for an experiment.
func BenchmarkDesk(b *testing.B) {
	cfg := deskConfig(b)
	deskCheckTimeout(b, cfg)
	d := startDeskBench(b, cfg)
	d.setUp(b)
	for _, pace := range cfg.paces {
		b.Run(fmt.Sprintf("pace=%v", pace), func(b *testing.B) { d.measure(b, pace) })
	}
}

// deskBenchConfig are the benchmark's sizes.
type deskBenchConfig struct {
	chats, agents int
	// round is one op's traffic; paces the mean interval between one
	// buyer's messages, a sub-benchmark each.
	round time.Duration
	paces []time.Duration
	// set are settings that replace production's defaults: an
	// experiment to find where time or messages go, never a figure to
	// quote as the bot's (BENCH_DESK_SET=FLOOD_LIMIT=1000,SEND_RATE_GLOBAL=1000).
	set map[string]string
}

// deskConfig reads the sizes from the environment. The default pace, a
// message every 20 s from every buyer answered each time, is a busy
// promotion day: an agent with 5 chats answers 15 messages a minute, and
// their private chat gets a relay every 4 s on average, well within its 1 a
// second.
func deskConfig(b *testing.B) deskBenchConfig {
	cfg := deskBenchConfig{chats: 50, agents: 10, round: 2 * time.Minute}
	if testing.Short() {
		cfg = deskBenchConfig{chats: 10, agents: 2, round: 30 * time.Second}
	}
	if n := benchList(b, "BENCH_DESK_CHATS", cfg.chats); len(n) == 1 {
		cfg.chats = n[0]
	}
	if n := benchList(b, "BENCH_DESK_AGENTS", cfg.agents); len(n) == 1 {
		cfg.agents = n[0]
	}
	if cfg.chats%cfg.agents != 0 {
		b.Fatalf("BENCH_DESK_CHATS %d is not a multiple of BENCH_DESK_AGENTS %d: each agent takes as many", cfg.chats, cfg.agents)
	}
	if v := os.Getenv("BENCH_DESK_ROUND"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("BENCH_DESK_ROUND: want a duration such as 2m, got %q", v)
		}
		cfg.round = d
	}
	cfg.paces = []time.Duration{20 * time.Second}
	if v := os.Getenv("BENCH_DESK_PACES"); v != "" {
		cfg.paces = nil
		for _, f := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(f))
			if err != nil || d <= 0 {
				b.Fatalf("BENCH_DESK_PACES: want durations such as 20s,6s, got %q", v)
			}
			cfg.paces = append(cfg.paces, d)
		}
	}
	if v := os.Getenv("BENCH_DESK_SET"); v != "" {
		cfg.set = map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" {
				b.Fatalf("BENCH_DESK_SET: want KEY=VALUE,... such as FLOOD_LIMIT=1000, got %q", v)
			}
			cfg.set[k] = val
		}
	}
	return cfg
}

// deskCheckTimeout fails at once when go test's -timeout (10 minutes
// unless set) would end the run midway, which would lose every figure.
func deskCheckTimeout(b *testing.B, cfg deskBenchConfig) {
	b.Helper()
	timeout := flagValue[time.Duration]("test.timeout")
	rounds := 1
	if bt := flag.Lookup("test.benchtime"); bt != nil {
		if n, err := strconv.Atoi(strings.TrimSuffix(bt.Value.String(), "x")); err == nil && strings.HasSuffix(bt.Value.String(), "x") {
			rounds = max(n, 1)
		} else if d, err := time.ParseDuration(bt.Value.String()); err == nil {
			rounds = max(int(d/cfg.round)+1, 1)
		}
	}
	// The set-up is the team chat's 2 messages per chat; each round is
	// followed by its drain.
	need := time.Duration(2*cfg.chats)*deskGroupGap + time.Minute
	need += time.Duration(len(cfg.paces)) * (time.Duration(rounds)*cfg.round + deskQuiet + 10*time.Second)
	if timeout > 0 && need > timeout {
		b.Fatalf("BenchmarkDesk takes about %v with these sizes, more than -timeout %v: run it with -timeout %v",
			need.Round(time.Minute), timeout, (need + 5*time.Minute).Round(time.Minute))
	}
}

// flagValue is the value of go test's flag name, or the zero value.
func flagValue[T any](name string) T {
	var zero T
	f := flag.Lookup(name)
	if f == nil {
		return zero
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return zero
	}
	v, _ := g.Get().(T)
	return v
}

// deskBench is one deployment with its agents and buyers, and the record
// of every message of the measured parts.
type deskBench struct {
	cfg    deskBenchConfig
	fake   *telegramfake.Server
	logs   *lockedBuffer
	agents []telegramfake.User
	buyers []telegramfake.User
	// holder is the index of the agent holding each buyer's chat, learnt
	// in the set-up.
	holder []int
	// setupLog says how the set-up went, for every sub-benchmark's log
	// (the parent's is not shown).
	setupLog string

	mu  sync.Mutex
	rng *rand.Rand
	// msgs are the measured messages by token.
	msgs map[string]*deskMsg
	// round is the sub-benchmark that messages written now belong to.
	round int
	// team is each send or edit into the team chat, when the fake saw it.
	team []deskTeamMsg
	// floods counts the bot's flood notices, in any chat.
	floods int
	// answering counts agents' answers scheduled and not yet written.
	answering int
	// last is when the last relay of a measured message arrived.
	last time.Time
	// written and relayed count the messages per buyer and direction (0
	// buyer to agent, 1 agent to buyer) in the order they were written and
	// the highest of those relayed, to catch a relay overtaking an older
	// one. An agent may answer a buyer's later message first (their
	// think times differ): the order to keep is the one they wrote in.
	written, relayed map[[2]int]int
	// stray counts relays of measured messages that arrived in a chat
	// other than the one they were for.
	stray int
	// logsRead is how much of logs warnings has summarised.
	logsRead int
}

// deskTeamMsg is a send or an edit in the team chat.
type deskTeamMsg struct {
	at   time.Time
	text string
	edit bool
}

// deskMsg is one message of a measured part.
type deskMsg struct {
	round int
	buyer int
	seq   int
	// order is its place among its buyer's messages in its direction, in
	// the order written.
	order  int
	toward int64     // the chat it must be relayed to
	at     time.Time // when the fake received it from the user
	// relays counts its arrivals in the other side's chat; took is the
	// first one's latency.
	relays    int
	took      time.Duration
	reordered bool
}

// startDeskBench starts the bot the way main does (Main.Run: its own
// Redis and PostgreSQL clients, every default of production) against a
// fake that enforces Telegram's limits from the first request on.
func startDeskBench(b *testing.B, cfg deskBenchConfig) *deskBench {
	b.Helper()
	fake, err := telegramfake.Start(testToken)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fake.Close() })
	fake.AddChat(team)
	d := &deskBench{cfg: cfg, fake: fake, logs: &lockedBuffer{}, rng: rand.New(rand.NewPCG(20261111, 11)),
		msgs: map[string]*deskMsg{}, written: map[[2]int]int{}, relayed: map[[2]int]int{}, holder: make([]int, cfg.chats)}
	var staff []string
	for i := range cfg.agents {
		u := telegramfake.User{ID: deskAgentBase + int64(i), FirstName: fmt.Sprintf("客服%02d", i+1), LanguageCode: "zh-hans"}
		d.agents = append(d.agents, u)
		// In the team chat, as Telegram reports them to the staff refresh.
		fake.SetMember(team.ID, telegramfake.Member{User: u})
		staff = append(staff, fmt.Sprintf("%d:%s:K%03d", u.ID, u.FirstName, 101+i))
	}
	for i := range cfg.chats {
		d.buyers = append(d.buyers, telegramfake.User{ID: deskBuyerBase + int64(i), FirstName: fmt.Sprintf("买家%02d", i+1),
			LanguageCode: "zh-hans"})
	}
	fake.Subscribe(d.observe)
	fake.EnforceLimits(telegramfake.TelegramLimits())

	_, prefix := openBenchRedis(b)
	vars := map[string]string{
		"TELEGRAM_BOT_TOKEN": testToken, "TELEGRAM_API_ENDPOINT": fake.Endpoint(),
		"REDIS_URL": redistest.URL(), "REDIS_PREFIX": prefix, "DATABASE_URL": pgtest.DatabaseURL(),
		"DATABASE_SCHEMA": pgtest.NewSchema(b), "HTTP_ADDR": "127.0.0.1:0",
		"AGENT_CHAT_ID": strconv.FormatInt(team.ID, 10), "AGENT_USER_IDS": strings.Join(staff, ","),
		// Everything else, SEND_RATE_*, FLOOD_LIMIT, CHAT_LEASE_TTL and
		// DESK_RELAY among them, at production's defaults.
	}
	for k, v := range cfg.set {
		vars[k] = v
	}
	config, err := ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// A short long poll only makes the stop quick: updates end a poll at
	// once whatever its timeout.
	m := &Main{Config: config, Logger: logger, PollTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("bot stopped with error: %v", err)
		}
		if b.Failed() {
			b.Logf("bot logs:\n%s", tail(d.logs.String(), 6000))
		}
	})
	select {
	case <-m.Ready():
	case err := <-done:
		b.Fatalf("bot did not start: %v", err)
	case <-time.After(waitFor):
		b.Fatal("bot did not start in time")
	}
	return d
}

// setUp brings the desk to 50 held chats: the agents write to the bot,
// the buyers ask for a person, the agents take them with /next, and the
// team chat's cards and take notes are all out.
func (d *deskBench) setUp(b *testing.B) {
	b.Helper()
	start := time.Now()
	for _, a := range d.agents {
		d.fake.SendText(private(a), a, "/start")
	}
	for _, a := range d.agents {
		d.waitIn(b, a.ID, deskHello, 1, waitFor)
	}
	for _, u := range d.buyers {
		d.fake.SendText(private(u), u, "转人工")
	}
	for _, u := range d.buyers {
		d.waitIn(b, u.ID, deskQueued, 1, waitFor)
	}
	escalated := time.Since(start)
	each := d.cfg.chats / d.cfg.agents
	for _, a := range d.agents {
		for range each {
			d.fake.SendText(private(a), a, "/next")
		}
	}
	for _, a := range d.agents {
		d.waitIn(b, a.ID, deskTookHere, each, waitFor)
	}
	staff := map[string]int{}
	for i := range d.agents {
		staff[fmt.Sprintf("K%03d", 101+i)] = i
	}
	held := make([]int, len(d.agents))
	for i, u := range d.buyers {
		joined := d.waitIn(b, u.ID, deskJoined, 1, waitFor)
		m := deskStaff.FindStringSubmatch(joined.Text)
		a, ok := 0, m != nil
		if ok {
			a, ok = staff[m[1]]
		}
		if !ok {
			b.Fatalf("buyer %d was told %q: which agent holds the chat?", u.ID, joined.Text)
		}
		d.holder[i] = a
		held[a]++
	}
	if slices.Min(held) != each || slices.Max(held) != each {
		b.Fatalf("chats held per agent: %v, want %d each", held, each)
	}
	taken := time.Since(start)
	// 2 messages per chat at one every 3 s, and a board edit a minute.
	budget := time.Duration(2*d.cfg.chats)*deskGroupGap*3/2 + time.Minute
	cards := d.waitIn(b, team.ID, deskCard, d.cfg.chats, budget)
	d.waitIn(b, team.ID, deskTookNote, d.cfg.chats, budget)
	drained := time.Since(start)
	settings := "production's defaults"
	if len(d.cfg.set) > 0 {
		settings = fmt.Sprintf("production's defaults but %v (an experiment)", d.cfg.set)
	}
	d.setupLog = fmt.Sprintf("settings: %s\nset-up: %d chats escalated in %v, taken by %d agents by %v; "+
		"the team chat's %d cards and %d take notes out by %v (last card %v after the start); %d team messages, "+
		"%d refused with 429", settings, d.cfg.chats, escalated.Round(time.Millisecond), d.cfg.agents,
		taken.Round(time.Millisecond), d.cfg.chats, d.cfg.chats, drained.Round(time.Second),
		cards.At.Sub(start).Round(time.Second), len(d.fake.Messages(team.ID)), d.fake.LimitRefusals())
}

// private is u's private chat with the bot.
func private(u telegramfake.User) telegramfake.Chat {
	return telegramfake.Chat{ID: u.ID, Type: "private"}
}

// waitIn waits until chat has n bot messages containing want and returns
// the nth.
func (d *deskBench) waitIn(b *testing.B, chat int64, want string, n int, within time.Duration) telegramfake.SentMessage {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var found telegramfake.SentMessage
	err := d.fake.WaitFor(ctx, func(s *telegramfake.Server) bool {
		k := 0
		for _, m := range s.Messages(chat) {
			if strings.Contains(m.Text, want) {
				if k++; k == n {
					found = m
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		var got []string
		for _, m := range d.fake.Messages(chat) {
			got = append(got, firstLine(m.Text))
		}
		b.Fatalf("chat %d: fewer than %d bot messages containing %q within %v; it has %q", chat, n, want, within, got)
	}
	return found
}

// observe sees every message the bot sends, before the bot has the
// fake's answer: it times the relays of measured messages and has the
// agent answer each buyer's.
func (d *deskBench) observe(m telegramfake.SentMessage) {
	now := time.Now()
	if m.Deleted {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if m.ChatID == team.ID {
		// An edit counts against the group's limit too.
		d.team = append(d.team, deskTeamMsg{at: now, text: firstLine(m.Text), edit: m.Edits > 0})
	}
	if m.Edits > 0 {
		return
	}
	if strings.Contains(m.Text, deskFlooded) {
		d.floods++
	}
	tok := deskToken.FindString(m.Text)
	msg := d.msgs[tok]
	if msg == nil {
		return
	}
	msg.relays++
	if msg.relays > 1 {
		return
	}
	msg.took = m.At.Sub(msg.at)
	d.last = now
	if m.ChatID != msg.toward {
		d.stray++
	}
	key := deskKey(tok, msg.buyer)
	if msg.order < d.relayed[key] {
		msg.reordered = true
	}
	d.relayed[key] = max(d.relayed[key], msg.order)
	if tok[0] == 'B' {
		// The agent reads it and types an answer, replying to the relay.
		d.answering++
		think := time.Second + time.Duration(d.rng.Int64N(int64(2*time.Second)))
		relay := m.MessageID
		time.AfterFunc(think, func() { d.answer(msg, relay) })
	}
}

// answer is the agent's reply to a buyer's relayed message, by reply-to
// in the agent's private chat.
func (d *deskBench) answer(to *deskMsg, relay int) {
	a := d.agents[d.holder[to.buyer]]
	tok := fmt.Sprintf("A%d-%d", to.buyer, to.seq)
	text := fmt.Sprintf("好的，您说的第 %d 条已记录，正在为您核实 %s", to.seq, tok)
	// Written under d.mu, so that its place in the order written is its
	// place in the fake's queue. The fake calls observe only for the
	// bot's requests, never from ReplyText, so this cannot deadlock.
	d.mu.Lock()
	defer d.mu.Unlock()
	d.answering--
	d.msgs[tok] = &deskMsg{round: to.round, buyer: to.buyer, seq: to.seq, order: d.write(tok, to.buyer),
		toward: d.buyers[to.buyer].ID, at: time.Now()}
	d.fake.ReplyText(private(a), a, relay, text)
}

// deskKey is the buyer and direction of the message tok.
func deskKey(tok string, buyer int) [2]int {
	if tok[0] == 'A' {
		return [2]int{buyer, 1}
	}
	return [2]int{buyer, 0}
}

// write numbers a message in the order its buyer's messages in its
// direction are written; d.mu is held.
func (d *deskBench) write(tok string, buyer int) int {
	key := deskKey(tok, buyer)
	d.written[key]++
	return d.written[key]
}

// say is buyer i's next message, written as answer writes.
func (d *deskBench) say(i, seq int) {
	u := d.buyers[i]
	tok := fmt.Sprintf("B%d-%d", i, seq)
	text := fmt.Sprintf("第 %d 条：充值还没到账，麻烦帮我看看 %s", seq, tok)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs[tok] = &deskMsg{round: d.round, buyer: i, seq: seq, order: d.write(tok, i),
		toward: d.agents[d.holder[i]].ID, at: time.Now()}
	d.fake.SendText(private(u), u, text)
}

// interval is how long buyer waits before the next message: uniform
// between half and one and a half of pace, so that buyers drift apart.
func (d *deskBench) interval(pace time.Duration) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return pace/2 + time.Duration(d.rng.Int64N(int64(pace)))
}

// measure runs the buyers and agents at pace for b.N rounds, lets every
// relay arrive, and reports.
func (d *deskBench) measure(b *testing.B, pace time.Duration) {
	d.mu.Lock()
	d.round++
	round := d.round
	seqs := make([]int, len(d.buyers))
	for _, m := range d.msgs {
		seqs[m.buyer] = max(seqs[m.buyer], m.seq)
	}
	d.mu.Unlock()
	refused := d.fake.LimitRefusals()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	for i := range d.buyers {
		first := d.interval(pace) - pace/2 // the first within one pace of the start
		wg.Go(func() {
			t := time.NewTimer(first)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				seqs[i]++
				d.say(i, seqs[i])
				t.Reset(d.interval(pace))
			}
		})
	}
	for b.Loop() {
		time.Sleep(d.cfg.round)
	}
	stop()
	wg.Wait()
	end := time.Now()
	d.drain(round)
	d.report(b, round, start, end, d.fake.LimitRefusals()-refused)
}

// drain waits until every message of round is relayed and answered, or
// until nothing has arrived for deskQuiet.
func (d *deskBench) drain(round int) {
	for {
		d.mu.Lock()
		waiting := d.answering
		for _, m := range d.msgs {
			if m.round == round && m.relays == 0 {
				waiting++
			}
		}
		quiet := time.Since(d.last)
		d.mu.Unlock()
		if waiting == 0 || quiet > deskQuiet {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// report computes round's figures and reports them.
func (d *deskBench) report(b *testing.B, round int, start, end time.Time, refusals int) {
	d.mu.Lock()
	var b2a, a2b []time.Duration
	var sent, lost, lostB2A, dup, reordered int
	var slowest []deskSlow
	for tok, m := range d.msgs {
		if m.round != round {
			continue
		}
		sent++
		switch {
		case m.relays == 0:
			lost++
			if tok[0] == 'B' {
				lostB2A++
			}
			continue
		case m.relays > 1:
			dup += m.relays - 1
		}
		if m.reordered {
			reordered++
		}
		if tok[0] == 'B' {
			b2a = append(b2a, m.took)
		} else {
			a2b = append(a2b, m.took)
		}
		slowest = append(slowest, deskSlow{tok: tok, took: m.took, at: m.at.Sub(start)})
	}
	slices.SortFunc(slowest, func(x, y deskSlow) int { return cmp.Compare(y.took, x.took) })
	slowest = slowest[:min(len(slowest), 10)]
	var teamMsgs []string
	for _, t := range d.team {
		if !t.at.Before(start) && t.at.Before(end) {
			what := "sent"
			if t.edit {
				what = "edited"
			}
			teamMsgs = append(teamMsgs, fmt.Sprintf("%s %q", what, t.text))
		}
	}
	floods, stray := d.floods, d.stray
	d.floods, d.stray = 0, 0
	d.mu.Unlock()

	minutes := end.Sub(start).Minutes()
	b.ReportMetric(benchMillis(benchPercentile(b2a, 0.50)), "p50-b2a-ms")
	b.ReportMetric(benchMillis(benchPercentile(b2a, 0.99)), "p99-b2a-ms")
	b.ReportMetric(benchMillis(benchPercentile(b2a, 1)), "max-b2a-ms")
	b.ReportMetric(benchMillis(benchPercentile(a2b, 0.50)), "p50-a2b-ms")
	b.ReportMetric(benchMillis(benchPercentile(a2b, 0.99)), "p99-a2b-ms")
	b.ReportMetric(benchMillis(benchPercentile(a2b, 1)), "max-a2b-ms")
	b.ReportMetric(float64(len(b2a)+len(a2b))/minutes, "relays/min")
	b.ReportMetric(float64(len(teamMsgs))/minutes, "team-msgs/min")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(dup), "dup")
	b.ReportMetric(float64(reordered), "reordered")
	b.ReportMetric(float64(refusals), "429s")
	b.ReportMetric(float64(floods), "floods")
	b.Logf("%s\nmeasured: %d messages written in %v (%d buyers, %d agents): %d relayed buyer→agent, %d agent→buyer; "+
		"%d lost (%d buyer→agent), %d doubled, %d out of order, %d in the wrong chat; %d refused with 429; "+
		"%d flood notices\nslowest: %v\nteam chat: %d messages %s\nbot warnings: %s\nload average: %s",
		d.setupLog, sent, end.Sub(start).Round(time.Second), len(d.buyers), len(d.agents), len(b2a), len(a2b), lost,
		lostB2A, dup, reordered, stray, refusals, floods, slowest, len(teamMsgs), teamMsgs, d.warnings(), loadAverage())
	if stray > 0 {
		b.Errorf("%d relays arrived in a chat other than the one they were for", stray)
	}
}

// deskSlow is a message among the slowest to be relayed, for the log: a
// tail that many chats share at one moment is the bot's (or the
// machine's) pause, one chat's alone its own queue.
type deskSlow struct {
	tok  string
	took time.Duration
	at   time.Duration // since the round started
}

func (s deskSlow) String() string {
	return fmt.Sprintf("%s %v at +%v", s.tok, s.took.Round(time.Millisecond), s.at.Round(time.Millisecond))
}

// loadAverage is the machine's, which other work on it raises: the
// figures of a loaded machine are not the bot's alone.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}

// warnings summarises what the bot logged at warning level and above
// since the last call, by message.
func (d *deskBench) warnings() string {
	logs := d.logs.String()
	fresh := logs[min(d.logsRead, len(logs)):]
	d.logsRead = len(logs)
	counts := map[string]int{}
	for _, line := range strings.Split(fresh, "\n") {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg != "" {
			counts[rec.Msg]++
		}
	}
	if len(counts) == 0 {
		return "none"
	}
	var out []string
	for msg, n := range counts {
		out = append(out, fmt.Sprintf("%q ×%d", msg, n))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
