package telegramfake

import (
	"encoding/json"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// botAPI is the Bot API methods the bot calls, as route (http.go) finds them by name. Each
// validates what Telegram validates and answers with Telegram's wording, because the bot's error
// handling is written against those answers. The sends are here; the other methods are in the
// file of their topic (edits.go, album.go, updates.go, webhook.go, files.go, commands.go,
// members.go, forum.go).
type botAPI struct{ *world }

func jsonTrue() json.RawMessage { return json.RawMessage("true") }

func (s *botAPI) getMe(*request) (json.RawMessage, *apiError) {
	me := botUser()
	me.CanJoinGroups = true
	return jsonOf(me), nil
}

// outgoing is the text part of something the bot sends or edits, validated and rendered.
type outgoing struct {
	text, parseMode, plain string
	entities               []tgbotapi.MessageEntity
	markup                 *tgbotapi.InlineKeyboardMarkup
	removeKeyboard         bool
}

func readOutgoing(r *request, field string, check func(string) *apiError) (outgoing, *apiError) {
	out := outgoing{text: r.str(field), parseMode: r.str("parse_mode")}
	var aerr *apiError
	if out.plain, out.entities, aerr = render(out.text, out.parseMode); aerr != nil {
		return out, aerr
	}
	if aerr = check(out.plain); aerr != nil {
		return out, aerr
	}
	out.markup, out.removeKeyboard, aerr = parseMarkup(r.str("reply_markup"))
	return out, aerr
}

func (s *chatStore) knownChatLocked(param string) (wireChat, *apiError) {
	if param == "" {
		return wireChat{}, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(param, 10, 64)
	if err != nil {
		return wireChat{}, badRequest("chat not found") // @usernames are not modelled
	}
	c, ok := s.chats[id]
	if !ok {
		return wireChat{}, badRequest("chat not found")
	}
	return c, nil
}

func boolParam(r *request, name string) bool {
	b, _ := strconv.ParseBool(r.str(name))
	return b
}

// replyTargetLocked finds the message a send replies to, from reply_to_message_id or the newer
// reply_parameters.
func (s *chatStore) replyTargetLocked(r *request, chatID int64) (*message, *apiError) {
	id, aerr := intParam(r, "reply_to_message_id", 0)
	if aerr != nil {
		return nil, aerr
	}
	allow := boolParam(r, "allow_sending_without_reply")
	if raw := r.str("reply_parameters"); raw != "" && raw != "null" {
		var p struct {
			MessageID                int  `json:"message_id"`
			AllowSendingWithoutReply bool `json:"allow_sending_without_reply"`
		}
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return nil, badRequest("can't parse reply parameters JSON object")
		}
		id, allow = p.MessageID, p.AllowSendingWithoutReply
	}
	if id == 0 {
		return nil, nil
	}
	if m := s.messages[msgKey{chatID, id}]; m != nil && !m.deleted {
		return m, nil
	}
	if allow {
		return nil, nil
	}
	return nil, badRequest("message to be replied not found")
}

// sendLocked creates a bot message in the requested chat, and forum topic when message_thread_id
// names one. attach adds the method's content once the chat, topic and reply target are known to
// be valid, so a failed send stores no file.
func (s *world) sendLocked(r *request, method string, out outgoing, attach func(*tgbotapi.Message) (fileID string, aerr *apiError)) (json.RawMessage, *apiError) {
	chat, aerr := s.knownChatLocked(r.str("chat_id"))
	if aerr != nil {
		return nil, aerr
	}
	threadID, aerr := intParam(r, "message_thread_id", 0)
	if aerr != nil {
		return nil, aerr
	}
	if threadID != 0 && s.topicRootLocked(chat.ID, threadID) == nil {
		return nil, badRequest("message thread not found")
	}
	replyTo, aerr := s.replyTargetLocked(r, chat.ID)
	if aerr != nil {
		return nil, aerr
	}
	var msg wireMessage
	fileID, aerr := attach(&msg.Message)
	if aerr != nil {
		return nil, aerr
	}
	s.placeLocked(&msg, chat.ID, threadID, replyTo) // cannot fail: the topic was checked above
	bot := botUser()
	now := time.Now()
	msg.MessageID = s.nextMessageID
	s.nextMessageID++
	msg.From, msg.Chat, msg.Date = &bot, &chat, int(now.Unix())
	msg.ReplyMarkup = out.markup
	sent := &SentMessage{
		MessageID:      msg.MessageID,
		ChatID:         chat.ID,
		Text:           out.text,
		PlainText:      out.plain,
		ParseMode:      out.parseMode,
		Keyboard:       buttonsOf(out.markup),
		RemoveKeyboard: out.removeKeyboard,
		ThreadID:       msg.MessageThreadID,
		Method:         method,
		FileID:         fileID,
		MediaGroupID:   msg.MediaGroupID,
		At:             now,
	}
	switch {
	case msg.Photo != nil:
		sent.FileKind = kindPhoto
	case msg.Document != nil:
		sent.FileKind = kindDocument
	}
	if replyTo != nil {
		sent.ReplyToMessageID = replyTo.msg.MessageID
	}
	s.messages[msgKey{chat.ID, msg.MessageID}] = &message{msg: msg, fromBot: true, sent: sent}
	s.sentOrder[chat.ID] = append(s.sentOrder[chat.ID], msg.MessageID)
	s.emitLocked(sent)
	return jsonOf(msg), nil
}

func (s *botAPI) sendMessage(r *request) (json.RawMessage, *apiError) {
	out, aerr := readOutgoing(r, "text", checkText)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(r, "sendMessage", out, func(m *tgbotapi.Message) (string, *apiError) {
		m.Text, m.Entities = out.plain, out.entities
		return "", nil
	})
}

func (s *botAPI) sendPhoto(r *request) (json.RawMessage, *apiError) {
	out, aerr := readOutgoing(r, "caption", checkCaption)
	if aerr != nil {
		return nil, aerr
	}
	data, _, aerr := mediaFromRequest(r, "photo")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(r, "sendPhoto", out, func(m *tgbotapi.Message) (string, *apiError) {
		if data != nil {
			m.Photo = s.storePhotoLocked(data)
		} else {
			f, aerr := s.fileByRefLocked(r.str("photo"), kindPhoto)
			if aerr != nil {
				return "", aerr
			}
			m.Photo = f.photo
		}
		m.Caption, m.CaptionEntities = out.plain, out.entities
		return m.Photo[len(m.Photo)-1].FileID, nil
	})
}

func (s *botAPI) sendDocument(r *request) (json.RawMessage, *apiError) {
	out, aerr := readOutgoing(r, "caption", checkCaption)
	if aerr != nil {
		return nil, aerr
	}
	data, name, aerr := mediaFromRequest(r, "document")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(r, "sendDocument", out, func(m *tgbotapi.Message) (string, *apiError) {
		if data != nil {
			m.Document = s.storeDocumentLocked(data, name, "")
		} else {
			f, aerr := s.fileByRefLocked(r.str("document"), kindDocument)
			if aerr != nil {
				return "", aerr
			}
			m.Document = f.document
		}
		m.Caption, m.CaptionEntities = out.plain, out.entities
		return m.Document.FileID, nil
	})
}

func (s *botAPI) answerCallbackQuery(r *request) (json.RawMessage, *apiError) {
	id := r.str("callback_query_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if answered, known := s.queries[id]; !known || answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	s.queries[id] = true
	s.answers = append(s.answers, CallbackAnswer{CallbackQueryID: id, Text: r.str("text"), ShowAlert: boolParam(r, "show_alert")})
	s.changedLocked()
	return jsonTrue(), nil
}

func (s *botAPI) sendChatAction(r *request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, aerr := s.knownChatLocked(r.str("chat_id")); aerr != nil {
		return nil, aerr
	}
	switch r.str("action") {
	case "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
		"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note":
		return jsonTrue(), nil
	}
	return nil, badRequest("wrong parameter action in request")
}

func (s *botAPI) getChat(r *request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	chat, aerr := s.knownChatLocked(r.str("chat_id"))
	if aerr != nil {
		return nil, aerr
	}
	return jsonOf(chat), nil
}
