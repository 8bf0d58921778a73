package metrics_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/refundbot/refundbot/bot/metrics"
	"github.com/refundbot/refundbot/refund/inmem"
)

// The monitoring that ships with the bot, relative to this package.
const (
	alertsFile     = "../../deploy/prometheus/alerts.yaml"
	alertTestsFile = "../../deploy/prometheus/alerts_test.yaml"
	dashboardFile  = "../../deploy/grafana/refundbot.json"
)

// exportedSeries scrapes a Metrics wired as cmd/refundbot wires it (a
// store, the dialog's steps, a Telegram check) and returns the name of
// every sample it serves, histograms' _bucket, _sum and _count included.
func exportedSeries(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New(metrics.Options{Steps: steps, Stats: inmem.New(),
		Telegram: func(context.Context) error { return nil }})
	// Series that exist only once something happened.
	m.TelegramCall("sendMessage", 0)
	m.WebhookRequest(200)
	m.BuyerFlooded()
	names := map[string]bool{}
	for _, l := range strings.Split(scrape(t, m), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

// promqlKeywords are the words of PromQL that are not series names.
func promqlKeywords() []string {
	return []string{"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
		"bool", "offset", "inf", "nan", "atan2"}
}

// seriesNames returns the series an expression selects. PromQL is not
// parsed in full, only enough for that: strings, label matchers, ranges
// and grouping label lists are blanked out, and of the words left those
// that are not called (functions, aggregations) nor keywords are series.
func seriesNames(expr string) []string {
	for _, re := range []string{`"(?:[^"\\]|\\.)*"`, `'(?:[^'\\]|\\.)*'`, `\{[^}]*\}`, `\[[^\]]*\]`,
		`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`} {
		expr = regexp.MustCompile(re).ReplaceAllString(expr, " ")
	}
	var names []string
	word := regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	for _, loc := range word.FindAllStringIndex(expr, -1) {
		if loc[0] > 0 && strings.ContainsAny(expr[loc[0]-1:loc[0]], "0123456789.$") {
			continue // 1h, 0.5e3, $var
		}
		w := expr[loc[0]:loc[1]]
		if strings.HasPrefix(strings.TrimLeft(expr[loc[1]:], " \t\n"), "(") || slices.Contains(promqlKeywords(), strings.ToLower(w)) {
			continue
		}
		names = append(names, w)
	}
	return names
}

func TestSeriesNames(t *testing.T) {
	t.Parallel()
	tests := []struct{ expr, want string }{
		{`max by (job, kind) (refundbot_outbox_lag_seconds) > 300`, "refundbot_outbox_lag_seconds"},
		{`sum(rate(a_total{job=~"$job", kind="x"}[$__rate_interval])) / sum(rate(b_count[5m]))`, "a_total b_count"},
		{"a == 0\nand on (job) max by (job) (b) == 1", "a b"},
		{`x - x offset 1h >= 3`, "x x"},
		{`histogram_quantile(0.99, sum by (le, scope) (rate(h_bucket[1m])))`, "h_bucket"},
	}
	for _, tt := range tests {
		if got := strings.Join(seriesNames(tt.expr), " "); got != tt.want {
			t.Errorf("seriesNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// decodeFile reads path into v with unmarshal (YAML or JSON).
func decodeFile(t *testing.T, path string, unmarshal func([]byte, any) error, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// alertExprs returns every rule's expression in alerts.yaml, by alert.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			}
		}
	}
	decodeFile(t, alertsFile, yaml.Unmarshal, &f)
	exprs := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert+r.Record] = r.Expr
		}
	}
	return exprs
}

// TestAlertRulesNameExportedSeries: every series an alert rule (and its
// promtool test's input) names is one the bot exports, so that no alert
// silently watches a series that never exists, and every alert the issue
// asked for is there.
func TestAlertRulesNameExportedSeries(t *testing.T) {
	t.Parallel()
	exported := exportedSeries(t)
	exprs := alertExprs(t)
	for _, want := range []string{"RefundbotOutboxLagging", "RefundbotPayoutDeliveryFailing", "RefundbotPayoutsFailing",
		"RefundbotTelegram429Storm", "RefundbotEscalationsOverdue", "RefundbotNoUpdates"} {
		if _, ok := exprs[want]; !ok {
			t.Errorf("%s has no alert %s", alertsFile, want)
		}
	}
	for alert, expr := range exprs {
		names := seriesNames(expr)
		if len(names) == 0 {
			t.Errorf("alert %s: found no series in %q", alert, expr)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("alert %s names %s, which the bot does not export", alert, n)
			}
		}
	}
	var tests struct {
		Tests []struct {
			InputSeries []struct{ Series string } `yaml:"input_series"`
		}
	}
	decodeFile(t, alertTestsFile, yaml.Unmarshal, &tests)
	for _, tt := range tests.Tests {
		for _, in := range tt.InputSeries {
			if n, _, _ := strings.Cut(in.Series, "{"); !exported[n] {
				t.Errorf("%s feeds %s, which the bot does not export", alertTestsFile, n)
			}
		}
	}
}

// TestDashboardNamesExportedSeries: every series a panel or a template
// variable of the Grafana dashboard queries is one the bot exports.
func TestDashboardNamesExportedSeries(t *testing.T) {
	t.Parallel()
	exported := exportedSeries(t)
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Query any
			}
		}
	}
	decodeFile(t, dashboardFile, json.Unmarshal, &d)
	used := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			names := seriesNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: found no series in %q", p.Title, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
				if !exported[n] {
					t.Errorf("panel %q queries %s, which the bot does not export", p.Title, n)
				}
			}
		}
	}
	labelValues := regexp.MustCompile(`label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,`)
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if !ok {
			continue
		}
		s, _ := q["query"].(string)
		if m := labelValues.FindStringSubmatch(s); m != nil && !exported[m[1]] {
			t.Errorf("variable %s reads labels of %s, which the bot does not export", v.Name, m[1])
		}
	}
	// The series the alerts watch are on the dashboard too, so that whoever
	// gets paged can see them.
	for _, n := range []string{"refundbot_outbox_lag_seconds", "refundbot_outbox_failing", "refundbot_payouts",
		"refundbot_telegram_rate_limited_total", "refundbot_escalations_overdue", "refundbot_updates_total",
		"refundbot_telegram_reachable"} {
		if !used[n] {
			t.Errorf("the dashboard shows no %s, which an alert watches", n)
		}
	}
}
