package refund

import (
	"fmt"
	"strings"
)

// Money is an amount in cents (分). Floats never hold money here.
type Money int64

// maxMoney bounds parsed amounts far above any 卡盟 order (¥10 billion) so that
// arithmetic on sums of amounts cannot overflow.
const maxMoney = Money(1_000_000_000_000)

// ParseMoney parses a decimal amount such as "95", "95.5" or "95.00" into
// cents. It refuses negatives, more than two decimals, and exponents.
func ParseMoney(s string) (Money, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("parse money %q: empty", s)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, fmt.Errorf("parse money %q: want digits with at most two decimals", s)
	}
	var cents Money
	for _, r := range whole {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("parse money %q: want digits with at most two decimals", s)
		}
		cents = cents*10 + Money(r-'0')
		if cents > maxMoney {
			return 0, fmt.Errorf("parse money %q: too large", s)
		}
	}
	cents *= 100
	for i, r := range frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("parse money %q: want digits with at most two decimals", s)
		}
		if i == 0 {
			cents += Money(r-'0') * 10
		} else {
			cents += Money(r - '0')
		}
	}
	if cents > maxMoney {
		return 0, fmt.Errorf("parse money %q: too large", s)
	}
	return cents, nil
}

// String formats the amount as a plain decimal, e.g. "95.00".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign = "-"
		m = -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/100, m%100)
}
