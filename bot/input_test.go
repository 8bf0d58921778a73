package bot

import (
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

func TestParseCommandSurvivesForgedEntities(t *testing.T) {
	tests := []struct {
		name             string
		text             string
		length           int
		cmd, target, arg string
		ok               bool
	}{
		{"plain", "/status R-000123", 7, "status", "", "R-000123", true},
		{"addressed", "/refund@refund_test_bot KM1", 23, "refund", "refund_test_bot", "KM1", true},
		{"upper case", "/HELP", 5, "help", "", "", true},
		{"unicode args", "/refund 我要退款", 7, "refund", "", "我要退款", true},
		{"entity longer than text", "/a", 100, "", "", "", false},
		{"entity of one unit", "/", 1, "", "", "", false},
		{"negative length", "/abc", -3, "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &tgbotapi.Message{Text: tt.text, Entities: []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: tt.length}}}
			cmd, target, arg, ok := parseCommand(m)
			if ok != tt.ok || cmd != tt.cmd || target != tt.target || arg != tt.arg {
				t.Fatalf("parseCommand(%q) = %q %q %q %v; want %q %q %q %v", tt.text, cmd, target, arg, ok, tt.cmd, tt.target, tt.arg, tt.ok)
			}
		})
	}
}

func TestToInput(t *testing.T) {
	private := &tgbotapi.Chat{ID: 5, Type: "private"}
	from := &tgbotapi.User{ID: 5, FirstName: "A", LanguageCode: "en"}
	tests := []struct {
		name        string
		update      tgbotapi.Update
		ok          bool
		files       int
		unsupported string
	}{
		{"text", tgbotapi.Update{UpdateID: 1, Message: &tgbotapi.Message{Chat: private, From: from, Text: "hi"}}, true, 0, ""},
		{"photo keeps the largest size", tgbotapi.Update{UpdateID: 2, Message: &tgbotapi.Message{Chat: private, From: from,
			Photo: []tgbotapi.PhotoSize{{FileID: "small", FileUniqueID: "s"}, {FileID: "big", FileUniqueID: "b"}}}}, true, 1, ""},
		{"sticker", tgbotapi.Update{UpdateID: 3, Message: &tgbotapi.Message{Chat: private, From: from, Sticker: &tgbotapi.Sticker{}}}, true, 0, "sticker"},
		{"service message", tgbotapi.Update{UpdateID: 4, Message: &tgbotapi.Message{Chat: private, From: from}}, false, 0, ""},
		{"no sender", tgbotapi.Update{UpdateID: 5, Message: &tgbotapi.Message{Chat: private, Text: "x"}}, false, 0, ""},
		{"channel post", tgbotapi.Update{UpdateID: 6, Message: &tgbotapi.Message{Chat: &tgbotapi.Chat{ID: -1, Type: "channel"}, From: from, Text: "x"}}, false, 0, ""},
		{"callback without message", tgbotapi.Update{UpdateID: 7, CallbackQuery: &tgbotapi.CallbackQuery{ID: "q", From: from, Data: "m:refund"}}, true, 0, ""},
		{"edited message is ignored", tgbotapi.Update{UpdateID: 8, EditedMessage: &tgbotapi.Message{Chat: private, From: from, Text: "x"}}, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, ok := toInput(tt.update)
			if ok != tt.ok || len(it.in.Files) != tt.files || it.in.Unsupported != tt.unsupported {
				t.Fatalf("toInput = %+v, %v", it.in, ok)
			}
			if tt.files == 1 && it.in.Files[0].FileID != "big" {
				t.Fatalf("kept %q, want the largest photo size", it.in.Files[0].FileID)
			}
		})
	}
}

func TestMergeAlbums(t *testing.T) {
	photo := func(id int, group string) item {
		u := tgbotapi.Update{UpdateID: id, Message: &tgbotapi.Message{Chat: &tgbotapi.Chat{ID: 1, Type: "private"},
			From: &tgbotapi.User{ID: 1}, MediaGroupID: group,
			Photo: []tgbotapi.PhotoSize{{FileID: "f", FileUniqueID: string(rune('a' + id))}}}}
		it, _ := toInput(u)
		return it
	}
	text, _ := toInput(tgbotapi.Update{UpdateID: 9, Message: &tgbotapi.Message{Chat: &tgbotapi.Chat{ID: 1, Type: "private"}, From: &tgbotapi.User{ID: 1}, Text: "x"}})
	got := mergeAlbums([]item{photo(1, "g1"), photo(2, "g1"), photo(3, "g1"), text, photo(4, "g2"), photo(5, ""), photo(6, "")})
	want := []int{3, 0, 1, 1, 1} // files per input: album, text, other album, two single photos
	if len(got) != len(want) {
		t.Fatalf("got %d inputs, want %d", len(got), len(want))
	}
	for i, in := range got {
		if len(in.Files) != want[i] {
			t.Errorf("input %d has %d files, want %d", i, len(in.Files), want[i])
		}
	}
	if ids := got[0].UpdateIDs; len(ids) != 3 || ids[0] != 1 || ids[2] != 3 {
		t.Errorf("merged update IDs = %v", ids)
	}
}
