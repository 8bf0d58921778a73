package desk

import (
	"testing"
	"time"
)

func TestWaitMinutes(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want int
	}{
		{0, 1},
		{10 * time.Second, 1},
		{time.Minute, 1},
		{time.Minute + time.Second, 2},
		{10 * time.Minute, 10},
		{10*time.Minute + time.Second, 15},
		{29 * time.Minute, 30},
		{31 * time.Minute, 40},
		{179 * time.Minute, 180},
	}
	for _, tt := range tests {
		if got := waitMinutes(tt.wait); got != tt.want {
			t.Errorf("waitMinutes(%v) = %d, want %d", tt.wait, got, tt.want)
		}
	}
}
