package refund

import (
	"fmt"
	"strings"
	"time"
)

// DeskHours are when the agents work, in the shop's time zone: spans of
// weekdays each with a daily time range, e.g. "Mon-Fri 09:00-21:00,
// Sat 10:00-18:00". A weekday span that covers Monday to Friday follows
// the holiday calendar: holidays are closed, the extra workdays open with
// the weekday hours. The zero DeskHours is always open.
type DeskHours struct {
	spans []hoursSpan
	cal   Calendar
	loc   *time.Location
}

type hoursSpan struct {
	days     [7]bool // by time.Weekday
	from, to int     // minutes after midnight, from < to
	// workdays: the span is the working week, so the calendar applies.
	workdays bool
}

var weekdayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseDeskHours reads DESK_HOURS. Empty is always open.
func ParseDeskHours(spec string, cal Calendar, loc *time.Location) (DeskHours, error) {
	h := DeskHours{cal: cal, loc: loc}
	if loc == nil {
		h.loc = time.UTC
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		days, times, ok := strings.Cut(part, " ")
		if !ok {
			return DeskHours{}, FieldError("desk_hours", "%q: want days and times, e.g. Mon-Fri 09:00-21:00", part)
		}
		var s hoursSpan
		first, last, isRange := strings.Cut(strings.ToLower(days), "-")
		d1, ok1 := weekdayNames[first]
		d2, ok2 := d1, true
		if isRange {
			d2, ok2 = weekdayNames[last]
		}
		if !ok1 || !ok2 {
			return DeskHours{}, FieldError("desk_hours", "%q: days are Mon, Tue, … Sun or a span like Mon-Fri", days)
		}
		for d := d1; ; d = (d + 1) % 7 {
			s.days[d] = true
			if d == d2 {
				break
			}
		}
		s.workdays = d1 == time.Monday && d2 == time.Friday
		from, to, ok := strings.Cut(strings.TrimSpace(times), "-")
		var err1, err2 error
		s.from, err1 = clockMinutes(from)
		s.to, err2 = clockMinutes(to)
		if !ok || err1 != nil || err2 != nil || s.from >= s.to {
			return DeskHours{}, FieldError("desk_hours", "%q: times are like 09:00-21:00, the start before the end", times)
		}
		h.spans = append(h.spans, s)
	}
	return h, nil
}

func clockMinutes(s string) (int, error) {
	if strings.TrimSpace(s) == "24:00" {
		return 24 * 60, nil
	}
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Always reports whether the desk has no hours: it is always open.
func (h DeskHours) Always() bool { return len(h.spans) == 0 }

// openOn returns the day's open range in minutes, if the desk opens that
// day.
func (h DeskHours) openOn(day time.Time) (from, to int, open bool) {
	date := DateOf(day, h.loc)
	wd := day.In(h.loc).Weekday()
	for _, s := range h.spans {
		dayOpen := s.days[wd]
		if s.workdays {
			// Holidays close the working week; 调休 weekends open it.
			dayOpen = h.cal.Workday(date)
		}
		if !dayOpen {
			continue
		}
		if !open || s.from < from {
			from = s.from
		}
		if !open || s.to > to {
			to = s.to
		}
		open = true
	}
	return from, to, open
}

// Open reports whether the desk is open at t.
func (h DeskHours) Open(t time.Time) bool {
	if h.Always() {
		return true
	}
	from, to, open := h.openOn(t)
	local := t.In(h.loc)
	minute := local.Hour()*60 + local.Minute()
	return open && minute >= from && minute < to
}

// NextOpen is when the desk next opens at or after t; t itself when it is
// open. It looks two weeks ahead, longer than any holiday.
func (h DeskHours) NextOpen(t time.Time) (time.Time, bool) {
	if h.Open(t) {
		return t, true
	}
	local := t.In(h.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, h.loc)
	for i := 0; i < 15; i++ {
		from, _, open := h.openOn(day)
		opens := day.Add(time.Duration(from) * time.Minute)
		if open && !opens.Before(local) {
			return opens, true
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}, false
}

// Describe writes the hours for people, with the weekday names given
// (Sunday first) and sep between the first and last day of a span.
func (h DeskHours) Describe(weekdays [7]string, sep string) string {
	var parts []string
	for _, s := range h.spans {
		first, last := -1, -1
		for d := 1; d <= 7; d++ { // Monday first, as people list a week
			if s.days[d%7] {
				if first == -1 {
					first = d % 7
				}
				last = d % 7
			}
		}
		days := weekdays[first]
		if last != first {
			days += sep + weekdays[last]
		}
		parts = append(parts, fmt.Sprintf("%s %02d:%02d-%02d:%02d", days, s.from/60, s.from%60, s.to/60, s.to%60))
	}
	return strings.Join(parts, ", ")
}
