package telegramfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// queuedUpdate is an update waiting for the bot to confirm it.
type queuedUpdate struct {
	id   int
	kind string // "message", "callback_query", ...: what allowed_updates filters on
	raw  json.RawMessage
	// replay marks an update forged with an update_id the fake had already used. It is kept
	// until delivered once even if the bot's offset is past it, or it could never arrive.
	replay    bool
	delivered bool
}

// enqueueLocked gives u the next update_id and queues it.
func (s *Server) enqueueLocked(u wireUpdate) int {
	u.UpdateID = s.nextUpdateID
	s.nextUpdateID++
	kind := "message"
	if u.CallbackQuery != nil {
		kind = "callback_query"
	}
	s.queue = append(s.queue, queuedUpdate{id: u.UpdateID, kind: kind, raw: jsonOf(u)})
	s.changedLocked()
	return u.UpdateID
}

// EnqueueRaw queues update exactly as given, for updates the helpers do not build and for
// forged or repeated ones. It must be a JSON object with an integer update_id. An update_id the
// fake already used (a duplicate delivery) is still delivered once, even when the bot has
// confirmed past it, and the update_ids the fake hands out later stay above every id seen. Chats,
// messages, callback queries and forum topics in it become known, so the bot can answer them.
func (s *Server) EnqueueRaw(update json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(update, &fields); err != nil {
		return fmt.Errorf("telegramfake: update is not a JSON object: %w", err)
	}
	var id int
	if err := json.Unmarshal(fields["update_id"], &id); err != nil {
		return errors.New("telegramfake: update has no integer update_id")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, update); err != nil {
		return fmt.Errorf("telegramfake: %w", err)
	}
	var u wireUpdate
	_ = json.Unmarshal(update, &u) // best effort: only used to learn chats, messages, queries and topics

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []*wireMessage{u.Message, u.EditedMessage, u.ChannelPost, u.EditedChannelPost} {
		if m == nil || m.Chat == nil {
			continue
		}
		if _, ok := s.chats[m.Chat.ID]; !ok {
			s.chats[m.Chat.ID] = *m.Chat
		}
		key := msgKey{m.Chat.ID, m.MessageID}
		if _, ok := s.messages[key]; !ok {
			s.messages[key] = &message{msg: *m}
		}
		s.learnTopicLocked(m)
		s.nextMessageID = max(s.nextMessageID, m.MessageID+1)
	}
	if q := u.CallbackQuery; q != nil && q.ID != "" {
		if _, ok := s.queries[q.ID]; !ok {
			s.queries[q.ID] = false
		}
		if q.Message != nil && q.Message.Chat != nil {
			if _, ok := s.chats[q.Message.Chat.ID]; !ok {
				s.chats[q.Message.Chat.ID] = *q.Message.Chat
			}
		}
	}
	s.queue = append(s.queue, queuedUpdate{
		id:     id,
		kind:   updateKind(fields),
		raw:    compact.Bytes(),
		replay: id < s.nextUpdateID,
	})
	s.nextUpdateID = max(s.nextUpdateID, id+1)
	s.changedLocked()
	return nil
}

// updateKind is the name of the one field besides update_id that an update carries.
func updateKind(fields map[string]json.RawMessage) string {
	var kinds []string
	for k, v := range fields {
		if k != "update_id" && string(v) != "null" {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return ""
	}
	sort.Strings(kinds) // a forged update with several is ambiguous: decide the same way every time
	return kinds[0]
}

// Pending counts the updates the bot has not confirmed yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// confirmLocked applies a getUpdates offset: Telegram forgets every update below a positive
// offset, and all but the last -offset updates for a negative one.
func (s *Server) confirmLocked(offset int) {
	switch {
	case offset < 0:
		if keep := -offset; len(s.queue) > keep {
			s.queue = append([]queuedUpdate(nil), s.queue[len(s.queue)-keep:]...)
		}
	case offset > s.nextUpdateID && s.restarted:
		// A server whose ids restarted has forgotten the bot's old
		// offset: one above every id it issued confirms nothing.
	case offset > 0:
		kept := s.queue[:0:0]
		for _, q := range s.queue {
			if q.id >= offset || (q.replay && !q.delivered) {
				kept = append(kept, q)
			}
		}
		s.queue = kept
	}
}

// takeLocked returns up to limit updates the bot asked for, dropping those it filtered out.
func (s *Server) takeLocked(limit int, skipFirst bool) []json.RawMessage {
	var out []json.RawMessage
	kept := s.queue[:0:0]
	for _, q := range s.queue {
		if !s.allowedLocked(q.kind) {
			continue // Telegram never delivers an update type the bot did not ask for
		}
		if skipFirst {
			skipFirst = false
			kept = append(kept, q)
			continue
		}
		if len(out) < limit {
			q.delivered = true
			out = append(out, q.raw)
		}
		kept = append(kept, q)
	}
	s.queue = kept
	return out
}

func (s *Server) allowedLocked(kind string) bool {
	if s.allowed == nil {
		// Telegram's default: everything except these.
		return kind != "chat_member" && kind != "message_reaction" && kind != "message_reaction_count"
	}
	return s.allowed[kind]
}

// getUpdates long-polls like Telegram: it answers at once when updates are waiting, otherwise
// when one arrives or timeout seconds pass. A newer getUpdates ends an older one with 409.
func (s *Server) getUpdates(r *request) (json.RawMessage, *apiError) {
	offset, aerr := intParam(r, "offset", 0)
	if aerr != nil {
		return nil, aerr
	}
	limit, aerr := intParam(r, "limit", 100)
	if aerr != nil {
		return nil, aerr
	}
	limit = min(max(limit, 1), 100)
	timeout, aerr := intParam(r, "timeout", 0)
	if aerr != nil {
		return nil, aerr
	}
	// Telegram keeps allowed_updates for later calls that omit it; tgbotapi sends "null" then.
	var allowed map[string]bool // nil after an empty list: back to the default
	setAllowed := false
	if raw := r.str("allowed_updates"); raw != "" && raw != "null" {
		var list []string
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			return nil, badRequest("can't parse allowed updates")
		}
		setAllowed = true
		if len(list) > 0 {
			allowed = make(map[string]bool, len(list))
		}
		for _, k := range list {
			allowed[k] = true
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhookURL != "" {
		return nil, &apiError{code: http.StatusConflict, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	s.pollGen++
	gen := s.pollGen
	s.confirmLocked(offset)
	quirk := s.pollQuirkLocked()
	if quirk.empty {
		return json.RawMessage("[]"), nil
	}
	if quirk.limit > 0 {
		limit = min(limit, quirk.limit)
	}
	if setAllowed {
		s.allowed = allowed
	}
	s.changedLocked()

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		expired = t.C
	}
	for {
		if ups := s.takeLocked(limit, quirk.skipFirst); len(ups) > 0 || expired == nil {
			return updatesJSON(s.shuffleLocked(ups)), nil
		}
		changed := s.changed
		s.mu.Unlock()
		stop := false
		select {
		case <-changed:
		case <-expired:
			stop = true
		case <-s.done:
			stop = true
		case <-r.ctx.Done():
			stop = true
		}
		s.mu.Lock()
		if s.pollGen != gen {
			return nil, &apiError{code: http.StatusConflict, desc: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
		}
		if stop {
			expired = nil
		}
	}
}

func updatesJSON(ups []json.RawMessage) json.RawMessage {
	out := json.RawMessage("[")
	for i, u := range ups {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, u...)
	}
	return append(out, ']')
}

func intParam(r *request, name string, def int) (int, *apiError) {
	v := r.str(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest("invalid " + name + " specified")
	}
	return n, nil
}

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
func (s *Server) chatLocked(chat Chat, from User) wireChat {
	c := wireChatOf(chat)
	if c.Type == "private" {
		c.FirstName, c.LastName, c.UserName = from.FirstName, from.LastName, from.Username
	}
	s.chats[c.ID] = c
	return c
}

// AddChat makes chat known without anyone writing in it, so that the bot may message it first.
// Telegram answers "chat not found" for chats the bot never saw.
func (s *Server) AddChat(chat Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := wireChatOf(chat)
	s.chats[c.ID] = c
	s.changedLocked()
}

// userMessage completes content as sent by from in chat, in forum topic threadID when that is not
// 0, as a reply to message replyTo when that is not 0, stores it and queues it as an update.
func (s *Server) userMessage(chat Chat, from User, threadID, replyTo int, content tgbotapi.Message) (int, tgbotapi.Message) {
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
func (s *Server) SendText(chat Chat, from User, text string) (updateID int, msg tgbotapi.Message) {
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Text: text, Entities: commandEntities(text)})
}

// ReplyText simulates from answering message replyTo of chat with text, the way agents answer a
// relayed message in their group. The update carries the replied-to message as the fake holds it
// now (edits included, one level deep), as Telegram does. A replyTo the fake does not know, or
// that was deleted, leaves the message without a reply: no client can reply to it.
func (s *Server) ReplyText(chat Chat, from User, replyTo int, text string) (updateID int, msg tgbotapi.Message) {
	return s.userMessage(chat, from, 0, replyTo, tgbotapi.Message{Text: text, Entities: commandEntities(text)})
}

// ReplyPhoto is ReplyText for a photo with a caption.
func (s *Server) ReplyPhoto(chat Chat, from User, replyTo int, data []byte, caption string) (updateID int, msg tgbotapi.Message) {
	data = bytes.Clone(data)
	s.mu.Lock()
	sizes := s.storePhotoLocked(data)
	s.mu.Unlock()
	return s.userMessage(chat, from, 0, replyTo, tgbotapi.Message{Photo: sizes, Caption: caption})
}

// ForwardText simulates from forwarding into chat a text that origin wrote. Telegram names
// origin's account in forward_from; when origin's privacy settings hide it (hidden), only their
// name comes, in forward_sender_name, so the bot cannot tell who they really are.
func (s *Server) ForwardText(chat Chat, from, origin User, hidden bool, text string) (updateID int, msg tgbotapi.Message) {
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
func (s *Server) SendPhoto(chat Chat, from User, data []byte, caption, mediaGroupID string) (int, tgbotapi.Message) {
	data = bytes.Clone(data)
	s.mu.Lock()
	sizes := s.storePhotoLocked(data)
	s.mu.Unlock()
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Photo: sizes, Caption: caption, MediaGroupID: mediaGroupID})
}

// SendDocument simulates from sending a file. An empty mimeType is guessed from fileName.
func (s *Server) SendDocument(chat Chat, from User, data []byte, fileName, mimeType, caption, mediaGroupID string) (int, tgbotapi.Message) {
	data = bytes.Clone(data)
	s.mu.Lock()
	doc := s.storeDocumentLocked(data, fileName, mimeType)
	s.mu.Unlock()
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Document: doc, Caption: caption, MediaGroupID: mediaGroupID})
}

// SendSticker simulates from sending a sticker: a message without text the bot must cope with.
func (s *Server) SendSticker(chat Chat, from User) (int, tgbotapi.Message) {
	s.mu.Lock()
	f := s.storeFileLocked(kindSticker, "", []byte("RIFF\x00\x00\x00\x00WEBPVP8 telegramfake sticker"), ".webp")
	s.mu.Unlock()
	st := &tgbotapi.Sticker{FileID: f.file.FileID, FileUniqueID: f.file.FileUniqueID, Width: 512, Height: 512, Emoji: "👍", SetName: "telegramfake", FileSize: f.file.FileSize}
	return s.userMessage(chat, from, 0, 0, tgbotapi.Message{Sticker: st})
}

// SendVoice simulates from sending a voice note.
func (s *Server) SendVoice(chat Chat, from User) (int, tgbotapi.Message) {
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
func (s *Server) PressButton(chat Chat, from User, messageID int, data string) (updateID int, callbackID string) {
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
