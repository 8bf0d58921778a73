package bot

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
)

// Message text cut to Telegram's sizes, and inline keyboards.

// splitText cuts text into messages of at most limit UTF-16 units.
// Parts made only of whitespace are dropped, since Telegram refuses them;
// text that fits, even empty, is returned unchanged, so Telegram's own
// answer for it stays what the caller sees.
func splitText(text string, limit int) []string {
	var parts []string
	for rest := text; ; {
		head, tail := cutText(rest, limit)
		if tail == "" {
			if len(parts) == 0 || strings.TrimSpace(head) != "" {
				parts = append(parts, head)
			}
			return parts
		}
		if strings.TrimSpace(head) != "" {
			parts = append(parts, head)
		}
		rest = tail
	}
}

// cutText returns the longest start of text within limit UTF-16 units and
// the rest. It cuts after a line, or else between words, when one ends in
// the second half of that start, dropping the line break or space there;
// otherwise it cuts between characters, never inside a surrogate pair. The
// rest starts without whitespace, which Telegram would strip anyway.
func cutText(text string, limit int) (head, tail string) {
	end, units := 0, 0
	for end < len(text) {
		r, size := utf8.DecodeRuneInString(text[end:])
		w := utf16.RuneLen(r) // DecodeRuneInString yields no surrogates, so never -1
		if units+w > limit {
			break
		}
		units += w
		end += size
	}
	if end == len(text) {
		return text, ""
	}
	head, tail = text[:end], text[end:]
	for _, sep := range []string{"\n", " "} {
		if i := strings.LastIndex(head, sep); i > end/2 {
			head, tail = text[:i], text[i+len(sep):]
			break
		}
	}
	return head, strings.TrimLeftFunc(tail, unicode.IsSpace)
}

// addKeyboard attaches rows as an inline keyboard, if there are any.
func addKeyboard(p tgbotapi.Params, rows [][]flows.Button) {
	if len(rows) == 0 {
		return
	}
	p["reply_markup"] = keyboardJSON(rows)
}

// keyboardJSON is rows as Telegram's InlineKeyboardMarkup, the JSON that
// json.Marshal gives for tgbotapi's types: a button with a URL opens it,
// any other sends its data back. It is written by hand because
// json.Marshal walks tgbotapi's many optional fields by reflection, which
// was 4% of the bot's CPU for a string it builds on nearly every send.
func keyboardJSON(rows [][]flows.Button) string {
	size := len(`{"inline_keyboard":[]}`)
	for _, row := range rows {
		size += len(`[],`)
		for _, b := range row {
			size += len(`{"text":"","callback_data":""},`) + len(b.Text) + len(b.Data) + len(b.URL)
		}
	}
	var out strings.Builder
	out.Grow(size) // enough unless something needs escaping
	out.WriteString(`{"inline_keyboard":[`)
	for i, row := range rows {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteByte('[')
		for j, b := range row {
			if j > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"text":`)
			writeJSONString(&out, b.Text)
			if b.URL != "" {
				out.WriteString(`,"url":`)
				writeJSONString(&out, b.URL)
			} else {
				out.WriteString(`,"callback_data":`)
				writeJSONString(&out, b.Data)
			}
			out.WriteByte('}')
		}
		out.WriteByte(']')
	}
	out.WriteString(`]}`)
	return out.String()
}

// writeJSONString writes s as a JSON string the way encoding/json does:
// quote, backslash and control characters escaped, <, > and & as \u003c
// and so on, U+2028 and U+2029 escaped for JavaScript, and every byte
// that is not valid UTF-8 as \ufffd.
func writeJSONString(out *strings.Builder, s string) {
	out.WriteByte('"')
	if jsonPlain(s) {
		out.WriteString(s)
	} else {
		writeJSONEscaped(out, s)
	}
	out.WriteByte('"')
}

// jsonPlain reports whether s goes into JSON as it is: no byte of it
// needs escaping. Most button texts and data do, and this test is quicker
// than escaping rune by rune.
func jsonPlain(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
		} else if !jsonPlainASCII(c) {
			return false
		}
	}
	return ascii || utf8.ValidString(s) && !strings.Contains(s, "\u2028") && !strings.Contains(s, "\u2029")
}

// jsonPlainASCII reports whether an ASCII byte goes into a JSON string as
// it is, as encoding/json writes it.
func jsonPlainASCII(c byte) bool {
	return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// writeJSONEscaped writes s, escaped, between the quotes.
func writeJSONEscaped(out *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	start := 0 // s[start:i] is waiting to be written as it is
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonPlainASCII(c) {
				i++
				continue
			}
			out.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				out.WriteByte('\\')
				out.WriteByte(c)
			case '\b':
				out.WriteString(`\b`)
			case '\f':
				out.WriteString(`\f`)
			case '\n':
				out.WriteString(`\n`)
			case '\r':
				out.WriteString(`\r`)
			case '\t':
				out.WriteString(`\t`)
			default: // other control characters, and <, > and &
				out.WriteString(`\u00`)
				out.WriteByte(hex[c>>4])
				out.WriteByte(hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out.WriteString(s[start:i])
			out.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			out.WriteString(s[start:i])
			out.WriteString(`\u202`)
			out.WriteByte(hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	out.WriteString(s[start:])
}
