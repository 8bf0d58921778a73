package refund_test

import (
	"testing"

	"github.com/refundbot/refundbot/refund"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in   string
		want refund.Money
		ok   bool
	}{
		{"95.00", 9500, true}, {"95", 9500, true}, {"95.5", 9550, true}, {"0.01", 1, true}, {" 1.10 ", 110, true},
		{"", 0, false}, {"-1", 0, false}, {"9.999", 0, false}, {"1e3", 0, false}, {".5", 0, false},
		{"5.", 0, false}, {"1,000", 0, false}, {"99999999999999999999", 0, false}, {"NaN", 0, false},
	}
	for _, tt := range tests {
		got, err := refund.ParseMoney(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMoney(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != "" {
			back, err := refund.ParseMoney(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q via %q = %d, %v", tt.in, got.String(), back, err)
			}
		}
	}
	if s := refund.Money(-150).String(); s != "-1.50" {
		t.Errorf("Money(-150) = %q", s)
	}
}

func TestCaseNumbers(t *testing.T) {
	tests := []struct {
		in   string
		id   int64
		okay bool
	}{
		{"R-000123", 123, true}, {"r000123", 123, true}, {"R-1234567", 1234567, true},
		{"R-123", 0, false}, {"R-000000", 0, false}, {"X-000123", 0, false}, {"R-00012a", 0, false},
	}
	for _, tt := range tests {
		id, ok := refund.ParseCaseNumber(tt.in)
		if id != tt.id || ok != tt.okay {
			t.Errorf("ParseCaseNumber(%q) = %d, %v", tt.in, id, ok)
		}
	}
	if got := refund.FormatCaseNumber(42); got != "R-000042" {
		t.Errorf("FormatCaseNumber(42) = %q", got)
	}
}

func TestOrderOwnership(t *testing.T) {
	o := refund.Order{BuyerTelegramID: 7, ContactPhone: "+86 138-0013-8000"}
	if !o.BoundTo(7) || o.BoundTo(8) || (refund.Order{}).BoundTo(0) {
		t.Error("BoundTo is wrong")
	}
	for digits, want := range map[string]bool{"8000": true, "0000": false, "800": false, "80000": false, "": false} {
		if got := o.PhoneLast4Matches(digits); got != want {
			t.Errorf("PhoneLast4Matches(%q) = %v", digits, got)
		}
	}
}
