package refund

import (
	"strings"
	"unicode"
)

// Imitates reports whether name, an @username a buyer was given, is made
// to pass for one of the staff's: not exactly a staff username, but one
// to the eye — l, 1, I and | swapped, o and 0, Cyrillic or Greek letters
// that look Latin, full-width letters and digits, an underscore added or
// left out, another case. Scammers register such names to be taken for
// an agent the buyer has already talked to, so a buyer asking about one
// is told whose name it copies, not merely "not staff". An exact staff
// username (in any case) is no imitation.
func Imitates(name string, staff []Agent) (Agent, bool) {
	name = NormalizeUsername(strings.TrimLeft(strings.TrimSpace(name), "@＠"))
	if name == "" {
		return Agent{}, false
	}
	for _, a := range staff {
		if a.Username == name {
			return Agent{}, false
		}
	}
	folded := foldLookalike(name)
	if folded == "" {
		return Agent{}, false
	}
	for _, a := range staff {
		if a.Username != "" && foldLookalike(a.Username) == folded {
			return a, true
		}
	}
	return Agent{}, false
}

// lookalike gives the Latin letter r passes for, or r itself. r is
// lower case: folding lowers first.
func lookalike(r rune) rune {
	switch r {
	case '1', 'i', '|', '!', 'ı', 'і', 'ӏ', 'ι':
		return 'l'
	case '0', 'о', 'ο':
		return 'o'
	// Cyrillic.
	case 'а':
		return 'a'
	case 'е', 'ё':
		return 'e'
	case 'р':
		return 'p'
	case 'с':
		return 'c'
	case 'у':
		return 'y'
	case 'х':
		return 'x'
	case 'к':
		return 'k'
	case 'м':
		return 'm'
	case 'т':
		return 't'
	case 'н':
		return 'h'
	case 'в':
		return 'b'
	case 'ѕ':
		return 's'
	case 'ј':
		return 'j'
	case 'ԁ':
		return 'd'
	// Greek.
	case 'α':
		return 'a'
	case 'ε':
		return 'e'
	case 'κ':
		return 'k'
	case 'ν':
		return 'v'
	case 'ρ':
		return 'p'
	case 'τ':
		return 't'
	case 'υ':
		return 'u'
	}
	return r
}

// foldLookalike reduces a name to what it looks like: full-width forms to
// ASCII, lower case, look-alike letters to one Latin letter, and the
// separators and invisible characters that do not change how it reads
// left out. Two names that fold alike are hard to tell apart on a phone.
func foldLookalike(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E {
			// Full-width ASCII (what NFKC folds): ｃｓ＿ｚｈａｎｇ.
			r -= 0xFEE0
		}
		r = unicode.ToLower(r)
		switch r {
		case '_', '-', '.', '@', ' ', '\u3000', '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
			continue
		}
		b.WriteRune(lookalike(r))
	}
	// Letter pairs that read as one letter in most fonts.
	return strings.NewReplacer("rn", "m", "vv", "w").Replace(b.String())
}
