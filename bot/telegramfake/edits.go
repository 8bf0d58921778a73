package telegramfake

import (
	"bytes"
	"encoding/json"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// The Bot API's edits and deletes of messages the bot sent, with
// Telegram's "message is not modified" for an edit that changes nothing.

// editableLocked finds the bot message an edit names. The fake has no inline mode, so an
// inline_message_id never matches.
func (s *chatStore) editableLocked(r *request) (*message, *apiError) {
	if r.str("inline_message_id") != "" {
		return nil, badRequest("MESSAGE_ID_INVALID")
	}
	chat, aerr := s.knownChatLocked(r.str("chat_id"))
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := intParam(r, "message_id", 0)
	if aerr != nil {
		return nil, aerr
	}
	if id == 0 {
		return nil, badRequest("message identifier is not specified")
	}
	m := s.messages[msgKey{chat.ID, id}]
	if m == nil || m.deleted {
		return nil, badRequest("message to edit not found")
	}
	if !m.fromBot || m.sent == nil { // a user's message, or a service message such as a topic's opening
		return nil, badRequest("message can't be edited")
	}
	return m, nil
}

func notModified() *apiError {
	return badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
}

func sameJSON(a, b any) bool { return bytes.Equal(jsonOf(a), jsonOf(b)) }

// editedLocked records an accepted edit. As on Telegram, an edit without reply_markup removes
// the inline keyboard.
func (s *world) editedLocked(m *message, markup *tgbotapi.InlineKeyboardMarkup) json.RawMessage {
	m.msg.ReplyMarkup = markup
	m.msg.EditDate = int(time.Now().Unix())
	m.sent.Keyboard = buttonsOf(markup)
	m.sent.Edits++
	s.emitLocked(m.sent)
	return jsonOf(m.msg)
}

func (s *botAPI) editMessageText(r *request) (json.RawMessage, *apiError) {
	out, aerr := readOutgoing(r, "text", checkText)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.editableLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	if m.msg.Text == "" {
		return nil, badRequest("there is no text in the message to edit")
	}
	if m.msg.Text == out.plain && sameJSON(m.msg.Entities, out.entities) && sameJSON(m.msg.ReplyMarkup, out.markup) {
		return nil, notModified()
	}
	m.msg.Text, m.msg.Entities = out.plain, out.entities
	m.sent.Text, m.sent.PlainText, m.sent.ParseMode = out.text, out.plain, out.parseMode
	return s.editedLocked(m, out.markup), nil
}

func (s *botAPI) editMessageCaption(r *request) (json.RawMessage, *apiError) {
	out, aerr := readOutgoing(r, "caption", checkCaption)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.editableLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	if m.msg.Photo == nil && m.msg.Document == nil {
		return nil, badRequest("there is no caption in the message to edit")
	}
	if m.msg.Caption == out.plain && sameJSON(m.msg.CaptionEntities, out.entities) && sameJSON(m.msg.ReplyMarkup, out.markup) {
		return nil, notModified()
	}
	m.msg.Caption, m.msg.CaptionEntities = out.plain, out.entities
	m.sent.Text, m.sent.PlainText, m.sent.ParseMode = out.text, out.plain, out.parseMode
	return s.editedLocked(m, out.markup), nil
}

func (s *botAPI) editMessageReplyMarkup(r *request) (json.RawMessage, *apiError) {
	markup, _, aerr := parseMarkup(r.str("reply_markup"))
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.editableLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	if sameJSON(m.msg.ReplyMarkup, markup) {
		return nil, notModified()
	}
	return s.editedLocked(m, markup), nil
}

func (s *botAPI) deleteMessage(r *request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	chat, aerr := s.knownChatLocked(r.str("chat_id"))
	if aerr != nil {
		return nil, aerr
	}
	id, aerr := intParam(r, "message_id", 0)
	if aerr != nil {
		return nil, aerr
	}
	m := s.messages[msgKey{chat.ID, id}]
	if m == nil || m.deleted {
		return nil, badRequest("message to delete not found")
	}
	m.deleted = true
	if m.sent != nil {
		m.sent.Deleted = true
		s.emitLocked(m.sent)
	}
	s.changedLocked()
	return jsonTrue(), nil
}
