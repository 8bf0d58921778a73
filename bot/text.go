package bot

import (
	"encoding/json"
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
	b, _ := json.Marshal(keyboard(rows)) // strings and pointers to strings: cannot fail
	p["reply_markup"] = string(b)
}

func keyboard(rows [][]flows.Button) tgbotapi.InlineKeyboardMarkup {
	kb := make([][]tgbotapi.InlineKeyboardButton, 0, len(rows))
	for _, row := range rows {
		r := make([]tgbotapi.InlineKeyboardButton, 0, len(row))
		for _, b := range row {
			if b.URL != "" {
				r = append(r, tgbotapi.NewInlineKeyboardButtonURL(b.Text, b.URL))
			} else {
				r = append(r, tgbotapi.NewInlineKeyboardButtonData(b.Text, b.Data))
			}
		}
		kb = append(kb, r)
	}
	return tgbotapi.InlineKeyboardMarkup{InlineKeyboard: kb}
}
