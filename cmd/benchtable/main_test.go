package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchOutput is a shortened bin/bench.txt: go test's header, benchmark
// lines with their GOMAXPROCS suffix, the logs of a benchmark, and a
// failing package's line, which must all be read or skipped.
const benchOutput = `goos: linux
pkg: github.com/refundbot/refundbot/cmd/refundbot
BenchmarkDialog/pacing=off/chats=1000-2   20000   600000 ns/op   3000 echo_upd/s   1500 updates/s   0.5000 x_echo   3.000 redis_rt/upd   0 pg_q_noorder   1.000 pg_q_order
--- BENCH: BenchmarkDialog/pacing=off/chats=1000-2
    bench_test.go:131: one chat alone
BenchmarkDialogLatency/mode=poll/rate=1000-2   3000   1000000 ns/op   1.500 p99_ms   4.000 redis_rt/upd   0 pg_q_noorder
BenchmarkDialogLatency/mode=webhook/rate=1000-2   3000   1000000 ns/op   1.900 p99_ms   4.010 redis_rt/upd   1 pg_q_noorder
BenchmarkDialogProcess/chats=100-2   20000   900000 ns/op   300.0 bot_cpu_us/upd
BenchmarkDialogProcess/chats=10000-2   20000   900000 ns/op   330.0 bot_cpu_us/upd   150.0 echo_cpu_us/upd   2.200 x_echo_cpu   39.50 rss_open_MiB   45.00 rss_peak_MiB
PASS
ok  	github.com/refundbot/refundbot/cmd/refundbot	95.1s
`

func TestParse(t *testing.T) {
	res, err := parse(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Errorf("got %d benchmarks, want 5: %v", len(res), res)
	}
	for _, tt := range []struct {
		bench, unit string
		want        float64
	}{
		{"Dialog/pacing=off/chats=1000", "x_echo", 0.5},
		{"Dialog/pacing=off/chats=1000", "ns/op", 600000},
		{"DialogLatency/mode=webhook/rate=1000", "p99_ms", 1.9},
		{"DialogProcess/chats=10000", "rss_open_MiB", 39.5},
	} {
		if got, ok := res.metric(tt.bench, tt.unit); !ok || got != tt.want {
			t.Errorf("%s %s = %v, %v; want %v", tt.bench, tt.unit, got, ok, tt.want)
		}
	}
}

func TestParseRejectsABadFigure(t *testing.T) {
	if _, err := parse(strings.NewReader("BenchmarkX-2 10 abc ns/op\n")); err == nil {
		t.Error("a figure that is no number was accepted")
	}
}

// TestRender checks each row's verdict: met, not met (a ratio, a latency
// taken as the worse of two modes, a count any benchmark saw), and a row
// whose benchmark did not run.
func TestRender(t *testing.T) {
	res, err := parse(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	delete(res, "DialogProcess/chats=100")
	var out strings.Builder
	render(&out, res)
	rows := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) == 5 {
			rows[strings.TrimPrefix(cells[0], "| ")] = cells[3] + " => " + strings.TrimSuffix(cells[4], " |")
		}
	}
	for measure, want := range map[string]string{
		"bot rate ÷ echo bot's rate, 1,000 chats, pacing off":                "0.50 (1500 ÷ 3000 updates/s) => **not met**",
		"bot CPU per update ÷ echo bot's":                                    "2.20 (330 ÷ 150 µs, 10,000 chats, processes of their own) => **not met**",
		"paced p99, update handed over → reply received, 1,000 open dialogs": "polling 1.50 ms, webhook 1.90 ms => **met**",
		"Redis round trips per dialog update":                                "4.000 (pacing on, at 1,000/s); 3.000 with pacing off => **not met**",
		"PostgreSQL queries on a dialog turn that reads no order, desk on":   "1 => **not met**",
		"RSS with 10,000 open dialogs":                                       "39.5 MiB (peak 45.0 MiB) => **met**",
		"cost per update 100 → 10,000 chats":                                 "- => not measured",
	} {
		if got := rows[measure]; got != want {
			t.Errorf("%s:\n got %s\nwant %s", measure, got, want)
		}
	}
	if len(rows) != len(targets())+1 { // and the header
		t.Errorf("got %d rows, want %d:\n%s", len(rows), len(targets())+1, out.String())
	}
}

func TestRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.txt")
	if err := os.WriteFile(path, []byte(benchOutput), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(path, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "×1.10 (300 → 330 µs of CPU) | **met**") {
		t.Errorf("the scale row is missing or wrong:\n%s", out.String())
	}
	if err := run(filepath.Join(t.TempDir(), "missing.txt"), &out); err == nil {
		t.Error("a missing file was no error")
	}
}
