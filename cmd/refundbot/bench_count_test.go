package main

// What the benchmarks count besides time: the bot's Redis round trips (a
// hook on its client), its PostgreSQL statements and round trips (a proxy
// reading the wire), and the TCP connections its HTTP client opens. Each
// counts everything the bot sends, background work included, so that a
// figure per update is all that an update costs on average.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// benchRoundTrips is a go-redis hook counting what the client sends: one
// per command, one per pipeline or MULTI/EXEC block, and new connections.
// It also counts them by kind (the command and the shapes of its first
// keys, e.g. "evalsha lease: fence"), so that a benchmark can say which
// script each round trip was.
type benchRoundTrips struct {
	prefix string
	calls  atomic.Int64
	dials  atomic.Int64
	kinds  sync.Map // kind → *atomic.Int64
}

func (r *benchRoundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		r.dials.Add(1)
		return next(ctx, network, addr)
	}
}

func (r *benchRoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.count(r.kind(cmd))
		return next(ctx, cmd)
	}
}

func (r *benchRoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, 0, min(len(cmds), 4))
		for _, c := range cmds[:min(len(cmds), 4)] {
			names = append(names, c.Name())
		}
		r.count("pipeline " + strings.Join(names, ","))
		return next(ctx, cmds)
	}
}

func (r *benchRoundTrips) count(kind string) {
	r.calls.Add(1)
	n, ok := r.kinds.Load(kind)
	if !ok {
		n, _ = r.kinds.LoadOrStore(kind, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
}

// kind names a command by its name and the shapes of its first two keys:
// a script's keys tell which script it is, since EVALSHA names none.
func (r *benchRoundTrips) kind(cmd redis.Cmder) string {
	args := cmd.Args()
	name := cmd.Name()
	var keys []any
	switch name {
	case "evalsha", "eval", "evalsha_ro", "eval_ro":
		if len(args) > 2 {
			n, _ := strconv.Atoi(fmt.Sprint(args[2]))
			keys = args[3:min(len(args), 3+min(n, 2))]
		}
	default:
		if len(args) > 1 {
			keys = args[1:2]
		}
	}
	kind := name
	for _, k := range keys {
		s, _ := k.(string)
		s = strings.TrimRight(strings.TrimPrefix(s, r.prefix), "0123456789-")
		kind += " " + s
	}
	return kind
}

// snapshot returns the counts by kind so far.
func (r *benchRoundTrips) snapshot() map[string]int64 {
	m := map[string]int64{}
	r.kinds.Range(func(k, v any) bool {
		m[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return m
}

// benchRedisName says what the bot's scripts are, by the kinds
// benchRoundTrips gives them; a kind not listed is shown as it is.
func benchRedisName(kind string) string {
	switch kind {
	case "evalsha lease: fence":
		return "Begin (lease, dedupe, flood, session read)"
	case "evalsha lease: sess:":
		return "Commit (session, marks, queue the replies)"
	case "evalsha send: send:all:":
		return "dispatcher: Reserve (shared limiter)"
	case "evalsha out:q: out:claim:":
		return "dispatcher: Done (pop the sent message)"
	case "evalsha out:due out:fence":
		return "dispatcher: Claim poll / Enqueue"
	case "evalsha out:due out:claim:":
		return "dispatcher: KeepClaims"
	}
	return kind
}

// logBenchBreakdown logs what each kind cost per update between two
// snapshots, the most first: which round trips (or statements) an update
// is made of.
func logBenchBreakdown(b *testing.B, what string, before, after map[string]int64, updates int, name func(string) string) {
	b.Helper()
	type row struct {
		kind string
		n    int64
	}
	var rows []row
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			rows = append(rows, row{k, d})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return int(b.n - a.n) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s per update (%d updates):", what, updates)
	for _, r := range rows[:min(len(rows), 10)] {
		fmt.Fprintf(&sb, "\n\t%7.4f  %s", float64(r.n)/float64(updates), name(r.kind))
	}
	b.Log(sb.String())
}

// benchRedisCommands is the server's total_commands_processed (INFO stats): it
// counts every client's commands, MULTI and EXEC included, and this call.
// It is server-wide, so other clients of the same Redis (other tests) add
// to it; the hook's count is the bot's own.
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

// benchPostgres is a TCP proxy between the bot and PostgreSQL that reads
// the bot's side of the wire protocol without changing a byte. It counts
// the statements the bot runs, an Execute message of the extended protocol
// or a simple Query, by their SQL (from the Parse that prepared them), and
// the round trips, a write after an answer. pgxpool's pings of connections
// idle for a second ("-- ping") are round trips but not statements. A
// pgx.QueryTracer would need a hook in postgres.Open, which only that
// package's own tests have; the wire needs none, and sees everything.
type benchPostgres struct {
	ln      net.Listener
	target  string
	queries atomic.Int64
	trips   atomic.Int64

	mu    sync.Mutex
	bySQL map[string]int64
	conns []net.Conn
}

// startBenchPostgres starts the proxy in front of pgtest's database and
// returns the URL that goes through it.
func startBenchPostgres(b *testing.B, databaseURL string) (*benchPostgres, string) {
	b.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil || u.Host == "" {
		b.Fatalf("the benchmarks count PostgreSQL statements through a proxy, which needs a postgres://host:port/ URL, got %q", databaseURL)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &benchPostgres{ln: ln, target: target, bySQL: map[string]int64{}}
	b.Cleanup(p.close)
	go p.accept()
	u.Host = ln.Addr().String()
	// The proxy reads the protocol, which TLS would hide; the hop after
	// it is the one the test's URL names.
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return p, u.String()
}

func (p *benchPostgres) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		var answered atomic.Bool
		go func() {
			_, _ = io.Copy(client, benchAnswers{server, &answered})
			client.Close()
		}()
		go p.fromClient(client, server, &answered)
	}
}

func (p *benchPostgres) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// benchAnswers reads the server's side, noting that an answer came.
type benchAnswers struct {
	net.Conn
	answered *atomic.Bool
}

func (a benchAnswers) Read(b []byte) (int, error) {
	n, err := a.Conn.Read(b)
	if n > 0 {
		a.answered.Store(true)
	}
	return n, err
}

// fromClient forwards what the bot writes as it comes and reads the
// messages in it on the side.
func (p *benchPostgres) fromClient(client, server net.Conn, answered *atomic.Bool) {
	defer server.Close()
	w := benchWire{stmts: map[string]string{}, count: p.count}
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if answered.Swap(false) {
				p.trips.Add(1)
			}
			if _, err := server.Write(buf[:n]); err != nil {
				return
			}
			w.feed(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (p *benchPostgres) count(sql string) {
	p.queries.Add(1)
	p.mu.Lock()
	p.bySQL[sql]++
	p.mu.Unlock()
}

// snapshot returns the statements by SQL so far.
func (p *benchPostgres) snapshot() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]int64, len(p.bySQL))
	for k, v := range p.bySQL {
		m[k] = v
	}
	return m
}

// benchWire reads the frontend's messages of the PostgreSQL protocol
// (https://www.postgresql.org/docs/current/protocol-message-formats.html):
// an untyped startup message (or an SSL or GSS request before it), then
// messages of a type byte and a length.
type benchWire struct {
	pending []byte
	started bool
	stmts   map[string]string // prepared statement name → its SQL
	bound   string            // the SQL of the portal last bound
	count   func(sql string)
}

// feed takes the next bytes the client wrote and counts each statement
// in the messages they complete.
func (w *benchWire) feed(data []byte) {
	w.pending = append(w.pending, data...)
	off := 0
	for {
		rest := w.pending[off:]
		if !w.started {
			if len(rest) < 8 {
				break
			}
			n := int(binary.BigEndian.Uint32(rest))
			if len(rest) < n {
				break
			}
			switch binary.BigEndian.Uint32(rest[4:]) {
			case 80877103, 80877104: // SSLRequest, GSSENCRequest: the startup follows
			default:
				w.started = true
			}
			off += n
			continue
		}
		if len(rest) < 5 {
			break
		}
		n := 1 + int(binary.BigEndian.Uint32(rest[1:]))
		if len(rest) < n {
			break
		}
		w.message(rest[0], rest[5:n])
		off += n
	}
	w.pending = w.pending[:copy(w.pending, w.pending[off:])]
}

func (w *benchWire) message(typ byte, body []byte) {
	switch typ {
	case 'Q':
		if sql := benchCString(body); !strings.HasPrefix(sql, "-- ping") {
			w.count(benchSQL(sql))
		}
	case 'P':
		name := benchCString(body)
		w.stmts[name] = benchSQL(benchCString(body[len(name)+1:]))
	case 'B':
		portal := benchCString(body)
		sql, ok := w.stmts[benchCString(body[len(portal)+1:])]
		if !ok {
			sql = "(a statement prepared before the count)"
		}
		w.bound = sql
	case 'E':
		w.count(w.bound)
	}
}

// benchCString is the NUL-terminated string at the start of b.
func benchCString(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// benchSQL is a statement's SQL on one line, cut to what tells it apart.
func benchSQL(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if r := []rune(s); len(r) > 90 {
		s = string(r[:90]) + "…"
	}
	return s
}

// benchTCPDials counts the TCP connections http.DefaultTransport opens,
// and those of the transports cloned from it: the bot's (bot.Connect) and
// the echo bot's. Setting BENCH_MAX_IDLE_CONNS_PER_HOST changes how many
// idle connections the default transport itself keeps per host.
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
