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

// Bot API methods. Each validates what Telegram validates and answers with Telegram's wording,
// because the bot's error handling is written against those answers.

func jsonTrue() json.RawMessage { return json.RawMessage("true") }

func (s *Server) getMe(*request) (json.RawMessage, *apiError) {
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

func (s *Server) knownChatLocked(param string) (wireChat, *apiError) {
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
func (s *Server) replyTargetLocked(r *request, chatID int64) (*message, *apiError) {
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
func (s *Server) sendLocked(r *request, method string, out outgoing, attach func(*tgbotapi.Message) (fileID string, aerr *apiError)) (json.RawMessage, *apiError) {
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

func (s *Server) sendMessage(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) sendPhoto(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) sendDocument(r *request) (json.RawMessage, *apiError) {
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

// editableLocked finds the bot message an edit names. The fake has no inline mode, so an
// inline_message_id never matches.
func (s *Server) editableLocked(r *request) (*message, *apiError) {
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
func (s *Server) editedLocked(m *message, markup *tgbotapi.InlineKeyboardMarkup) json.RawMessage {
	m.msg.ReplyMarkup = markup
	m.msg.EditDate = int(time.Now().Unix())
	m.sent.Keyboard = buttonsOf(markup)
	m.sent.Edits++
	s.emitLocked(m.sent)
	return jsonOf(m.msg)
}

func (s *Server) editMessageText(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) editMessageCaption(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) editMessageReplyMarkup(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) deleteMessage(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) answerCallbackQuery(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) sendChatAction(r *request) (json.RawMessage, *apiError) {
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

func (s *Server) getChat(r *request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	chat, aerr := s.knownChatLocked(r.str("chat_id"))
	if aerr != nil {
		return nil, aerr
	}
	return jsonOf(chat), nil
}

// commandsKey identifies a command list as Telegram does: by scope and language.
func commandsKey(scope tgbotapi.BotCommandScope, languageCode string) string {
	if scope.Type == "" {
		scope.Type = "default"
	}
	return fmt.Sprintf("%s/%d/%d/%s", scope.Type, scope.ChatID, scope.UserID, languageCode)
}

func commandsKeyOf(r *request) (string, *apiError) {
	var scope tgbotapi.BotCommandScope
	if raw := r.str("scope"); raw != "" && raw != "null" {
		if err := json.Unmarshal([]byte(raw), &scope); err != nil {
			return "", badRequest("can't parse BotCommandScope JSON object")
		}
	}
	return commandsKey(scope, r.str("language_code")), nil
}

func (s *Server) setMyCommands(r *request) (json.RawMessage, *apiError) {
	var cmds []tgbotapi.BotCommand
	if err := json.Unmarshal([]byte(r.str("commands")), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	for _, c := range cmds {
		// Telegram wants 1-32 lowercase Latin letters, digits and underscores.
		if c.Command == "" || len(c.Command) > 32 || wordLen(c.Command) != len(c.Command) || strings.ToLower(c.Command) != c.Command {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
	}
	key, aerr := commandsKeyOf(r)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands[key] = cmds
	s.changedLocked()
	return jsonTrue(), nil
}

func (s *Server) getMyCommands(r *request) (json.RawMessage, *apiError) {
	key, aerr := commandsKeyOf(r)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return jsonOf(append([]tgbotapi.BotCommand{}, s.commands[key]...)), nil
}

// setWebhook records the webhook and starts delivering updates to it (webhook.go); like
// Telegram, the fake refuses getUpdates while a webhook is set.
func (s *Server) setWebhook(r *request) (json.RawMessage, *apiError) {
	url, secret := r.str("url"), r.str("secret_token")
	maxConns, aerr := intParam(r, "max_connections", 40)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	allowHTTP := s.hook.allowHTTP
	s.mu.Unlock()
	if url != "" && !strings.HasPrefix(url, "https://") && !(allowHTTP && strings.HasPrefix(url, "http://")) {
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	if len(secret) > 256 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return nil, badRequest("secret token contains unallowed characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSecret = url, secret
	s.hook.maxConnections = min(max(maxConns, 1), 100)
	if boolParam(r, "drop_pending_updates") {
		s.queue = nil
	}
	s.startWebhookLocked()
	s.changedLocked()
	return jsonTrue(), nil
}

func (s *Server) deleteWebhook(r *request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSecret = "", ""
	if boolParam(r, "drop_pending_updates") {
		s.queue = nil
	}
	s.changedLocked()
	return jsonTrue(), nil
}

func (s *Server) getWebhookInfo(*request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return jsonOf(tgbotapi.WebhookInfo{URL: s.webhookURL, PendingUpdateCount: len(s.queue), MaxConnections: s.hook.maxConnections}), nil
}
