package policyfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/policyfile"
)

const examplePath = "../../deploy/policy.example.yaml"

func readExample(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The example is the operator's documentation; if it drifted from the
// defaults, "copy the example and change one line" would change more.
func TestExampleIsDefault(t *testing.T) {
	p, err := policyfile.Parse(readExample(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := refund.DefaultPolicy(); !reflect.DeepEqual(p, want) {
		t.Errorf("example policy differs from refund.DefaultPolicy()\n got: %+v\nwant: %+v", p, want)
	}
}

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"empty", ""},
		{"blank lines", "\n\n   \n"},
		{"comments only", "# nothing set yet\n# fast_lane_limit: \"100\"\n"},
		{"empty mapping", "{}\n"},
		{"document marker only", "---\n"},
		{"null document", "~\n"},
		{"blocks left empty", "frequent_refunds:\npayout_days:\ncategories:\n  topup:\nreasons:\nholidays:\nextra_workdays: []\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policyfile.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if want := refund.DefaultPolicy(); !reflect.DeepEqual(p, want) {
				t.Errorf("got %+v\nwant defaults %+v", p, want)
			}
		})
	}
}

func TestParseOverrides(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		yaml string
		// want changes the defaults into the expected policy; everything
		// it does not touch must keep its default.
		want func(p *refund.Policy)
	}{
		{"fast lane limit quoted", `fast_lane_limit: "150.50"`, func(p *refund.Policy) { p.FastLaneLimit = 15050 }},
		{"fast lane limit bare integer", `fast_lane_limit: 150`, func(p *refund.Policy) { p.FastLaneLimit = 15000 }},
		// YAML would read 0.10 as a float; the text must be used instead.
		{"fast lane limit bare decimal", `fast_lane_limit: 0.10`, func(p *refund.Policy) { p.FastLaneLimit = 10 }},
		{"fast lane limit zero", `fast_lane_limit: "0"`, func(p *refund.Policy) { p.FastLaneLimit = 0 }},
		{"frequent refunds limit only", "frequent_refunds:\n  limit: 5\n", func(p *refund.Policy) { p.FrequentRefundLimit = 5 }},
		{"frequent refunds both", `frequent_refunds: {limit: "2", period: 14d}`, func(p *refund.Policy) {
			p.FrequentRefundLimit, p.FrequentRefundPeriod = 2, 14*day
		}},
		{"needs info timeout", "needs_info_timeout: 36h", func(p *refund.Policy) { p.NeedsInfoTimeout = 36 * time.Hour }},
		{"appeal window in days", "appeal_window: 14d", func(p *refund.Policy) { p.AppealWindow = 14 * day }},
		{"payout choice timeout compound", "payout_choice_timeout: 1h30m", func(p *refund.Policy) { p.PayoutChoiceTimeout = 90 * time.Minute }},
		{"review business days", "review_business_days: 5", func(p *refund.Policy) { p.ReviewBusinessDays = 5 }},
		{"payout days one method", "payout_days:\n  bank_card: [2, 7]\n", func(p *refund.Policy) { p.PayoutDays[refund.PayBankCard] = [2]int{2, 7} }},
		{"holidays and extra workdays", "holidays: [\"2026-10-01\", 2026-10-02]\nextra_workdays:\n  - \"2026-10-10\"\n", func(p *refund.Policy) {
			p.Calendar.Holidays = []refund.Date{"2026-10-01", "2026-10-02"}
			p.Calendar.ExtraWorkdays = []refund.Date{"2026-10-10"}
		}},
		{"category window", "categories:\n  topup:\n    window: 48h\n", func(p *refund.Policy) {
			cp := p.Categories[refund.CategoryTopup]
			cp.Window = 48 * time.Hour
			p.Categories[refund.CategoryTopup] = cp
		}},
		{"buyer side fee replaces refusal", "categories:\n  topup: {buyer_side: \"fee 2.5%\"}\n", func(p *refund.Policy) {
			cp := p.Categories[refund.CategoryTopup]
			cp.BuyerSideRefused, cp.BuyerSideFeeBP = false, 250
			p.Categories[refund.CategoryTopup] = cp
		}},
		{"buyer side free refund", "categories:\n  game_card: {buyer_side: fee 0%}\n", func(p *refund.Policy) {
			cp := p.Categories[refund.CategoryGameCard]
			cp.BuyerSideFeeBP = 0
			p.Categories[refund.CategoryGameCard] = cp
		}},
		{"buyer side fee of 100%", "categories:\n  game_card: {buyer_side: \"fee 100%\"}\n", func(p *refund.Policy) {
			cp := p.Categories[refund.CategoryGameCard]
			cp.BuyerSideFeeBP = 10000
			p.Categories[refund.CategoryGameCard] = cp
		}},
		{"buyer side refuse keeps fee", "categories:\n  physical:\n    buyer_side: refuse\n    payout: original\n", func(p *refund.Policy) {
			cp := p.Categories[refund.CategoryPhysical]
			cp.BuyerSideRefused, cp.Payout = true, refund.PayoutOriginalOnly
			p.Categories[refund.CategoryPhysical] = cp
		}},
		{"reason fault and evidence", "reasons:\n  wrong_account: {fault: platform, evidence_required: true}\n  damaged:\n    evidence_required: false\n", func(p *refund.Policy) {
			p.Reasons[refund.ReasonWrongAccount] = refund.ReasonPolicy{Fault: refund.FaultPlatform, EvidenceRequired: true}
			p.Reasons[refund.ReasonDamaged] = refund.ReasonPolicy{Fault: refund.FaultPlatform}
		}},
		{"anchors share settings", "categories:\n  membership: &slow {window: 5d, payout: balance}\n  service: *slow\n", func(p *refund.Policy) {
			for _, c := range []refund.Category{refund.CategoryMembership, refund.CategoryService} {
				cp := p.Categories[c]
				cp.Window, cp.Payout = 5*day, refund.PayoutBalanceOnly
				p.Categories[c] = cp
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policyfile.Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			want := refund.DefaultPolicy()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		yaml       string
		line, col  int
		field      string
		msgContain string
	}{
		// Values the decoder cannot read.
		{"bad duration", "categories:\n  topup:\n    window: 3x\n", 3, 13, "categories.topup.window", `"3x" is not a duration (use e.g. 24h, 72h, 7d)`},
		{"duration without unit", "appeal_window: 30\n", 1, 16, "appeal_window", `"30" is not a duration`},
		{"fractional days", "appeal_window: 1.5d\n", 1, 16, "appeal_window", `"1.5d" is not a duration`},
		{"days overflow", "appeal_window: 999999999999d\n", 1, 16, "appeal_window", "is not a duration"},
		{"bad money", "fast_lane_limit: \"12.345\"\n", 1, 18, "fast_lane_limit", `"12.345" is not an amount`},
		{"money exponent", "fast_lane_limit: 2e2\n", 1, 18, "fast_lane_limit", `"2e2" is not an amount`},
		{"not a whole number", "frequent_refunds:\n  limit: 2.5\n", 2, 10, "frequent_refunds.limit", `"2.5" is not a whole number`},
		{"not a boolean", "reasons:\n  damaged: {evidence_required: yes}\n", 2, 32, "reasons.damaged.evidence_required", `"yes" is not true or false`},
		{"bad payout choice", "categories:\n  topup: {payout: both}\n", 2, 19, "categories.topup.payout", `"both" is not one of either, original, balance`},
		{"bad fault", "reasons:\n  damaged: {fault: shop}\n", 2, 20, "reasons.damaged.fault", `"shop" is not one of platform, buyer`},
		{"bad buyer side", "categories:\n  topup: {buyer_side: fee 5}\n", 2, 23, "categories.topup.buyer_side", `"fee 5" is not a buyer-side rule`},
		{"fee over 100%", "categories:\n  game_card:\n    buyer_side: \"fee 150%\"\n", 3, 17, "categories.game_card.buyer_side", "fee 150% is over 100%"},
		{"fee with three decimals", "categories:\n  game_card: {buyer_side: fee 1.125%}\n", 2, 27, "categories.game_card.buyer_side", "is not a buyer-side rule"},
		{"holiday not a date", "holidays:\n  - \"2026-10-01\"\n  - \"2026-13-01\"\n", 3, 5, "holidays", `"2026-13-01" is not a date (use YYYY-MM-DD`},
		{"extra workday not a date", "extra_workdays: [10/10]\n", 1, 18, "extra_workdays", `"10/10" is not a date`},
		{"no value", "needs_info_timeout:\nappeal_window: 7d\n", 1, 1, "needs_info_timeout", "no value; want a duration"},

		// Negative numbers, which no setting allows.
		{"negative money", "fast_lane_limit: \"-5\"\n", 1, 18, "fast_lane_limit", `"-5" must not be negative`},
		{"negative duration", "appeal_window: -24h\n", 1, 16, "appeal_window", `"-24h" must not be negative`},
		{"negative days", "frequent_refunds: {period: -3d}\n", 1, 28, "frequent_refunds.period", `"-3d" must not be negative`},
		{"negative count", "review_business_days: -1\n", 1, 23, "review_business_days", `"-1" must not be negative`},
		{"negative payout day", "payout_days:\n  alipay: [-1, 2]\n", 2, 12, "payout_days.alipay", `"-1" must not be negative`},

		// Keys that do not exist: a typo must not keep a default silently.
		{"unknown key at top level", "fast_lane_limit: \"100\"\nfast_lane_limt: \"50\"\n", 2, 1, "", `unknown setting "fast_lane_limt" (want one of fast_lane_limit,`},
		{"unknown key nested", "categories:\n  topup:\n    window: 48h\n    windw: 72h\n", 4, 5, "categories.topup", `unknown setting "windw" (want one of window, buyer_side, payout)`},
		{"unknown key in frequent refunds", "frequent_refunds: {limit: 3, days: 30}\n", 1, 30, "frequent_refunds", `unknown setting "days"`},
		{"unknown key in reason", "reasons:\n  damaged:\n    evidence: true\n", 3, 5, "reasons.damaged", `unknown setting "evidence"`},
		{"unknown category", "categories:\n  gamecard: {window: 24h}\n", 2, 3, "categories", `unknown category "gamecard" (want one of game_card, topup,`},
		{"unknown reason", "reasons:\n  invalid_card: {fault: buyer}\n", 2, 3, "reasons", `unknown reason "invalid_card"`},
		{"unknown payment method", "payout_days:\n  paypal: [1, 2]\n", 2, 3, "payout_days", `unknown payment method "paypal"`},
		{"merge key", "categories:\n  topup:\n    <<: {window: 1h}\n", 3, 5, "categories.topup", "merge keys (<<) are not supported"},

		// Keys set twice.
		{"duplicate key at top level", "appeal_window: 7d\nreview_business_days: 3\nappeal_window: 3d\n", 3, 1, "appeal_window", "set twice (first on line 1)"},
		{"duplicate key nested", "categories:\n  topup:\n    window: 24h\n    window: 48h\n", 4, 5, "categories.topup.window", "set twice (first on line 3)"},
		{"duplicate category", "categories:\n  topup: {window: 1h}\n  topup: {window: 2h}\n", 3, 3, "categories.topup", "set twice (first on line 2)"},

		// Wrong shapes.
		{"list where a map is wanted", "categories:\n  - game_card\n  - topup\n", 2, 3, "categories", "want key: value pairs under categories, got a list"},
		{"value where a map is wanted", "reasons: all\n", 1, 10, "reasons", `want key: value pairs under reasons, got "all"`},
		{"list where a value is wanted", "categories:\n  topup:\n    window: [24h]\n", 3, 13, "categories.topup.window", "want a duration such as 24h or 7d, got a list"},
		{"value where a list is wanted", "holidays: \"2026-10-01\"\n", 1, 11, "holidays", "want a list of dates"},
		{"map in a date list", "holidays:\n  - {day: 2026-10-01}\n", 2, 5, "holidays", "want a date such as"},
		{"payout days not a pair", "payout_days: {alipay: [1, 2, 3]}\n", 1, 23, "payout_days.alipay", "want [min, max] business days"},
		{"file is a list", "- fast_lane_limit: 1\n", 1, 1, "", "want key: value pairs, got a list"},
		{"key is a list", "? [a, b]\n: 1\n", 1, 3, "", "a key must be a plain name, got a list"},

		// The file as a whole.
		{"yaml syntax", "fast_lane_limit: \"100\"\ncategories: @all\n", 2, 0, "", "2: not valid YAML: found character that cannot start any token"},
		{"two documents", "appeal_window: 7d\n---\nappeal_window: 3d\n", 2, 1, "", "more than one YAML document"},

		// Policy.Validate failures, placed on the line that set the value.
		{"validate payout days min over max", "payout_days:\n  alipay: [1, 2]\n  bank_card: [5, 3]\n", 3, 14, "payout_days.bank_card", "payout days must be min <= max"},
		{"validate zero window", "categories:\n  service:\n    window: 0s\n", 3, 13, "categories.service.window", "window must be positive"},
		{"validate renamed field", "frequent_refunds:\n  period: 30d\n  limit: 0\n", 3, 10, "frequent_refunds.limit", "must be at least 1"},
		{"validate renamed period", "frequent_refunds:\n  period: 0d\n", 2, 11, "frequent_refunds.period", "must be positive"},
		{"validate review days", "review_business_days: 0\n", 1, 23, "review_business_days", "must be 1-60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policyfile.Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error; got policy %+v", p)
			}
			if !reflect.DeepEqual(p, refund.Policy{}) {
				t.Errorf("a failed parse returned a non-zero policy: %+v", p)
			}
			var fe *policyfile.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *policyfile.Error", err, err)
			}
			if fe.Line != tt.line || fe.Column != tt.col || fe.Field != tt.field {
				t.Errorf("error at %d:%d field %q, want %d:%d field %q (%v)", fe.Line, fe.Column, fe.Field, tt.line, tt.col, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msgContain) {
				t.Errorf("error %q does not contain %q", err, tt.msgContain)
			}
			if code := refund.ErrorCode(err); code != refund.EINVALID {
				t.Errorf("ErrorCode = %q, want %q", code, refund.EINVALID)
			}
		})
	}
}

// The message format is what an operator reads in the log; pin one whole.
func TestErrorFormat(t *testing.T) {
	_, err := policyfile.Parse([]byte("categories:\n  topup:\n    window: 3x\n"))
	const want = `3:13: categories.topup.window: "3x" is not a duration (use e.g. 24h, 72h, 7d)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("missing file names the path", func(t *testing.T) {
		path := filepath.Join(dir, "nope.yaml")
		_, err := policyfile.Load(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("error %v does not name %s", err, path)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v is not fs.ErrNotExist", err)
		}
	})
	t.Run("bad file names path and line", func(t *testing.T) {
		path := write("bad.yaml", "appeal_window: 7d\ncategories:\n  topup:\n    window: 3x\n")
		_, err := policyfile.Load(path)
		want := path + `:4:13: categories.topup.window: "3x" is not a duration (use e.g. 24h, 72h, 7d)`
		if err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
		var fe *policyfile.Error
		if !errors.As(err, &fe) || fe.File != path {
			t.Errorf("error %v does not carry File %q", err, path)
		}
	})
	t.Run("good file", func(t *testing.T) {
		p, err := policyfile.Load(write("good.yaml", "review_business_days: 2\n"))
		if err != nil {
			t.Fatal(err)
		}
		want := refund.DefaultPolicy()
		want.ReviewBusinessDays = 2
		if !reflect.DeepEqual(p, want) {
			t.Errorf("got %+v\nwant %+v", p, want)
		}
	})
	t.Run("example file", func(t *testing.T) {
		if _, err := policyfile.Load(examplePath); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add(readExample(f))
	for _, s := range []string{
		"",
		"categories:\n  topup:\n    window: 3x\n",
		"categories:\n  membership: &a {window: 5d}\n  service: *a\n",
		"holidays: &h [*h]\n",
		"payout_days: {alipay: [1, 2], bank_card: [5, 3]}\n",
		"reasons:\n  damaged: {fault: buyer, evidence_required: false}\n",
		"categories: {game_card: {buyer_side: \"fee 99.99%\"}}\n",
		"appeal_window: 7d\n---\n",
		"? [a]\n: b\n",
		"a: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := policyfile.Parse(data)
		if err != nil {
			var fe *policyfile.Error
			if !errors.As(err, &fe) || fe.Err == nil || fe.Line < 0 || fe.Column < 0 {
				t.Fatalf("error %#v is not a well-formed *policyfile.Error", err)
			}
			_ = err.Error()
			return
		}
		// Whatever Parse accepts, the bot must be able to run on.
		if err := p.Validate(); err != nil {
			t.Fatalf("Parse accepted a policy Validate rejects: %v", err)
		}
	})
}
