package telegramfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// simulation is the Server's part that plays the people in the chats, for tests: each helper
// stores a message or a button press as Telegram would and queues it as an update for the bot.
// Its methods are here, in forum.go (topics), updates.go (EnqueueRaw), files.go (AddFile) and
// members.go (SetMember).
type simulation struct{ *world }

// tgUser is u as Telegram describes a user.
func tgUser(u User) tgbotapi.User {
	return tgbotapi.User{ID: u.ID, IsBot: u.IsBot, FirstName: u.FirstName, LastName: u.LastName, UserName: u.Username, LanguageCode: u.LanguageCode}
}

func botUser() tgbotapi.User {
	return tgbotapi.User{ID: BotID, IsBot: true, FirstName: BotFirstName, UserName: BotUsername}
}

// wireChatOf is chat as Telegram describes it.
func wireChatOf(chat Chat) wireChat {
	c := wireChat{Chat: tgbotapi.Chat{ID: chat.ID, Type: chat.Type, Title: chat.Title}, IsForum: chat.IsForum}
	if c.Type == "" {
		c.Type = "private"
	}
	return c
}

// chatLocked records chat (with from's name, for a private chat) and returns it as Telegram
// describes it.
func (s *chatStore) chatLocked(chat Chat, from User) wireChat {
	c := wireChatOf(chat)
	if c.Type == "private" {
		c.FirstName, c.LastName, c.UserName = from.FirstName, from.LastName, from.Username
	}
	s.chats[c.ID] = c
	return c
}

// AddChat makes chat known without anyone writing in it, so that the bot may message it first.
// Telegram answers "chat not found" for chats the bot never saw.
func (s *simulation) AddChat(chat Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := wireChatOf(chat)
	s.chats[c.ID] = c
	s.changedLocked()
}

// userMessage completes content as sent by from in chat, in forum topic threadID when that is not
// 0, as a reply to message replyTo when that is not 0, stores it and queues it as an update.
func (s *simulation) userMessage(chat Chat, from User, threadID, replyTo int, content tgbotapi.Message) (int, tgbotapi.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chat, from)
	u := tgUser(from)
	msg := wireMessage{Message: content}
	var target *message
	if rt := s.messages[msgKey{c.ID, replyTo}]; replyTo != 0 && rt != nil && !rt.deleted {
		target = rt
	}
	if !s.placeLocked(&msg, c.ID, threadID, target) {
		panic(noTopic(c.ID, threadID)) // the deferred Unlock runs, so the Server stays usable
	}
	msg.MessageID = s.nextMessageID
	s.nextMessageID++
	msg.From, msg.Chat, msg.Date = &u, &c, int(time.Now().Unix())
	s.messages[msgKey{c.ID, msg.MessageID}] = &message{msg: msg}
	id := s.enqueueLocked(wireUpdate{Message: &msg})
	return id, cloneMessage(msg)
}

// cloneMessage is a deep copy, so callers cannot reach the fake's state through pointers. It
// is a tgbotapi.Message, so the forum fields are left out.
func cloneMessage(m wireMessage) tgbotapi.Message {
	var c tgbotapi.Message
	if err := json.Unmarshal(jsonOf(m), &c); err != nil {
		panic(fmt.Sprintf("telegramfake: copying a message: %v", err))
	}
	return c
}

// SendText simulates from writing text in chat. A text that starts with a command gets a
// bot_command entity as on Telegram, so Message.IsCommand, Command and CommandArguments work.
func (s *simulation) SendText(chat Chat, from User, text string) (updateID int, msg tgbotapi.Message) {
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Text: text, Entities: commandEntities(text)})
}

// ReplyText simulates from answering message replyTo of chat with text, the way agents answer a
// relayed message in their group. The update carries the replied-to message as the fake holds it
// now (edits included, one level deep), as Telegram does. A replyTo the fake does not know, or
// that was deleted, leaves the message without a reply: no client can reply to it.
func (s *simulation) ReplyText(chat Chat, from User, replyTo int, text string) (updateID int, msg tgbotapi.Message) {
	return s.userMessage(chat, from, 0, replyTo, tgbotapi.Message{Text: text, Entities: commandEntities(text)})
}

// ReplyPhoto is ReplyText for a photo with a caption.
func (s *simulation) ReplyPhoto(chat Chat, from User, replyTo int, data []byte, caption string) (updateID int, msg tgbotapi.Message) {
	data = bytes.Clone(data)
	s.mu.Lock()
	sizes := s.storePhotoLocked(data)
	s.mu.Unlock()
	return s.userMessage(chat, from, 0, replyTo, tgbotapi.Message{Photo: sizes, Caption: caption})
}

// ForwardText simulates from forwarding into chat a text that origin wrote. Telegram names
// origin's account in forward_from; when origin's privacy settings hide it (hidden), only their
// name comes, in forward_sender_name, so the bot cannot tell who they really are.
func (s *simulation) ForwardText(chat Chat, from, origin User, hidden bool, text string) (updateID int, msg tgbotapi.Message) {
	// forward_date is when origin wrote the text, which was before it was forwarded.
	m := tgbotapi.Message{Text: text, Entities: commandEntities(text), ForwardDate: int(time.Now().Add(-time.Hour).Unix())}
	if hidden {
		m.ForwardSenderName = strings.TrimSpace(origin.FirstName + " " + origin.LastName)
	} else {
		u := tgUser(origin)
		m.ForwardFrom = &u
	}
	return s.userMessage(chat, from, 0, 0, m)
}

// SendPhoto simulates from sending a photo; the bot can getFile and download it. The same
// bytes always get the same file_unique_id. mediaGroupID, when set, makes it part of an album.
func (s *simulation) SendPhoto(chat Chat, from User, data []byte, caption, mediaGroupID string) (int, tgbotapi.Message) {
	data = bytes.Clone(data)
	s.mu.Lock()
	sizes := s.storePhotoLocked(data)
	s.mu.Unlock()
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Photo: sizes, Caption: caption, MediaGroupID: mediaGroupID})
}

// SendDocument simulates from sending a file. An empty mimeType is guessed from fileName.
func (s *simulation) SendDocument(chat Chat, from User, data []byte, fileName, mimeType, caption, mediaGroupID string) (int, tgbotapi.Message) {
	data = bytes.Clone(data)
	s.mu.Lock()
	doc := s.storeDocumentLocked(data, fileName, mimeType)
	s.mu.Unlock()
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Document: doc, Caption: caption, MediaGroupID: mediaGroupID})
}

// SendSticker simulates from sending a sticker: a message without text the bot must cope with.
func (s *simulation) SendSticker(chat Chat, from User) (int, tgbotapi.Message) {
	s.mu.Lock()
	f := s.storeFileLocked(kindSticker, "", []byte("RIFF\x00\x00\x00\x00WEBPVP8 telegramfake sticker"), ".webp")
	s.mu.Unlock()
	st := &tgbotapi.Sticker{FileID: f.file.FileID, FileUniqueID: f.file.FileUniqueID, Width: 512, Height: 512, Emoji: "👍", SetName: "telegramfake", FileSize: f.file.FileSize}
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Sticker: st})
}

// SendVoice simulates from sending a voice note.
func (s *simulation) SendVoice(chat Chat, from User) (int, tgbotapi.Message) {
	s.mu.Lock()
	f := s.storeFileLocked(kindVoice, "", []byte("OggS telegramfake voice note"), ".oga")
	s.mu.Unlock()
	v := &tgbotapi.Voice{FileID: f.file.FileID, FileUniqueID: f.file.FileUniqueID, Duration: 3, MimeType: "audio/ogg", FileSize: f.file.FileSize}
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Voice: v})
}

// PressButton simulates from pressing an inline button with callback data under the message
// messageID. The callback query carries the message as it is now; for an unknown or deleted
// message it carries what Telegram sends for an inaccessible one (chat, id and date 0). data is
// not checked against the keyboard, so tests can press stale or forged buttons.
func (s *simulation) PressButton(chat Chat, from User, messageID int, data string) (updateID int, callbackID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chatLocked(chat, from)
	u := tgUser(from)
	msg := wireMessage{Message: tgbotapi.Message{MessageID: messageID}, Chat: &c}
	if m := s.messages[msgKey{c.ID, messageID}]; m != nil && !m.deleted {
		msg = m.msg // in a topic, with its message_thread_id and is_topic_message
	}
	s.nextQueryNum++
	callbackID = strconv.FormatInt(4_380_000_000_000_000_000+s.nextQueryNum, 10) // Telegram's look
	s.queries[callbackID] = false
	q := wireCallbackQuery{
		CallbackQuery: tgbotapi.CallbackQuery{
			ID:           callbackID,
			From:         &u,
			ChatInstance: strconv.FormatInt(c.ID*7919+104729, 10), // opaque, stable per chat
			Data:         data,
		},
		Message: &msg,
	}
	return s.enqueueLocked(wireUpdate{CallbackQuery: &q}), callbackID
}
