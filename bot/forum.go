package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Forum topics came with Bot API 6.3, after what tgbotapi 5.5.1 models:
// these calls are made raw and their answers decoded here.

// IsForum reports whether chatID is a forum supergroup, where each case
// can have its own topic. It makes one attempt and leaves retrying to the
// caller (Transient tells whether it is worth it). Like the Sender's
// calls, it heeds ctx before the request: one in flight ends by Close or
// the request timeout.
func (c *Connection) IsForum(ctx context.Context, chatID int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("getChat %d: %w", chatID, err)
	}
	resp, err := c.API.MakeRequest("getChat", tgbotapi.Params{"chat_id": strconv.FormatInt(chatID, 10)})
	if err != nil {
		return false, fmt.Errorf("getChat %d: %w", chatID, err)
	}
	var chat struct {
		ID      int64 `json:"id"`
		IsForum bool  `json:"is_forum"`
	}
	if err := json.Unmarshal(resp.Result, &chat); err != nil || chat.ID == 0 {
		return false, fmt.Errorf("getChat %d: %w: %s", chatID, errUnreadable, resp.Result)
	}
	return chat.IsForum, nil
}

// CreateTopic opens a topic named name in forum chatID and returns its
// message_thread_id, for messages to go there. Retries work as for sends:
// 429s are waited out, and a call that timed out is made again, which may
// open a second topic if the first did arrive. A chat that is no forum is
// Telegram's 400 "the chat is not a forum", which is not Transient.
func (s *Sender) CreateTopic(ctx context.Context, chatID int64, name string) (threadID int, err error) {
	p := tgbotapi.Params{"chat_id": strconv.FormatInt(chatID, 10), "name": topicName(name)}
	resp, err := s.request(ctx, "createForumTopic", p)
	if err != nil {
		return 0, err
	}
	var topic struct {
		MessageThreadID int `json:"message_thread_id"`
	}
	if err := json.Unmarshal(resp.Result, &topic); err != nil || topic.MessageThreadID == 0 {
		return 0, fmt.Errorf("createForumTopic: %w: %s", errUnreadable, resp.Result)
	}
	return topic.MessageThreadID, nil
}

// maxTopicNameLen is the longest topic name, in characters (code points)
// as Telegram counts them.
const maxTopicNameLen = 128

// topicName makes name fit Telegram's limit instead of leaving the cut to
// Telegram: a name of buyer-supplied words may be any length, and a cut
// inside a character would be invalid UTF-8, which Telegram refuses.
func topicName(name string) string {
	name = strings.TrimSpace(strings.ToValidUTF8(name, string(utf8.RuneError)))
	n := 0
	for i := range name {
		if n == maxTopicNameLen {
			return strings.TrimSpace(name[:i])
		}
		n++
	}
	return name
}
