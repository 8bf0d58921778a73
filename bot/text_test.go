package bot

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
)

// reflectionKeyboard is the keyboard as tgbotapi's types hold it, which
// json.Marshal encoded before keyboardJSON: the reference it must match.
func reflectionKeyboard(rows [][]flows.Button) tgbotapi.InlineKeyboardMarkup {
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

// checkKeyboardJSON fails t unless keyboardJSON(rows) is valid JSON that
// decodes to what json.Marshal's encoding of tgbotapi's keyboard does:
// the same keys, the same strings. It must be valid UTF-8 too, as
// json.Marshal's is: encoding/json reads raw invalid bytes as U+FFFD, but
// Telegram need not.
func checkKeyboardJSON(t *testing.T, rows [][]flows.Button) {
	t.Helper()
	got := keyboardJSON(rows)
	if !utf8.ValidString(got) {
		t.Errorf("keyboardJSON(%q) = %q, not valid UTF-8", rows, got)
	}
	want, err := json.Marshal(reflectionKeyboard(rows))
	if err != nil {
		t.Fatalf("reference encoding: %v", err)
	}
	var gotValue, wantValue any
	if err := json.Unmarshal([]byte(got), &gotValue); err != nil {
		t.Fatalf("keyboardJSON(%q) = %q, not JSON: %v", rows, got, err)
	}
	if err := json.Unmarshal(want, &wantValue); err != nil {
		t.Fatalf("reference %q does not decode: %v", want, err)
	}
	if !reflect.DeepEqual(gotValue, wantValue) {
		t.Errorf("keyboardJSON(%q)\n = %s\ndecodes to %#v\nwant (json.Marshal) %s\ndecoding to %#v", rows, got, gotValue, want, wantValue)
	}
}

func TestKeyboardJSONDecodesAsJSONMarshal(t *testing.T) {
	data := func(text, data string) flows.Button { return flows.Button{Text: text, Data: data} }
	link := func(text, url string) flows.Button { return flows.Button{Text: text, URL: url} }
	tests := []struct {
		name string
		rows [][]flows.Button
	}{
		{"one data button", [][]flows.Button{{data("Yes", "c:yes")}}},
		{"one URL button", [][]flows.Button{{link("Open", "https://shop.example/o?id=1&x=<2>")}}},
		{"URL wins over data", [][]flows.Button{{{Text: "Both", Data: "d", URL: "https://x.example"}}}},
		{"empty data", [][]flows.Button{{data("", "")}}},
		{"rows and columns", [][]flows.Button{
			{data("1⭐", "r:1"), data("2⭐", "r:2"), data("3⭐", "r:3")},
			{link("Help", "https://t.me/shop")},
		}},
		{"empty rows", [][]flows.Button{{}, {data("a", "b")}, nil}},
		{"quotes and backslashes", [][]flows.Button{{data(`say "hi" \ bye \"`, `\\"`)}}},
		{"line breaks and tabs", [][]flows.Button{{data("a\nb\r\nc\td", "\n\t")}}},
		{"control characters", [][]flows.Button{{data("\x00\x01\x07\b\f\x1b\x1f\x7f", "\x00")}}},
		{"HTML characters", [][]flows.Button{{data("<b>&amp;</b>", "<>&")}}},
		{"emoji", [][]flows.Button{{data("👍🏽 OK 🇩🇪", "e:👨‍👩‍👧")}}},
		{"Chinese", [][]flows.Button{{data("原路退回", "退款:余额")}}},
		{"line and paragraph separators", [][]flows.Button{{data("a\u2028b\u2029c", "\u2028")}}},
		{"invalid UTF-8", [][]flows.Button{{data("bad \xff\xfe end", "\xc3"), link("x", "https://x.example/\xe2\x82")}}},
		{"surrogate encoded in UTF-8", [][]flows.Button{{data("\xed\xa0\x80", "ok")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkKeyboardJSON(t, tt.rows) })
	}
}

// TestKeyboardJSON pins the exact text for a few buttons: the field names
// and the escapes Telegram reads.
func TestKeyboardJSON(t *testing.T) {
	tests := []struct {
		name string
		rows [][]flows.Button
		want string
	}{
		{"data and URL", [][]flows.Button{{{Text: "Yes", Data: "c:y"}, {Text: "Site", URL: "https://x.example"}}},
			`{"inline_keyboard":[[{"text":"Yes","callback_data":"c:y"},{"text":"Site","url":"https://x.example"}]]}`},
		{"escapes", [][]flows.Button{{{Text: "\"\\\n\t\x00<", Data: "\xff\u2028"}}},
			`{"inline_keyboard":[[{"text":"\"\\\n\t\u0000\u003c","callback_data":"\ufffd\u2028"}]]}`},
		{"invalid UTF-8", [][]flows.Button{{{Text: "a\xffb", Data: "é\xc3"}}},
			`{"inline_keyboard":[[{"text":"a\ufffdb","callback_data":"é\ufffd"}]]}`},
		{"an empty row", [][]flows.Button{{}},
			`{"inline_keyboard":[[]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyboardJSON(tt.rows); got != tt.want {
				t.Errorf("keyboardJSON(%q)\n = %s\nwant %s", tt.rows, got, tt.want)
			}
		})
	}
}

func TestAddKeyboard(t *testing.T) {
	tests := []struct {
		name string
		rows [][]flows.Button
		want string // "" for no reply_markup
	}{
		{"no rows", nil, ""},
		{"one button", [][]flows.Button{{{Text: "a", Data: "b"}}}, `{"inline_keyboard":[[{"text":"a","callback_data":"b"}]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tgbotapi.Params{}
			addKeyboard(p, tt.rows)
			if got, ok := p["reply_markup"]; got != tt.want || ok != (tt.want != "") {
				t.Errorf("reply_markup = %q (set: %v), want %q", got, ok, tt.want)
			}
		})
	}
}

func BenchmarkKeyboard(b *testing.B) {
	rows := [][]flows.Button{
		{{Text: "✅ Подтвердить", Data: "c:confirm:KM123456"}, {Text: "✏️ Изменить", Data: "c:edit:KM123456"}},
		{{Text: "Условия возврата", URL: "https://shop.example/refund-policy"}},
	}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(reflectionKeyboard(rows)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("keyboardJSON", func(b *testing.B) {
		for b.Loop() {
			_ = keyboardJSON(rows)
		}
	})
}
