package bot

import (
	"strings"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

// update is an update as tgbotapi decodes it, with the forum fields it
// does not know (Bot API 6.3 came after tgbotapi 5.5.1), read from the same
// JSON.
type update struct {
	tgbotapi.Update
	forum forumFields
}

// forumFields is the part of an update's JSON that tells where in a forum
// its message was written.
type forumFields struct {
	UpdateID      int            `json:"update_id"`
	Message       *topicMessage  `json:"message"`
	CallbackQuery *topicCallback `json:"callback_query"`
}

type topicCallback struct {
	Message *topicMessage `json:"message"`
}

type topicMessage struct {
	MessageThreadID int         `json:"message_thread_id"`
	IsTopicMessage  bool        `json:"is_topic_message"`
	ReplyToMessage  *topicReply `json:"reply_to_message"`
}

type topicReply struct {
	// ForumTopicCreated is set on the service message that opened a topic.
	ForumTopicCreated *struct{} `json:"forum_topic_created"`
}

// threadID is the forum topic m was written in. Outside forums Telegram
// uses message_thread_id for threads of replies too, which are no topic.
func (m *topicMessage) threadID() int {
	if m == nil || !m.IsTopicMessage {
		return 0
	}
	return m.MessageThreadID
}

// repliesToTopicStart tells Telegram's implicit reply, which every message
// of a topic makes to the topic's opening service message, from a reply
// someone chose to write.
func (m *topicMessage) repliesToTopicStart() bool {
	return m != nil && m.IsTopicMessage && m.ReplyToMessage != nil && m.ReplyToMessage.ForumTopicCreated != nil
}

func (u update) callbackMessage() *topicMessage {
	if u.forum.CallbackQuery == nil {
		return nil
	}
	return u.forum.CallbackQuery.Message
}

// item is one update turned into a dialog input, with what the loop needs
// to order and merge it.
type item struct {
	in           flows.Input
	mediaGroupID string
	// forged says why an update Telegram never sends was refused, for the
	// log; empty for updates that are just not for the bot.
	forged string
}

// toInput converts an update; ok is false for updates the bot ignores
// (edits, channel posts, service messages).
func toInput(u update) (item, bool) {
	switch {
	case u.CallbackQuery != nil:
		return callbackInput(u)
	case u.Message != nil:
		return messageInput(u)
	}
	return item{}, false
}

func callbackInput(u update) (item, bool) {
	q := u.CallbackQuery
	if q.From == nil {
		return item{}, false
	}
	in := flows.Input{
		UpdateIDs: []int{u.UpdateID}, UserID: q.From.ID, FirstName: q.From.FirstName, LastName: q.From.LastName,
		Username: q.From.UserName, LanguageCode: q.From.LanguageCode, At: time.Now(),
		Callback: &flows.Callback{ID: q.ID, Data: q.Data},
	}
	if q.Message != nil && q.Message.Chat != nil {
		in.ChatID = q.Message.Chat.ID
		in.Chat = chatKind(q.Message.Chat)
		in.Callback.MessageID = q.Message.MessageID
		in.ThreadID = u.callbackMessage().threadID()
	} else {
		// A button on an inline message has no chat; the buyer's private
		// chat is their user ID.
		in.ChatID = q.From.ID
	}
	if in.Chat == flows.ChatPrivate && in.ChatID != in.UserID {
		// A private chat's buttons are its user's alone: a press from
		// anyone else is forged (or proxied) and must not act on the
		// buyer's refund.
		return item{forged: "button press by another user in a private chat"}, false
	}
	return item{in: in}, true
}

func chatKind(c *tgbotapi.Chat) flows.ChatKind {
	if c.Type == "private" {
		return flows.ChatPrivate
	}
	return flows.ChatGroup
}

func messageInput(u update) (item, bool) {
	m := u.Message
	if m.Chat == nil || m.From == nil || m.Chat.Type == "channel" {
		return item{}, false
	}
	if m.Chat.Type == "private" && m.Chat.ID != m.From.ID {
		return item{forged: "message by another user in a private chat"}, false
	}
	in := flows.Input{
		UpdateIDs: []int{u.UpdateID}, ChatID: m.Chat.ID, Chat: chatKind(m.Chat), UserID: m.From.ID,
		FirstName: m.From.FirstName, LastName: m.From.LastName, Username: m.From.UserName,
		LanguageCode: m.From.LanguageCode, At: time.Unix(int64(m.Date), 0),
		Text: m.Text, Forward: forwardOf(m), ThreadID: u.forum.Message.threadID(), MessageID: m.MessageID,
	}
	if m.ReplyToMessage != nil && !u.forum.Message.repliesToTopicStart() {
		in.ReplyToMessageID = m.ReplyToMessage.MessageID
		in.ReplyToText = m.ReplyToMessage.Text
		if in.ReplyToText == "" {
			in.ReplyToText = m.ReplyToMessage.Caption
		}
	}
	if cmd, target, args, ok := parseCommand(m); ok {
		in.Command, in.CommandTarget, in.Text = cmd, target, args
	}
	switch {
	case len(m.Photo) > 0:
		// Telegram lists a photo's sizes smallest first; keep the largest.
		p := m.Photo[len(m.Photo)-1]
		in.Files = []refund.Evidence{{Kind: refund.EvidencePhoto, FileID: p.FileID, FileUniqueID: p.FileUniqueID,
			Size: int64(p.FileSize), MIMEType: "image/jpeg", Caption: m.Caption}}
		in.Text = m.Caption
	case m.Document != nil:
		d := m.Document
		in.Files = []refund.Evidence{{Kind: refund.EvidenceDocument, FileID: d.FileID, FileUniqueID: d.FileUniqueID,
			Size: int64(d.FileSize), MIMEType: d.MimeType, FileName: d.FileName, Caption: m.Caption}}
		in.Text = m.Caption
	case m.Sticker != nil:
		in.Unsupported = "sticker"
	case m.Voice != nil:
		in.Unsupported = "voice"
	case m.Video != nil, m.VideoNote != nil:
		in.Unsupported = "video"
	case m.Audio != nil:
		in.Unsupported = "audio"
	case m.Animation != nil:
		in.Unsupported = "animation"
	case m.Location != nil, m.Venue != nil:
		in.Unsupported = "location"
	case m.Contact != nil:
		in.Unsupported = "contact"
	case m.Poll != nil, m.Dice != nil, m.Game != nil:
		in.Unsupported = "other"
	case m.Text == "":
		return item{}, false // a service message: someone joined, a title changed, ...
	}
	if len(in.Files) > 0 && m.MediaGroupID != "" {
		return item{in: in, mediaGroupID: m.MediaGroupID}, true
	}
	return item{in: in}, true
}

// forwardOf tells where a forwarded message came from; nil when it was not
// forwarded.
func forwardOf(m *tgbotapi.Message) *flows.Forward {
	switch {
	case m.ForwardFrom != nil:
		u := m.ForwardFrom
		return &flows.Forward{UserID: u.ID, Username: u.UserName, Name: strings.TrimSpace(u.FirstName + " " + u.LastName)}
	case m.ForwardSenderName != "":
		return &flows.Forward{Name: m.ForwardSenderName, Hidden: true}
	case m.ForwardFromChat != nil:
		// A channel post, or an anonymous group admin's message. It is
		// still a forward: left nil, its text would read as the forwarder's
		// own words. No user wrote it, so UserID stays 0 and matches no
		// one; the chat is named as Telegram shows it.
		c := m.ForwardFromChat
		return &flows.Forward{Username: c.UserName, Name: c.Title}
	}
	return nil
}

// parseCommand reads a leading bot_command entity. It does its own bounds
// checks instead of tgbotapi's Command(), which slices the text by the
// entity's length and panics on a forged update.
func parseCommand(m *tgbotapi.Message) (cmd, target, args string, ok bool) {
	if len(m.Entities) == 0 || m.Entities[0].Type != "bot_command" || m.Entities[0].Offset != 0 {
		return "", "", "", false
	}
	units := utf16.Encode([]rune(m.Text))
	n := m.Entities[0].Length
	if n < 2 || n > len(units) {
		return "", "", "", false
	}
	word := string(utf16.Decode(units[1:n]))
	rest := string(utf16.Decode(units[n:]))
	cmd, target, _ = strings.Cut(word, "@")
	return strings.ToLower(cmd), target, strings.TrimSpace(rest), true
}

// mergeAlbums joins consecutive photos and documents of one media group
// into one input, so that an album gets one answer instead of ten.
func mergeAlbums(items []item) []flows.Input {
	out := make([]flows.Input, 0, len(items))
	for i := 0; i < len(items); i++ {
		in := items[i].in
		for items[i].mediaGroupID != "" && i+1 < len(items) && items[i+1].mediaGroupID == items[i].mediaGroupID {
			i++
			next := items[i].in
			in.UpdateIDs = append(in.UpdateIDs, next.UpdateIDs...)
			in.Files = append(in.Files, next.Files...)
			if in.Text == "" {
				in.Text = next.Text
			}
		}
		out = append(out, in)
	}
	return out
}
