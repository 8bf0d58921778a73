// Command benchtable reads the output of refundbot's benchmarks (what
// `make bench` keeps in bin/bench.txt) and prints the targets of the issue
// "Performance: the whole bot at the echo bot's speed, with the desk
// switched on" with this run's figures and whether each is met, as a
// Markdown table for docs/performance.md. Every figure comes from the one
// run in the file; a target whose benchmark did not run is "not measured".
//
// Usage:
//
//	benchtable [bin/bench.txt]
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	path := "bin/bench.txt"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := run(path, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	render(w, res)
	return nil
}

// results are a run's figures: benchmark name (without "Benchmark" and
// the GOMAXPROCS suffix, e.g. "Dialog/pacing=off/chats=1000") → unit →
// value. A benchmark reported twice (-count 2) keeps its last figures.
type results map[string]map[string]float64

// metric returns one figure, and whether the run has it.
func (r results) metric(bench, unit string) (float64, bool) {
	v, ok := r[bench][unit]
	return v, ok
}

// procSuffix is the "-2" go test appends to a benchmark's name when
// GOMAXPROCS is not 1.
var procSuffix = regexp.MustCompile(`-[0-9]+$`)

// parse reads go test's benchmark lines ("BenchmarkX-2  20000  5 ns/op
// 3.0 x_echo …") and ignores every other line.
func parse(r io.Reader) (results, error) {
	res := results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // a log line that starts with a benchmark's name
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(fields[0], "Benchmark"), "")
		m := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s: %q is not a number", name, fields[i])
			}
			m[fields[i+1]] = v
		}
		res[name] = m
	}
	return res, sc.Err()
}

// target is one row of the issue's table.
type target struct {
	measure, before, want string
	// figure is this run's figure and how to show it; ok is false when a
	// benchmark it needs is not in the run.
	figure func(results) (v float64, shown string, ok bool)
	met    func(v float64) bool
}

// Where the figures come from. The rate ratio is measured with pacing off
// (the echo bot paces nothing); every other figure with production
// settings, pacing on.
const (
	dialog1000  = "Dialog/pacing=off/chats=1000"
	process100  = "DialogProcess/chats=100"
	process10k  = "DialogProcess/chats=10000"
	pollAt1000  = "DialogLatency/mode=poll/rate=1000"
	hookAt1000  = "DialogLatency/mode=webhook/rate=1000"
	targetIssue = `"Performance: the whole bot at the echo bot's speed, with the desk switched on"`
)

// targets are the issue's rows, in its order.
func targets() []target {
	return []target{{
		measure: "bot rate ÷ echo bot's rate, 1,000 chats, pacing off", before: "0.73", want: "≥ 1.0",
		figure: ratioFigure(dialog1000, "x_echo", "updates/s", "echo_upd/s", "%.2f (%.0f ÷ %.0f updates/s)"),
		met:    func(v float64) bool { return v >= 1.0 },
	}, {
		measure: "bot CPU per update ÷ echo bot's", before: "2.0", want: "≤ 1.3",
		figure: ratioFigure(process10k, "x_echo_cpu", "bot_cpu_us/upd", "echo_cpu_us/upd",
			"%.2f (%.0f ÷ %.0f µs, 10,000 chats, processes of their own)"),
		met: func(v float64) bool { return v <= 1.3 },
	}, {
		measure: "paced p99, update handed over → reply received, 1,000 open dialogs", before: "13.9-20 ms at 1,000/s",
		want: "< 2 ms at 1,000/s",
		// The worse of the two modes: a shop runs one or the other.
		figure: func(r results) (float64, string, bool) {
			poll, ok1 := r.metric(pollAt1000, "p99_ms")
			hook, ok2 := r.metric(hookAt1000, "p99_ms")
			switch {
			case ok1 && ok2:
				return max(poll, hook), fmt.Sprintf("polling %.2f ms, webhook %.2f ms", poll, hook), true
			case ok1:
				return poll, fmt.Sprintf("polling %.2f ms (webhook not run)", poll), true
			case ok2:
				return hook, fmt.Sprintf("webhook %.2f ms (polling not run)", hook), true
			}
			return 0, "", false
		},
		met: func(v float64) bool { return v < 2 },
	}, {
		measure: "Redis round trips per dialog update", before: "2.34", want: "≤ 2",
		figure: func(r results) (float64, string, bool) {
			v, ok := r.metric(pollAt1000, "redis_rt/upd")
			shown := fmt.Sprintf("%.3f (pacing on, at 1,000/s)", v)
			if off, ok := r.metric(dialog1000, "redis_rt/upd"); ok {
				shown = fmt.Sprintf("%.3f (pacing on, at 1,000/s); %.3f with pacing off", v, off)
			}
			return v, shown, ok
		},
		met: func(v float64) bool { return v <= 2 },
	}, {
		measure: "PostgreSQL queries on a dialog turn that reads no order, desk on", before: "1", want: "0",
		// Every run that probed a turn counts: the most any of them saw.
		figure: func(r results) (float64, string, bool) {
			most, found := 0.0, false
			for _, m := range r {
				if v, ok := m["pg_q_noorder"]; ok {
					most, found = max(most, v), true
				}
			}
			return most, fmt.Sprintf("%g", most), found
		},
		met: func(v float64) bool { return v == 0 },
	}, {
		measure: "RSS with 10,000 open dialogs", before: "37.6 MiB", want: "≤ 40 MiB",
		figure: func(r results) (float64, string, bool) {
			open, ok := r.metric(process10k, "rss_open_MiB")
			peak, _ := r.metric(process10k, "rss_peak_MiB")
			return open, fmt.Sprintf("%.1f MiB (peak %.1f MiB)", open, peak), ok
		},
		met: func(v float64) bool { return v <= 40 },
	}, {
		measure: "cost per update 100 → 10,000 chats", before: "flat", want: "flat (×≤ 1.2)",
		figure: func(r results) (float64, string, bool) {
			small, ok1 := r.metric(process100, "bot_cpu_us/upd")
			big, ok2 := r.metric(process10k, "bot_cpu_us/upd")
			if !ok1 || !ok2 || small <= 0 {
				return 0, "", false
			}
			return big / small, fmt.Sprintf("×%.2f (%.0f → %.0f µs of CPU)", big/small, small, big), true
		},
		met: func(v float64) bool { return v <= 1.2 },
	}}
}

// ratioFigure is a ratio a benchmark reported, shown with its two terms.
func ratioFigure(bench, ratio, num, den, format string) func(results) (float64, string, bool) {
	return func(r results) (float64, string, bool) {
		x, ok1 := r.metric(bench, ratio)
		n, ok2 := r.metric(bench, num)
		d, ok3 := r.metric(bench, den)
		return x, fmt.Sprintf(format, x, n, d), ok1 && ok2 && ok3
	}
}

// render prints the targets with this run's figures.
func render(w io.Writer, r results) {
	fmt.Fprintf(w, "Targets of the issue %s, this run:\n\n", targetIssue)
	fmt.Fprintln(w, "| measure | before | target | this run | met? |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, t := range targets() {
		v, shown, ok := t.figure(r)
		verdict := "not measured"
		switch {
		case !ok:
			shown = "-"
		case t.met(v):
			verdict = "**met**"
		default:
			verdict = "**not met**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.measure, t.before, t.want, shown, verdict)
	}
}
