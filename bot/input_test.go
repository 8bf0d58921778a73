package bot

import (
	"context"
	"encoding/json"
	"fmt"
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
			it, ok := toInput(update{Update: tt.update})
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
			it, ok := toInput(update{Update: tt.update})
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

// onlyInput polls from updateID the way the loop does and converts the one
// update that comes.
func onlyInput(t *testing.T, api *tgbotapi.BotAPI, updateID int) flows.Input {
	t.Helper()
	ups, err := (&Poller{api: api}).poll(updateID, 0)
	if err != nil || len(ups) != 1 || ups[0].UpdateID != updateID {
		t.Fatalf("poll = %+v, %v; want update %d", ups, err, updateID)
	}
	it, ok := toInput(ups[0])
	if !ok {
		t.Fatal("update ignored")
	}
	return it.in
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
			in := onlyInput(t, api, tt.act())
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
		it, _ := toInput(update{Update: u})
		return it
	}
	text, _ := toInput(update{Update: tgbotapi.Update{UpdateID: 9, Message: &tgbotapi.Message{Chat: &tgbotapi.Chat{ID: 1, Type: "private"}, From: &tgbotapi.User{ID: 1}, Text: "x"}}})
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

// TestToInputForum covers what tgbotapi cannot decode: the forum fields
// read beside it from the same update.
func TestToInputForum(t *testing.T) {
	forum := &tgbotapi.Chat{ID: -1003, Type: "supergroup", Title: "Desk"}
	kim := &tgbotapi.User{ID: 7, FirstName: "Kim"}
	opening := &tgbotapi.Message{MessageID: 40, Chat: forum}
	card := &tgbotapi.Message{MessageID: 41, Chat: forum}
	inTopic := func(thread int, replyTo *tgbotapi.Message, opensTopic bool) update {
		m := tgbotapi.Message{MessageID: 50, Chat: forum, From: kim, Text: "hi", ReplyToMessage: replyTo}
		tm := &topicMessage{MessageThreadID: thread, IsTopicMessage: true}
		if replyTo != nil {
			tm.ReplyToMessage = &topicReply{}
			if opensTopic {
				tm.ReplyToMessage.ForumTopicCreated = &struct{}{}
			}
		}
		return update{Update: tgbotapi.Update{UpdateID: 1, Message: &m}, forum: forumFields{UpdateID: 1, Message: tm}}
	}
	replyThread := inTopic(41, card, false) // a thread of replies in a group that is no forum
	replyThread.forum.Message.IsTopicMessage = false
	callback := func(tm *topicMessage) update {
		q := tgbotapi.CallbackQuery{ID: "q", From: kim, Data: "d", Message: card}
		f := forumFields{UpdateID: 2, CallbackQuery: &topicCallback{Message: tm}}
		return update{Update: tgbotapi.Update{UpdateID: 2, CallbackQuery: &q}, forum: f}
	}
	tests := []struct {
		name        string
		update      update
		wantThread  int
		wantReplyTo int
	}{
		{"topic message: the implicit reply is dropped", inTopic(40, opening, true), 40, 0},
		{"reply inside a topic", inTopic(40, card, false), 40, 41},
		{"topic message without reply_to_message", inTopic(40, nil, false), 40, 0},
		{"thread of replies outside forums", replyThread, 0, 41},
		{"callback on a topic message", callback(&topicMessage{MessageThreadID: 40, IsTopicMessage: true}), 40, 0},
		{"callback outside topics", callback(nil), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, ok := toInput(tt.update)
			if !ok {
				t.Fatal("update ignored")
			}
			if it.in.ThreadID != tt.wantThread || it.in.ReplyToMessageID != tt.wantReplyTo {
				t.Errorf("thread %d, reply to %d; want %d, %d", it.in.ThreadID, it.in.ReplyToMessageID, tt.wantThread, tt.wantReplyTo)
			}
		})
	}
}

// TestToInputInTopicFromTheWire polls forum updates the way the loop does,
// from messages the fake writes as Telegram does.
func TestToInputInTopicFromTheWire(t *testing.T) {
	srv, s := startSender(t)
	srv.AddChat(forumChat)
	ctx := context.Background()
	thread, err := s.CreateTopic(ctx, forumChat.ID, "#1 R-000001")
	if err != nil {
		t.Fatal(err)
	}
	card, err := s.Post(ctx, forumChat.ID, flows.Message{Text: "Case R-1", ThreadID: thread, Buttons: twoButtons})
	if err != nil {
		t.Fatal(err)
	}
	agent := telegramfake.User{ID: 7, FirstName: "Kim"}
	// In a group that is no forum, Telegram gives a reply's thread a
	// message_thread_id too, without is_topic_message.
	repliesThread := fmt.Sprintf(`{"update_id": %%d, "message": {"message_id": 900, "date": 1700000000, "text": "re",
		"message_thread_id": 800, "from": {"id": 7, "is_bot": false, "first_name": "Kim"},
		"chat": {"id": %d, "type": "supergroup", "title": "Agents"},
		"reply_to_message": {"message_id": 800, "date": 1700000000, "text": "x", "chat": {"id": %d, "type": "supergroup"}}}}`,
		teamChat.ID, teamChat.ID)

	tests := []struct {
		name         string
		act          func() int
		wantThread   int
		wantReplyTo  int
		wantFiles    int
		wantCallback bool
	}{
		{"text", func() int { id, _ := srv.SendTextInTopic(forumChat, agent, thread, "/take"); return id }, thread, 0, 0, false},
		{"reply to the card", func() int { id, _ := srv.ReplyTextInTopic(forumChat, agent, thread, card, "on it"); return id }, thread, card, 0, false},
		{"photo", func() int {
			id, _ := srv.SendPhotoInTopic(forumChat, agent, thread, []byte("jpeg"), "label", "")
			return id
		}, thread, 0, 1, false},
		{"General topic", func() int { id, _ := srv.SendText(forumChat, agent, "hi all"); return id }, 0, 0, 0, false},
		{"button on the card", func() int { id, _ := srv.PressButton(forumChat, agent, card, "desk:take:1"); return id }, thread, 0, 0, true},
		{"thread of replies outside forums", func() int {
			id := 1000
			if err := srv.EnqueueRaw(json.RawMessage(fmt.Sprintf(repliesThread, id))); err != nil {
				t.Fatal(err)
			}
			return id
		}, 0, 800, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := onlyInput(t, s.api, tt.act())
			if in.ThreadID != tt.wantThread || in.ReplyToMessageID != tt.wantReplyTo || len(in.Files) != tt.wantFiles ||
				(in.Callback != nil) != tt.wantCallback {
				t.Errorf("input = %+v; want thread %d, reply to %d", in, tt.wantThread, tt.wantReplyTo)
			}
		})
	}
}
