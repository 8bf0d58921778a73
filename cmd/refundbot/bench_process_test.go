package main

// The bot and the echo bot as processes of their own, for what only a
// process shows: its resident memory, its own CPU time (the fake and the
// buyers stay in the benchmark's process), its allocations and
// collections (from its /metrics), and, with BENCH_BOT_PROFILE, its CPU
// and allocation profiles (benchprofile.go).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows/redisstore/redistest"
	"github.com/refundbot/refundbot/refund/postgres"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
)

// benchBinaries are the programs BenchmarkDialogProcess runs.
type benchBinaries struct {
	bot, echo string
	// profile is BENCH_BOT_PROFILE: a directory for the bot's profiles,
	// or "" for none.
	profile string
}

// buildBenchBinaries builds refundbot and cmd/benchecho into a temporary
// directory; with BENCH_BOT_PROFILE set, refundbot with -tags
// benchprofile.
func buildBenchBinaries(b *testing.B) benchBinaries {
	b.Helper()
	dir := b.TempDir()
	bins := benchBinaries{bot: filepath.Join(dir, "refundbot"), echo: filepath.Join(dir, "benchecho"),
		profile: os.Getenv("BENCH_BOT_PROFILE")}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	botArgs := []string{"build", "-o", bins.bot}
	if bins.profile != "" {
		botArgs = append(botArgs, "-tags", "benchprofile")
	}
	for _, args := range [][]string{append(botArgs, "."), {"build", "-o", bins.echo, "github.com/refundbot/refundbot/cmd/benchecho"}} {
		if out, err := exec.Command(goTool, args...).CombinedOutput(); err != nil {
			b.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bins
}

// benchProcess is a program the benchmark started.
type benchProcess struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	// metrics is the URL of the bot's /metrics; "" for the echo bot.
	metrics string
}

// startBenchProcess runs bin against fake with env added to the
// benchmark's own, stopped with SIGINT when the benchmark ends, and waits
// for its first getUpdates.
func startBenchProcess(b *testing.B, fake *telegramfake.Server, bin string, env []string) *benchProcess {
	b.Helper()
	p := &benchProcess{cmd: exec.Command(bin), logs: &lockedBuffer{}}
	p.cmd.Env = append(append(os.Environ(), "TELEGRAM_BOT_TOKEN="+testToken, "TELEGRAM_API_ENDPOINT="+fake.Endpoint()), env...)
	p.cmd.Stderr = p.logs
	polls := fake.Calls("getUpdates")
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	b.Cleanup(func() { // before the fake closes: registered after it
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(waitFor):
			_ = p.cmd.Process.Kill()
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := fake.WaitFor(ctx, func(s *telegramfake.Server) bool { return s.Calls("getUpdates") > polls }); err != nil {
		b.Fatalf("%s did not start polling: %v\n%s", filepath.Base(bin), err, p.logs.String())
	}
	return p
}

// startBenchBotProcess starts refundbot as a deployment runs it, with
// settings, against a fresh fake, Redis prefix and schema.
func startBenchBotProcess(b *testing.B, bins benchBinaries, settings map[string]string) (*telegramfake.Server, *benchProcess) {
	b.Helper()
	fake := startBenchFake(b)
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
	addr := freeAddr(b)
	env := []string{"REDIS_URL=" + redistest.URL(), "REDIS_PREFIX=" + prefix, "DATABASE_URL=" + pgtest.DatabaseURL(),
		"DATABASE_SCHEMA=" + schema, "HTTP_ADDR=" + addr}
	// The rest at their defaults, whatever the benchmark's environment
	// holds, then the benchmark's settings (the last of a name counts).
	for _, k := range []string{"SHOP_API_TOKEN", "SHOP_TIMEZONE", "ORDER_ID_PATTERN", "SESSION_IDLE_TTL", "POLICY_FILE",
		"SHOP_WEBHOOK_URL", "SHOP_WEBHOOK_SECRET", "SWEEP_INTERVAL", "AGENT_CHAT_ID", "AGENT_USER_IDS", "AGENT_HOLD_TIMEOUT",
		"AGENT_REFRESH", "DESK_AUTO_ASSIGN", "DESK_RELAY", "DESK_AGENT_CAP", "DESK_HOURS", "WEBHOOK_URL", "WEBHOOK_SECRET",
		"SEND_RATE_GLOBAL", "SEND_RATE_CHAT", "SEND_RATE_GROUP", "CHAT_LEASE_TTL", "OUTBOX_LEASE", "FLOOD_LIMIT",
		"SHUTDOWN_GRACE", "LOG_LEVEL"} {
		env = append(env, k+"=")
	}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	if bins.profile != "" {
		env = append(env, "REFUNDBOT_BENCH_PROFILE="+bins.profile)
	}
	p := startBenchProcess(b, fake, bins.bot, env)
	p.metrics = "http://" + addr + "/metrics"
	return fake, p
}

// startBenchFake starts a fake Bot API with the agents' team chat and its
// agent, closed when the benchmark ends.
func startBenchFake(b *testing.B) *telegramfake.Server {
	b.Helper()
	fake, err := telegramfake.Start(testToken)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fake.Close() })
	fake.AllowHTTPWebhooks()
	fake.AddChat(team)
	fake.SetMember(teamChatID, telegramfake.Member{User: benchAgent})
	return fake
}

// profile starts (on) or stops the bot's CPU profile when the benchmark
// was asked for one; stopping waits until the profiles are written.
func (p *benchProcess) profile(b *testing.B, dir string, on bool) {
	b.Helper()
	if dir == "" {
		return
	}
	done := filepath.Join(dir, "done")
	if on {
		_ = os.Remove(done)
		if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			b.Fatal(err)
		}
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		b.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(done); err == nil {
			return
		}
		if time.Since(start) > waitFor {
			b.Fatalf("no profile in %s after %s", dir, waitFor)
		}
	}
}

// benchGoStats are a Go process's allocation and GC counters, from the
// bot's /metrics (the Prometheus Go collector).
type benchGoStats struct{ mallocs, allocBytes, gcs float64 }

func (p *benchProcess) goStats(b *testing.B) benchGoStats {
	b.Helper()
	resp, err := http.Get(p.metrics)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	var s benchGoStats
	found := 0
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_mallocs_total":
			s.mallocs, found = v, found+1
		case "go_memstats_alloc_bytes_total":
			s.allocBytes, found = v, found+1
		case "go_gc_duration_seconds_count":
			s.gcs, found = v, found+1
		}
	}
	if found != 3 {
		b.Fatalf("%s lacks the Go collector's mallocs, alloc bytes or GC count", p.metrics)
	}
	return s
}

// benchEchoProcess runs cmd/benchecho as its own process with the same
// chats and steps as the bot, and returns its CPU time per update over
// updates of them and its resident memory then.
func benchEchoProcess(b *testing.B, bin string, chats, updates int) (cpuPerUpdate time.Duration, rss float64) {
	b.Helper()
	fake := startBenchFake(b)
	p := startBenchProcess(b, fake, bin, nil)
	d := newBenchDriver(fake, chats, benchSteps, nil)
	d.warmUp(b)
	d.latencies()
	cpu0 := benchProcCPU(b, p.cmd.Process.Pid)
	d.startAll()
	for range updates {
		d.next(b)
	}
	handled := d.drain(b)
	cpu := benchProcCPU(b, p.cmd.Process.Pid) - cpu0
	return cpu / time.Duration(handled), benchProcMemory(b, p.cmd.Process.Pid).rss
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
