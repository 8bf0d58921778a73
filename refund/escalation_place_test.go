package refund

import (
	"testing"
	"time"
)

func TestPerPlace(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	at := func(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }
	// queue is waits taken every gap minutes, all opened at t0.
	queue := func(n int, gap float64) []QueueWait {
		ws := make([]QueueWait, n)
		for i := range ws {
			ws[i] = QueueWait{CreatedAt: t0, TakenAt: at(gap * float64(i+1))}
		}
		return ws
	}
	tests := []struct {
		name  string
		waits []QueueWait
		want  time.Duration
		ok    bool
	}{
		{"none", nil, 0, false},
		{"five waits are one too few (the first has no take before it)", queue(5, 2), 0, false},
		{"a busy desk: the time between takes", queue(6, 2), 2 * time.Minute, true},
		{"newest first, as the store lists them", reversed(queue(6, 2)), 2 * time.Minute, true},
		{"an idle desk: each buyer's own wait, not the quiet before they came", []QueueWait{
			{at(0), at(1)}, {at(30), at(31)}, {at(60), at(62)}, {at(90), at(91)}, {at(120), at(121)}, {at(150), at(151)},
		}, time.Minute, true},
		{"a chat given to an agent as it opened says nothing of the queue", append(queue(6, 2),
			QueueWait{at(20), at(20)}, QueueWait{at(21), at(21)}), 2 * time.Minute, true},
		{"the median, not the mean: one long wait does not move it", append(queue(6, 2),
			QueueWait{t0, at(90)}), 2 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := perPlace(tt.waits)
			if got != tt.want || ok != tt.ok {
				t.Errorf("perPlace = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func reversed(ws []QueueWait) []QueueWait {
	out := make([]QueueWait, len(ws))
	for i, w := range ws {
		out[len(ws)-1-i] = w
	}
	return out
}

func TestCleanWords(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "卡密无效", "卡密无效"},
		{"trimmed, line breaks kept", "  第一行\n第二行\t完 ", "第一行\n第二行\t完"},
		{"NUL and other controls go", "a\x00b\x07c\x1b[31md", "abc[31md"},
		{"bidirectional overrides go", "退款\u202e成功\u2066了\u2069", "退款成功了"},
		{"invalid UTF-8 is replaced", "ok\xffok", "ok\uFFFDok"},
		{"nothing left", " \x00\u202e ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cleanWords(tt.in); got != tt.want {
				t.Errorf("cleanWords(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCutRunes(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"短", 3, "短"},
		{"三个字", 3, "三个字"},
		{"四个汉字", 3, "四个…"},
	}
	for _, tt := range tests {
		if got := cutRunes(tt.in, tt.n); got != tt.want {
			t.Errorf("cutRunes(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
