package telegramfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Forum topics came with Bot API 6.3, after what tgbotapi 5.5.1 models, so its structs have no
// place for them. The wire types below wrap tgbotapi's and add the forum fields, so that what the
// fake writes carries them as Telegram's JSON does; a bot on tgbotapi must read them from the raw
// JSON, and tests that decode into tgbotapi types simply do not see them.

// wireChat is a chat as Telegram writes it.
type wireChat struct {
	tgbotapi.Chat
	IsForum bool `json:"is_forum,omitempty"`
}

// wireMessage is a message as Telegram writes it. Chat and ReplyToMessage shadow tgbotapi's
// fields of the same JSON names, so the embedded Message's own Chat and ReplyToMessage stay nil.
type wireMessage struct {
	tgbotapi.Message
	Chat              *wireChat          `json:"chat"`
	ReplyToMessage    *wireMessage       `json:"reply_to_message,omitempty"`
	MessageThreadID   int                `json:"message_thread_id,omitempty"`
	IsTopicMessage    bool               `json:"is_topic_message,omitempty"`
	ForumTopicCreated *forumTopicCreated `json:"forum_topic_created,omitempty"`
}

// forumTopicCreated marks the service message that opens a topic.
type forumTopicCreated struct {
	Name      string `json:"name"`
	IconColor int    `json:"icon_color"`
}

// wireCallbackQuery is a callback query whose message keeps its forum fields.
type wireCallbackQuery struct {
	tgbotapi.CallbackQuery
	Message *wireMessage `json:"message,omitempty"`
}

// wireUpdate holds the kinds of update the fake makes or learns from.
type wireUpdate struct {
	UpdateID          int                `json:"update_id"`
	Message           *wireMessage       `json:"message,omitempty"`
	EditedMessage     *wireMessage       `json:"edited_message,omitempty"`
	ChannelPost       *wireMessage       `json:"channel_post,omitempty"`
	EditedChannelPost *wireMessage       `json:"edited_channel_post,omitempty"`
	CallbackQuery     *wireCallbackQuery `json:"callback_query,omitempty"`
}

// quoted is m as it appears inside another message's reply_to_message: Telegram nests one
// level only.
func quoted(m wireMessage) *wireMessage {
	m.ReplyToMessage = nil
	return &m
}

// Topic is a forum topic of a chat.
type Topic struct {
	ChatID int64
	// ThreadID is the topic's message_thread_id, which is also the message_id of the service
	// message that opened it.
	ThreadID  int
	Name      string
	IconColor int
}

// Topic icon colours Telegram accepts; the first is what the fake picks when none is asked for.
var topicColors = []int{0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F}

// maxTopicNameLen is the longest topic name, in Unicode code points as Telegram counts it.
const maxTopicNameLen = 128

// cleanTopicName is what Telegram keeps of a topic name: trimmed and, rather than refused when too
// long, cut to maxTopicNameLen code points.
func cleanTopicName(name string) string {
	name = strings.TrimSpace(name)
	n := 0
	for i := range name {
		if n == maxTopicNameLen {
			return strings.TrimSpace(name[:i])
		}
		n++
	}
	return name
}

// topicLocked finds the topic threadID of chatID.
func (s *chatStore) topicLocked(chatID int64, threadID int) (Topic, bool) {
	i := slices.IndexFunc(s.topics[chatID], func(t Topic) bool { return t.ThreadID == threadID })
	if i < 0 {
		return Topic{}, false
	}
	return s.topics[chatID][i], true
}

// topicRootLocked is the service message that opened topic threadID of chatID, as replies in the
// topic quote it; nil when chatID has no such topic.
func (s *chatStore) topicRootLocked(chatID int64, threadID int) *message {
	if _, ok := s.topicLocked(chatID, threadID); !ok {
		return nil
	}
	return s.messages[msgKey{chatID, threadID}]
}

// createForumTopic opens a topic the way Telegram does, posting the service message whose id
// becomes the topic's message_thread_id. The bot's admin rights are not modelled.
func (s *botAPI) createForumTopic(r *request) (json.RawMessage, *apiError) {
	color, aerr := intParam(r, "icon_color", 0)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case color == 0:
		color = topicColors[0]
	case !slices.Contains(topicColors, color):
		return nil, badRequest("invalid icon color specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	chat, aerr := s.knownChatLocked(r.str("chat_id"))
	if aerr != nil {
		return nil, aerr
	}
	if chat.Type != "supergroup" || !chat.IsForum {
		return nil, badRequest("the chat is not a forum")
	}
	name := cleanTopicName(r.str("name"))
	if name == "" {
		return nil, badRequest("title must be non-empty")
	}
	bot := botUser()
	id := s.nextMessageID
	s.nextMessageID++
	svc := wireMessage{
		Message:           tgbotapi.Message{MessageID: id, From: &bot, Date: int(time.Now().Unix())},
		Chat:              &chat,
		MessageThreadID:   id,
		IsTopicMessage:    true,
		ForumTopicCreated: &forumTopicCreated{Name: name, IconColor: color},
	}
	// The bot wrote it, but as a service message it is no SentMessage and cannot be edited.
	s.messages[msgKey{chat.ID, id}] = &message{msg: svc, fromBot: true}
	s.topics[chat.ID] = append(s.topics[chat.ID], Topic{ChatID: chat.ID, ThreadID: id, Name: name, IconColor: color})
	s.changedLocked()
	return jsonOf(map[string]any{"message_thread_id": id, "name": name, "icon_color": color}), nil
}

// learnTopicLocked registers the topic a forged topic-creation message opens, so the bot can
// write in it.
func (s *chatStore) learnTopicLocked(m *wireMessage) {
	if m.ForumTopicCreated == nil || m.Chat == nil || m.MessageThreadID == 0 {
		return
	}
	if _, ok := s.topicLocked(m.Chat.ID, m.MessageThreadID); ok {
		return
	}
	s.topics[m.Chat.ID] = append(s.topics[m.Chat.ID], Topic{ChatID: m.Chat.ID, ThreadID: m.MessageThreadID,
		Name: m.ForumTopicCreated.Name, IconColor: m.ForumTopicCreated.IconColor})
}

// Topics lists the topics of chatID in the order they were opened.
func (s *observer) Topics(chatID int64) []Topic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.topics[chatID])
}

// SendTextInTopic simulates from writing text in forum topic threadID of chat. As on Telegram,
// the message carries message_thread_id and is_topic_message, and its reply_to_message is the
// topic's opening service message although the user replied to nothing. A threadID that is no
// topic of chat is a mistake in the test, since no client can write there: it panics.
func (s *simulation) SendTextInTopic(chat Chat, from User, threadID int, text string) (updateID int, msg tgbotapi.Message) {
	return s.userMessage(chat, from, threadID, 0, tgbotapi.Message{Text: text, Entities: commandEntities(text)})
}

// ReplyTextInTopic is SendTextInTopic answering message replyTo, which then is the message's
// reply_to_message instead of the topic's opening one.
func (s *simulation) ReplyTextInTopic(chat Chat, from User, threadID, replyTo int, text string) (updateID int, msg tgbotapi.Message) {
	return s.userMessage(chat, from, threadID, replyTo, tgbotapi.Message{Text: text, Entities: commandEntities(text)})
}

// SendPhotoInTopic is SendPhoto into forum topic threadID of chat, with the topic's fields as
// SendTextInTopic describes them.
func (s *simulation) SendPhotoInTopic(chat Chat, from User, threadID int, data []byte, caption, mediaGroupID string) (updateID int, msg tgbotapi.Message) {
	data = bytes.Clone(data)
	s.mu.Lock()
	sizes := s.storePhotoLocked(data)
	s.mu.Unlock()
	return s.userMessage(chat, from, threadID, 0, tgbotapi.Message{Photo: sizes, Caption: caption, MediaGroupID: mediaGroupID})
}

// placeLocked puts msg, about to be written in chatID, into its topic and thread of replies.
// threadID 0 means no topic was asked for; a reply then stays in the topic of what it answers,
// which is where a client writes it. replyTo is nil when msg answers nothing. ok is false when
// threadID is no topic of chatID.
func (s *chatStore) placeLocked(msg *wireMessage, chatID int64, threadID int, replyTo *message) (ok bool) {
	if threadID == 0 && replyTo != nil && replyTo.msg.IsTopicMessage {
		threadID = replyTo.msg.MessageThreadID
	}
	if threadID != 0 {
		root := s.topicRootLocked(chatID, threadID)
		if root == nil {
			return false
		}
		msg.MessageThreadID, msg.IsTopicMessage = threadID, true
		if replyTo == nil {
			replyTo = root
		}
	}
	if replyTo != nil {
		msg.ReplyToMessage = quoted(replyTo.msg)
	}
	return true
}

func noTopic(chatID int64, threadID int) string {
	return fmt.Sprintf("telegramfake: chat %d has no topic %d", chatID, threadID)
}
