package telegramfake_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

var forum = telegramfake.Chat{ID: -1009876543210, Type: "supergroup", Title: "Refund desk", IsForum: true}

// rawMessage is what the forum tests read of a message's JSON; tgbotapi 5.5.1 decodes none of the
// forum fields, so a bot must read them this way too.
type rawMessage struct {
	MessageID       int    `json:"message_id"`
	Text            string `json:"text"`
	MessageThreadID int    `json:"message_thread_id"`
	IsTopicMessage  bool   `json:"is_topic_message"`
	Chat            struct {
		ID      int64 `json:"id"`
		IsForum bool  `json:"is_forum"`
	} `json:"chat"`
	ForumTopicCreated *struct {
		Name      string `json:"name"`
		IconColor int    `json:"icon_color"`
	} `json:"forum_topic_created"`
	ReplyToMessage *rawMessage `json:"reply_to_message"`
}

type rawUpdate struct {
	UpdateID      int         `json:"update_id"`
	Message       *rawMessage `json:"message"`
	CallbackQuery *struct {
		Message *rawMessage `json:"message"`
	} `json:"callback_query"`
}

func call(t *testing.T, bot *tgbotapi.BotAPI, method string, p tgbotapi.Params, into any) error {
	t.Helper()
	resp, err := bot.MakeRequest(method, p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Result, into); err != nil {
		t.Fatalf("%s answered %s: %v", method, resp.Result, err)
	}
	return nil
}

// onlyRawUpdate polls from updateID and returns that one update as raw JSON fields.
func onlyRawUpdate(t *testing.T, bot *tgbotapi.BotAPI, updateID int) rawUpdate {
	t.Helper()
	var ups []rawUpdate
	if err := call(t, bot, "getUpdates", tgbotapi.Params{"offset": strconv.Itoa(updateID)}, &ups); err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].UpdateID != updateID {
		t.Fatalf("getUpdates = %+v; want update %d", ups, updateID)
	}
	return ups[0]
}

func chatParam(id int64) string { return strconv.FormatInt(id, 10) }

// openTopic creates a topic in forum and returns its message_thread_id.
func openTopic(t *testing.T, bot *tgbotapi.BotAPI, name string) int {
	t.Helper()
	var topic struct {
		MessageThreadID int `json:"message_thread_id"`
	}
	if err := call(t, bot, "createForumTopic", tgbotapi.Params{"chat_id": chatParam(forum.ID), "name": name}, &topic); err != nil {
		t.Fatal(err)
	}
	return topic.MessageThreadID
}

// topicMessage checks the fields Telegram puts on every message of topic thread.
func topicMessage(t *testing.T, m *rawMessage, thread, wantReplyTo int) {
	t.Helper()
	if m == nil {
		t.Fatal("no message")
	}
	if m.MessageThreadID != thread || !m.IsTopicMessage {
		t.Errorf("message_thread_id %d, is_topic_message %v; want %d, true", m.MessageThreadID, m.IsTopicMessage, thread)
	}
	if m.ReplyToMessage == nil || m.ReplyToMessage.MessageID != wantReplyTo {
		t.Fatalf("reply_to_message = %+v, want message %d", m.ReplyToMessage, wantReplyTo)
	}
	if opensTopic := m.ReplyToMessage.ForumTopicCreated != nil; opensTopic != (wantReplyTo == thread) {
		t.Errorf("reply_to_message has forum_topic_created %+v, want it only on the topic's opening", m.ReplyToMessage.ForumTopicCreated)
	}
	if m.ReplyToMessage.ReplyToMessage != nil {
		t.Error("reply_to_message nests more than one level")
	}
}

func TestGetChatIsForum(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	tests := []struct {
		name string
		chat telegramfake.Chat
		want bool
	}{
		{"forum", forum, true},
		{"supergroup without topics", teamChat, false},
		{"private chat", aliceChat, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.AddChat(tt.chat)
			var chat struct {
				ID      int64 `json:"id"`
				IsForum *bool `json:"is_forum"`
			}
			if err := call(t, bot, "getChat", tgbotapi.Params{"chat_id": chatParam(tt.chat.ID)}, &chat); err != nil {
				t.Fatal(err)
			}
			// Telegram leaves is_forum out rather than sending false.
			if chat.ID != tt.chat.ID || (chat.IsForum != nil) != tt.want || (chat.IsForum != nil && !*chat.IsForum) {
				t.Errorf("getChat = %+v", chat)
			}
		})
	}
}

func TestCreateForumTopic(t *testing.T) {
	long := strings.Repeat("退", 130)
	tests := []struct {
		name      string
		chat      telegramfake.Chat
		params    tgbotapi.Params
		wantName  string
		wantColor int
		wantErr   string
	}{
		{"default colour", forum, tgbotapi.Params{"name": "#7 R-000123 damaged"}, "#7 R-000123 damaged", 7322096, ""},
		{"chosen colour", forum, tgbotapi.Params{"name": "x", "icon_color": "16766590"}, "x", 16766590, ""},
		{"long name cut to 128 characters", forum, tgbotapi.Params{"name": long}, long[:128*len("退")], 7322096, ""},
		{"name trimmed", forum, tgbotapi.Params{"name": "  case  "}, "case", 7322096, ""},
		{"blank name", forum, tgbotapi.Params{"name": "   "}, "", 0, "Bad Request: title must be non-empty"},
		{"colour not offered", forum, tgbotapi.Params{"name": "x", "icon_color": "123"}, "", 0, "Bad Request: invalid icon color specified"},
		{"supergroup without topics", teamChat, tgbotapi.Params{"name": "x"}, "", 0, "Bad Request: the chat is not a forum"},
		{"private chat", aliceChat, tgbotapi.Params{"name": "x"}, "", 0, "Bad Request: the chat is not a forum"},
		{"unknown chat", telegramfake.Chat{ID: -1005}, tgbotapi.Params{"name": "x"}, "", 0, "Bad Request: chat not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t)
			bot := newBot(t, srv)
			if tt.chat.ID != -1005 {
				srv.AddChat(tt.chat)
			}
			tt.params["chat_id"] = chatParam(tt.chat.ID)
			var got struct {
				MessageThreadID int    `json:"message_thread_id"`
				Name            string `json:"name"`
				IconColor       int    `json:"icon_color"`
			}
			err := call(t, bot, "createForumTopic", tt.params, &got)
			if tt.wantErr != "" {
				if e := apiError(t, err); e.Code != 400 || e.Message != tt.wantErr {
					t.Errorf("got %d %q, want 400 %q", e.Code, e.Message, tt.wantErr)
				}
				if ts := srv.Topics(tt.chat.ID); len(ts) != 0 {
					t.Errorf("a refused call opened %+v", ts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.MessageThreadID == 0 || got.Name != tt.wantName || got.IconColor != tt.wantColor {
				t.Errorf("createForumTopic = %+v", got)
			}
			want := []telegramfake.Topic{{ChatID: forum.ID, ThreadID: got.MessageThreadID, Name: tt.wantName, IconColor: tt.wantColor}}
			if ts := srv.Topics(forum.ID); !reflect.DeepEqual(ts, want) {
				t.Errorf("Topics = %+v, want %+v", ts, want)
			}
			// The opening is a service message: it takes a message id but is not one the bot sent.
			next, err := bot.Send(tgbotapi.NewMessage(forum.ID, "next"))
			if err != nil || next.MessageID <= got.MessageThreadID {
				t.Errorf("next message = %d, %v; want an id above the topic's %d", next.MessageID, err, got.MessageThreadID)
			}
			if ms := srv.Messages(forum.ID); len(ms) != 1 {
				t.Errorf("Messages = %+v, want only the text", ms)
			}
			_, err = bot.Send(tgbotapi.NewEditMessageText(forum.ID, got.MessageThreadID, "renamed"))
			if e := apiError(t, err); e.Message != "Bad Request: message can't be edited" {
				t.Errorf("editing the topic's opening: %q", e.Message)
			}
		})
	}
}

func TestBotSendsInTopic(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	srv.AddChat(forum)
	srv.AddChat(teamChat)
	thread := openTopic(t, bot, "#1 R-000001")
	other := openTopic(t, bot, "#2 R-000002")
	_, photo := srv.SendPhoto(aliceChat, alice, pngBytes(t, 8, 8), "", "")
	photoID := photo.Photo[len(photo.Photo)-1].FileID
	doc := srv.AddFile([]byte("%PDF-1.4"), "receipt.pdf")
	card := sendRaw(t, bot, "sendMessage", tgbotapi.Params{"chat_id": chatParam(forum.ID), "text": "Case card", "message_thread_id": strconv.Itoa(thread)})
	kb, _ := json.Marshal(keyboard())

	tests := []struct {
		name        string
		method      string
		params      tgbotapi.Params
		wantThread  int
		wantReplyTo int // the SentMessage's: 0 for the topic's implicit reply
		wantErr     string
	}{
		{"text", "sendMessage", tgbotapi.Params{"text": "hello", "message_thread_id": strconv.Itoa(thread), "reply_markup": string(kb)}, thread, 0, ""},
		{"photo by file_id", "sendPhoto", tgbotapi.Params{"photo": photoID, "caption": "from buyer", "message_thread_id": strconv.Itoa(thread)}, thread, 0, ""},
		{"document by file_id", "sendDocument", tgbotapi.Params{"document": doc.FileID, "message_thread_id": strconv.Itoa(other)}, other, 0, ""},
		{"reply in the topic", "sendMessage", tgbotapi.Params{"text": "re", "message_thread_id": strconv.Itoa(thread),
			"reply_to_message_id": strconv.Itoa(card.MessageID)}, thread, card.MessageID, ""},
		{"reply without thread stays in the topic", "sendMessage", tgbotapi.Params{"text": "re",
			"reply_to_message_id": strconv.Itoa(card.MessageID)}, thread, card.MessageID, ""},
		{"General topic", "sendMessage", tgbotapi.Params{"text": "all"}, 0, 0, ""},
		{"unknown topic", "sendMessage", tgbotapi.Params{"text": "x", "message_thread_id": "9999"}, 0, 0, "Bad Request: message thread not found"},
		{"unknown topic, photo", "sendPhoto", tgbotapi.Params{"photo": photoID, "message_thread_id": "9999"}, 0, 0, "Bad Request: message thread not found"},
		{"a message id is no topic", "sendMessage", tgbotapi.Params{"text": "x", "message_thread_id": strconv.Itoa(card.MessageID)}, 0, 0, "Bad Request: message thread not found"},
		{"not a number", "sendMessage", tgbotapi.Params{"text": "x", "message_thread_id": "one"}, 0, 0, "Bad Request: invalid message_thread_id specified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Messages(forum.ID))
			tt.params["chat_id"] = chatParam(forum.ID)
			var got rawMessage
			err := call(t, bot, tt.method, tt.params, &got)
			if tt.wantErr != "" {
				if e := apiError(t, err); e.Code != 400 || e.Message != tt.wantErr {
					t.Errorf("got %d %q, want 400 %q", e.Code, e.Message, tt.wantErr)
				}
				if n := len(srv.Messages(forum.ID)); n != before {
					t.Errorf("a refused send stored a message")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ms := srv.Messages(forum.ID)
			sent := ms[len(ms)-1]
			if sent.MessageID != got.MessageID || sent.ThreadID != tt.wantThread || sent.ReplyToMessageID != tt.wantReplyTo || sent.Method != tt.method {
				t.Errorf("SentMessage = %+v", sent)
			}
			if !got.Chat.IsForum {
				t.Error("the answer's chat lacks is_forum")
			}
			if tt.wantThread == 0 {
				if got.MessageThreadID != 0 || got.IsTopicMessage || got.ReplyToMessage != nil {
					t.Errorf("answer = %+v, want no topic", got)
				}
				return
			}
			wantReplyTo := tt.wantReplyTo
			if wantReplyTo == 0 {
				wantReplyTo = tt.wantThread
			}
			topicMessage(t, &got, tt.wantThread, wantReplyTo)
		})
	}
	t.Run("a topic of another chat", func(t *testing.T) {
		err := call(t, bot, "sendMessage", tgbotapi.Params{"chat_id": chatParam(teamChat.ID), "text": "x", "message_thread_id": strconv.Itoa(thread)}, &rawMessage{})
		if e := apiError(t, err); e.Message != "Bad Request: message thread not found" {
			t.Errorf("got %q", e.Message)
		}
	})
}

func sendRaw(t *testing.T, bot *tgbotapi.BotAPI, method string, p tgbotapi.Params) rawMessage {
	t.Helper()
	var m rawMessage
	if err := call(t, bot, method, p, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUserMessagesInTopic(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	srv.AddChat(forum)
	thread := openTopic(t, bot, "#1 R-000001")
	card := sendRaw(t, bot, "sendMessage", tgbotapi.Params{"chat_id": chatParam(forum.ID), "text": "Case card", "message_thread_id": strconv.Itoa(thread)})
	_, general := srv.SendText(forum, agent, "in General")

	tests := []struct {
		name        string
		act         func() int
		wantThread  int
		wantReplyTo int // 0: no reply_to_message at all
	}{
		{"text", func() int { id, _ := srv.SendTextInTopic(forum, agent, thread, "/take"); return id }, thread, thread},
		{"reply to the card", func() int { id, _ := srv.ReplyTextInTopic(forum, agent, thread, card.MessageID, "on it"); return id }, thread, card.MessageID},
		{"reply to an unknown message", func() int { id, _ := srv.ReplyTextInTopic(forum, agent, thread, 9999, "hm"); return id }, thread, thread},
		{"photo", func() int {
			id, _ := srv.SendPhotoInTopic(forum, agent, thread, pngBytes(t, 4, 4), "label", "album-1")
			return id
		}, thread, thread},
		{"plain reply to a topic message stays in the topic", func() int { id, _ := srv.ReplyText(forum, agent, card.MessageID, "ok"); return id }, thread, card.MessageID},
		{"General topic", func() int { id, _ := srv.SendText(forum, agent, "hi all"); return id }, 0, 0},
		{"reply in General", func() int { id, _ := srv.ReplyText(forum, agent, general.MessageID, "re"); return id }, 0, general.MessageID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.act()
			u := onlyRawUpdate(t, bot, id)
			m := u.Message
			switch {
			case tt.wantThread != 0:
				topicMessage(t, m, tt.wantThread, tt.wantReplyTo)
			case m.MessageThreadID != 0 || m.IsTopicMessage:
				t.Errorf("message = %+v, want no topic", m)
			case (m.ReplyToMessage != nil) != (tt.wantReplyTo != 0) || (m.ReplyToMessage != nil && m.ReplyToMessage.MessageID != tt.wantReplyTo):
				t.Errorf("reply_to_message = %+v, want %d", m.ReplyToMessage, tt.wantReplyTo)
			}
			if !m.Chat.IsForum {
				t.Error("chat lacks is_forum")
			}
		})
	}
	t.Run("tgbotapi reads the implicit reply as a reply", func(t *testing.T) {
		id, ret := srv.SendTextInTopic(forum, agent, thread, "hello")
		m := onlyUpdate(t, bot, id)
		if m.ReplyToMessage == nil || m.ReplyToMessage.MessageID != thread || ret.ReplyToMessage == nil || ret.ReplyToMessage.MessageID != thread {
			t.Errorf("reply_to_message = %+v, returned %+v", m.ReplyToMessage, ret.ReplyToMessage)
		}
	})
	t.Run("no such topic", func(t *testing.T) {
		pending := srv.Pending()
		func() {
			defer func() {
				if r, _ := recover().(string); !strings.Contains(r, "has no topic 4242") {
					t.Errorf("recovered %q, want a panic naming the topic", r)
				}
			}()
			srv.SendTextInTopic(forum, agent, 4242, "lost")
		}()
		// Pending answering at all shows the panic left the Server unlocked.
		if n := srv.Pending(); n != pending {
			t.Errorf("Pending() = %d, want %d: nothing queued", n, pending)
		}
	})
}

func TestCallbackQueryInTopic(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	srv.AddChat(forum)
	thread := openTopic(t, bot, "#1 R-000001")
	kb, _ := json.Marshal(keyboard())
	card := sendRaw(t, bot, "sendMessage", tgbotapi.Params{"chat_id": chatParam(forum.ID), "text": "Case card",
		"message_thread_id": strconv.Itoa(thread), "reply_markup": string(kb)})
	id, _ := srv.PressButton(forum, agent, card.MessageID, "refund:yes")
	u := onlyRawUpdate(t, bot, id)
	if u.CallbackQuery == nil || u.CallbackQuery.Message == nil || u.CallbackQuery.Message.MessageID != card.MessageID {
		t.Fatalf("update = %+v", u)
	}
	topicMessage(t, u.CallbackQuery.Message, thread, thread)
}

func TestEnqueueRawLearnsTopics(t *testing.T) {
	srv := start(t)
	bot := newBot(t, srv)
	opening := `{"update_id": 70, "message": {"message_id": 500, "date": 1700000000, "message_thread_id": 500, "is_topic_message": true,
		"from": {"id": 2001, "is_bot": false, "first_name": "Kim"},
		"chat": {"id": -1009876543210, "type": "supergroup", "title": "Refund desk", "is_forum": true},
		"forum_topic_created": {"name": "Kim's topic", "icon_color": 7322096}}}`
	if err := srv.EnqueueRaw(json.RawMessage(opening)); err != nil {
		t.Fatal(err)
	}
	want := []telegramfake.Topic{{ChatID: forum.ID, ThreadID: 500, Name: "Kim's topic", IconColor: 7322096}}
	if got := srv.Topics(forum.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Topics = %+v, want %+v", got, want)
	}
	m := sendRaw(t, bot, "sendMessage", tgbotapi.Params{"chat_id": chatParam(forum.ID), "text": "welcome", "message_thread_id": "500"})
	topicMessage(t, &m, 500, 500)
	if m.ReplyToMessage.ForumTopicCreated.Name != "Kim's topic" {
		t.Errorf("opening = %+v", m.ReplyToMessage)
	}
}
