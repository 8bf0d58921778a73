package bot

import (
	"reflect"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/flows"
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

// TestToInputSender covers who wrote a message, what it answers and where
// it was forwarded from.
func TestToInputSender(t *testing.T) {
	team := &tgbotapi.Chat{ID: -1001, Type: "supergroup", Title: "Agents"}
	kim := &tgbotapi.User{ID: 7, FirstName: "Kim", LastName: "Lee", UserName: "kim_cs", LanguageCode: "ko"}
	msg := func(m tgbotapi.Message) tgbotapi.Update {
		m.Chat, m.From = team, kim
		if m.Text == "" {
			m.Text = "hello"
		}
		return tgbotapi.Update{UpdateID: 1, Message: &m}
	}
	tests := []struct {
		name         string
		update       tgbotapi.Update
		wantReplyTo  int
		wantForward  *flows.Forward
		wantCommand  string
		wantCallback bool
	}{
		{"plain message", msg(tgbotapi.Message{}), 0, nil, "", false},
		{"reply", msg(tgbotapi.Message{ReplyToMessage: &tgbotapi.Message{MessageID: 42, Chat: team}}), 42, nil, "", false},
		{"reply with a command", msg(tgbotapi.Message{Text: "/take", Entities: []tgbotapi.MessageEntity{{Type: "bot_command", Length: 5}},
			ReplyToMessage: &tgbotapi.Message{MessageID: 43}}), 43, nil, "take", false},
		{"forward from a visible account", msg(tgbotapi.Message{ForwardDate: 1, ForwardFrom: &tgbotapi.User{ID: 9, FirstName: "Sam", LastName: "Park", UserName: "sam"}}),
			0, &flows.Forward{UserID: 9, Username: "sam", Name: "Sam Park"}, "", false},
		{"forward from a hidden account", msg(tgbotapi.Message{ForwardDate: 1, ForwardSenderName: "Support Team"}),
			0, &flows.Forward{Name: "Support Team", Hidden: true}, "", false},
		{"forward from a channel", msg(tgbotapi.Message{ForwardDate: 1, ForwardFromChat: &tgbotapi.Chat{ID: -1002, Type: "channel", Title: "Shop News", UserName: "shopnews"}}),
			0, &flows.Forward{Username: "shopnews", Name: "Shop News"}, "", false},
		{"callback", tgbotapi.Update{UpdateID: 2, CallbackQuery: &tgbotapi.CallbackQuery{ID: "q", From: kim, Data: "d",
			Message: &tgbotapi.Message{MessageID: 44, Chat: team}}}, 0, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, ok := toInput(tt.update)
			if !ok {
				t.Fatal("update ignored")
			}
			in := it.in
			if in.UserID != 7 || in.FirstName != "Kim" || in.LastName != "Lee" || in.Username != "kim_cs" || in.LanguageCode != "ko" ||
				in.ChatID != team.ID || in.Chat != flows.ChatGroup {
				t.Errorf("sender = %+v", in)
			}
			if in.ReplyToMessageID != tt.wantReplyTo || !reflect.DeepEqual(in.Forward, tt.wantForward) || in.Command != tt.wantCommand ||
				(in.Callback != nil) != tt.wantCallback {
				t.Errorf("reply to %d, forward %+v, command %q, callback %+v; want %d, %+v, %q, %v",
					in.ReplyToMessageID, in.Forward, in.Command, in.Callback, tt.wantReplyTo, tt.wantForward, tt.wantCommand, tt.wantCallback)
			}
		})
	}
}

// TestToInputFromTheWire reads updates as the fake Telegram writes them,
// so the fields are the ones the real API fills.
func TestToInputFromTheWire(t *testing.T) {
	srv, api := startFake(t)
	team := telegramfake.Chat{ID: -1009, Type: "supergroup", Title: "Agents"}
	agent := telegramfake.User{ID: 7, FirstName: "Kim", LastName: "Lee", Username: "kim_cs"}
	buyer := telegramfake.User{ID: 8, FirstName: "Bo"}
	srv.AddChat(team)
	card, err := api.Send(tgbotapi.NewMessage(team.ID, "Case R-1"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		act         func() int
		wantReplyTo int
		wantForward *flows.Forward
		wantFiles   int
	}{
		{"reply text", func() int { id, _ := srv.ReplyText(team, agent, card.MessageID, "on it"); return id }, card.MessageID, nil, 0},
		{"reply photo", func() int {
			id, _ := srv.ReplyPhoto(team, agent, card.MessageID, []byte("jpeg"), "label")
			return id
		}, card.MessageID, nil, 1},
		{"forward, visible", func() int { id, _ := srv.ForwardText(team, agent, buyer, false, "hi"); return id }, 0,
			&flows.Forward{UserID: 8, Name: "Bo"}, 0},
		{"forward, hidden", func() int { id, _ := srv.ForwardText(team, agent, buyer, true, "hi"); return id }, 0,
			&flows.Forward{Name: "Bo", Hidden: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.act()
			ups, err := api.GetUpdates(tgbotapi.UpdateConfig{Offset: id})
			if err != nil || len(ups) != 1 {
				t.Fatalf("GetUpdates = %+v, %v", ups, err)
			}
			it, ok := toInput(ups[0])
			if !ok {
				t.Fatal("update ignored")
			}
			in := it.in
			if in.LastName != "Lee" || in.Username != "kim_cs" || in.Chat != flows.ChatGroup || in.ReplyToMessageID != tt.wantReplyTo ||
				!reflect.DeepEqual(in.Forward, tt.wantForward) || len(in.Files) != tt.wantFiles {
				t.Errorf("input = %+v, forward %+v", in, in.Forward)
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
