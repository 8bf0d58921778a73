package telegramfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Telegram's limits, counted in UTF-16 code units after entities are parsed.
const (
	maxTextLen         = 4096
	maxCaptionLen      = 1024
	maxCallbackDataLen = 64 // bytes
)

// jsonOf encodes v the way Telegram writes objects: absent fields are left out rather than null
// (tgbotapi's structs marshal some optional fields as null), and <, >, & are not escaped.
func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the fake's own values are encoded here; none of them can fail.
		panic(fmt.Sprintf("telegramfake: encoding %T: %v", v, err))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keeps 64-bit ids exact
	var tree any
	if err := dec.Decode(&tree); err != nil {
		panic(fmt.Sprintf("telegramfake: re-decoding %T: %v", v, err))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(dropNulls(tree)); err != nil {
		panic(fmt.Sprintf("telegramfake: encoding %T: %v", v, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
			} else {
				t[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
	}
	return v
}

// utf16Len measures text the way Telegram's limits and entity offsets do.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// render applies parse_mode as Telegram does before it measures and stores a text.
func render(text, parseMode string) (string, []tgbotapi.MessageEntity, *apiError) {
	switch strings.ToLower(parseMode) {
	case "":
		return text, nil, nil
	case "html":
		plain, ents, err := parseHTML(text)
		if err != nil {
			return "", nil, badRequest("can't parse entities: " + err.Error())
		}
		return plain, ents, nil
	case "markdown", "markdownv2":
		return text, nil, nil // accepted, not modelled
	default:
		return "", nil, badRequest("unsupported parse_mode")
	}
}

func checkText(plain string) *apiError {
	if strings.TrimSpace(plain) == "" {
		return badRequest("message text is empty")
	}
	if utf16Len(plain) > maxTextLen {
		return badRequest("message is too long")
	}
	return nil
}

func checkCaption(plain string) *apiError {
	if utf16Len(plain) > maxCaptionLen {
		return badRequest("message caption is too long")
	}
	return nil
}

// htmlEntityType maps the tags Telegram's HTML parse mode accepts to the entities they make.
func htmlEntityType(tag string) (string, bool) {
	switch tag {
	case "b", "strong":
		return "bold", true
	case "i", "em":
		return "italic", true
	case "u", "ins":
		return "underline", true
	case "s", "strike", "del":
		return "strikethrough", true
	case "code":
		return "code", true
	case "pre":
		return "pre", true
	case "a":
		return "text_link", true
	case "tg-spoiler":
		return "spoiler", true
	case "blockquote":
		return "blockquote", true
	}
	return "", false
}

var hrefAttr = regexp.MustCompile(`(?i)(?:^|\s)href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))`)

// parseHTML turns Telegram-HTML into plain text and entities. It is stricter than Telegram in one
// way, on purpose: a bare '>' or an '&' that starts no entity is rejected, although Telegram
// passes them through, because the same missing escape breaks on '<', which Telegram rejects.
func parseHTML(s string) (string, []tgbotapi.MessageEntity, error) {
	type openTag struct {
		name, typ, url string
		offset         int
	}
	var (
		plain strings.Builder
		n16   int // length of plain in UTF-16 units: entity offsets are counted in them
		open  []openTag
		ents  []tgbotapi.MessageEntity
	)
	for i := 0; i < len(s); {
		next := strings.IndexAny(s[i:], "<>&")
		if next != 0 {
			if next < 0 {
				next = len(s) - i
			}
			plain.WriteString(s[i : i+next])
			n16 += utf16Len(s[i : i+next])
			i += next
			continue
		}
		switch s[i] {
		case '>':
			return "", nil, fmt.Errorf("character '>' at byte offset %d must be escaped as &gt;", i)
		case '&':
			r, n, ok := decodeHTMLEntity(s[i:])
			if !ok {
				return "", nil, fmt.Errorf("character '&' at byte offset %d must be escaped as &amp;", i)
			}
			plain.WriteRune(r)
			n16 += utf16Len(string(r))
			i += n
			continue
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", i)
		}
		tag := s[i+1 : i+end]
		if closing, ok := strings.CutPrefix(tag, "/"); ok {
			name := strings.ToLower(strings.TrimSpace(closing))
			if len(open) == 0 {
				return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", i)
			}
			top := open[len(open)-1]
			if name != top.name {
				return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, top.name, name)
			}
			open = open[:len(open)-1]
			if top.typ != "" && n16 > top.offset {
				ents = append(ents, tgbotapi.MessageEntity{Type: top.typ, Offset: top.offset, Length: n16 - top.offset, URL: top.url})
			}
		} else {
			name, attrs := tag, ""
			if sp := strings.IndexFunc(tag, unicode.IsSpace); sp >= 0 {
				name, attrs = tag[:sp], tag[sp:]
			}
			name = strings.ToLower(name)
			typ, ok := htmlEntityType(name)
			if !ok {
				return "", nil, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, i)
			}
			t := openTag{name: name, typ: typ, offset: n16}
			if name == "a" {
				m := hrefAttr.FindStringSubmatch(attrs)
				if m == nil {
					t.typ = "" // Telegram ignores a link without a target
				} else {
					t.url = html.UnescapeString(m[1] + m[2] + m[3])
				}
			}
			open = append(open, t)
		}
		i += end + 1
	}
	if len(open) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", open[len(open)-1].name)
	}
	sort.SliceStable(ents, func(a, b int) bool {
		if ents[a].Offset != ents[b].Offset {
			return ents[a].Offset < ents[b].Offset
		}
		return ents[a].Length > ents[b].Length
	})
	return plain.String(), ents, nil
}

// decodeHTMLEntity decodes the entities Telegram supports: &lt; &gt; &amp; &quot; and numeric ones.
func decodeHTMLEntity(s string) (rune, int, bool) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 12 {
		return 0, 0, false
	}
	name := s[1:end]
	switch name {
	case "lt":
		return '<', end + 1, true
	case "gt":
		return '>', end + 1, true
	case "amp":
		return '&', end + 1, true
	case "quot":
		return '"', end + 1, true
	}
	num, ok := strings.CutPrefix(name, "#")
	if !ok {
		return 0, 0, false
	}
	base := 10
	if hex, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
		num, base = hex, 16
	}
	n, err := strconv.ParseUint(num, base, 32)
	if err != nil || n == 0 || !utf8.ValidRune(rune(n)) {
		return 0, 0, false
	}
	return rune(n), end + 1, true
}

// parseMarkup reads a reply_markup parameter. Only an inline keyboard stays attached to a message;
// remove_keyboard is reported so tests can see the bot asked for it.
func parseMarkup(raw string) (*tgbotapi.InlineKeyboardMarkup, bool, *apiError) {
	if raw == "" || raw == "null" {
		return nil, false, nil
	}
	var shape struct {
		InlineKeyboard [][]map[string]json.RawMessage `json:"inline_keyboard"`
		RemoveKeyboard bool                           `json:"remove_keyboard"`
	}
	var kb tgbotapi.InlineKeyboardMarkup
	if json.Unmarshal([]byte(raw), &shape) != nil || json.Unmarshal([]byte(raw), &kb) != nil {
		return nil, false, badRequest("can't parse reply keyboard markup JSON object")
	}
	if len(shape.InlineKeyboard) == 0 {
		return nil, shape.RemoveKeyboard, nil
	}
	for _, row := range shape.InlineKeyboard {
		for _, b := range row {
			if aerr := checkButton(b); aerr != nil {
				return nil, false, aerr
			}
		}
	}
	return &kb, shape.RemoveKeyboard, nil
}

func checkButton(b map[string]json.RawMessage) *apiError {
	var text string
	if json.Unmarshal(b["text"], &text) != nil || text == "" {
		return badRequest("can't parse inline keyboard button: Text must be non-empty")
	}
	if raw, ok := b["callback_data"]; ok {
		var data string
		if json.Unmarshal(raw, &data) != nil || data == "" || len(data) > maxCallbackDataLen {
			return badRequest("BUTTON_DATA_INVALID")
		}
		return nil
	}
	for _, action := range []string{"url", "web_app", "login_url", "switch_inline_query",
		"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
		"callback_game", "pay"} {
		if _, ok := b[action]; ok {
			return nil
		}
	}
	return badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
}

func buttonsOf(kb *tgbotapi.InlineKeyboardMarkup) [][]Button {
	if kb == nil {
		return nil
	}
	rows := make([][]Button, len(kb.InlineKeyboard))
	for i, row := range kb.InlineKeyboard {
		rows[i] = make([]Button, len(row))
		for j, b := range row {
			rows[i][j].Text = b.Text
			if b.CallbackData != nil {
				rows[i][j].CallbackData = *b.CallbackData
			}
			if b.URL != nil {
				rows[i][j].URL = *b.URL
			}
		}
	}
	return rows
}

// commandEntities marks a leading bot command the way Telegram does: '/' then up to 32 Latin
// letters, digits or underscores, optionally followed by "@" and a bot's username.
func commandEntities(text string) []tgbotapi.MessageEntity {
	if !strings.HasPrefix(text, "/") {
		return nil
	}
	n := 1 + wordLen(text[1:])
	if n == 1 || n > 33 {
		return nil
	}
	if rest, ok := strings.CutPrefix(text[n:], "@"); ok {
		if u := wordLen(rest); u >= 3 {
			n += 1 + u
		}
	}
	return []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: n}} // ASCII: bytes = UTF-16 units
}

func wordLen(s string) int {
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return n
}
