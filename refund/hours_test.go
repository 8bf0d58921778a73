package refund_test

import (
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

func TestDeskHours(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	cal := refund.Calendar{Holidays: []refund.Date{"2026-10-01", "2026-10-02"}, ExtraWorkdays: []refund.Date{"2026-10-10"}}
	h, err := refund.ParseDeskHours("Mon-Fri 09:00-21:00, Sun 10:00-12:00", cal, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tt := range []struct {
		now, next string
		open      bool
	}{
		{"2026-12-02 10:00", "2026-12-02 10:00", true},  // Wednesday morning
		{"2026-12-02 21:00", "2026-12-03 09:00", false}, // closing time
		{"2026-12-02 08:59", "2026-12-02 09:00", false}, // before opening
		{"2026-12-04 22:00", "2026-12-06 10:00", false}, // Friday night: Sunday's short hours
		{"2026-12-06 12:30", "2026-12-07 09:00", false}, // Sunday after its hours
		{"2026-09-30 22:00", "2026-10-04 10:00", false}, // before two holidays, then Sunday
		{"2026-10-10 09:30", "2026-10-10 09:30", true},  // a Saturday worked for the holiday
	} {
		next, ok := h.NextOpen(at(tt.now))
		if got := h.Open(at(tt.now)); got != tt.open || !ok || !next.Equal(at(tt.next)) {
			t.Errorf("%s: open %v, next %v (%v); want open %v, next %s", tt.now, got, next, ok, tt.open, tt.next)
		}
	}
	if got := h.Describe([7]string{"周日", "周一", "周二", "周三", "周四", "周五", "周六"}, "至"); got != "周一至周五 09:00-21:00, 周日 10:00-12:00" {
		t.Errorf("Describe = %q", got)
	}
	if always, _ := refund.ParseDeskHours("", cal, shanghai); !always.Always() || !always.Open(at("2026-10-01 03:00")) {
		t.Error("no hours must be always open")
	}
	for _, bad := range []string{"Mon-Fri", "Mon-Fri 21:00-09:00", "Monday 09:00-10:00", "Mon-Fri 9-21", "Mon-Xyz 09:00-10:00"} {
		if _, err := refund.ParseDeskHours(bad, cal, shanghai); refund.ErrorCode(err) != refund.EINVALID {
			t.Errorf("ParseDeskHours(%q) = %v, want EINVALID", bad, err)
		}
	}
}
