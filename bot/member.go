package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/refund"
)

// ChatMember asks Telegram who userID is in chatID (getChatMember): the
// names and username Telegram shows now, and whether the user is in the
// chat. It is the only way the bot learns of an agent who changed their
// username or left the team without writing anything. Retries work as
// for sends (429s waited out, transient errors tried again); a user
// Telegram does not know there is its 400 "user not found", which is not
// Transient.
func (s *Sender) ChatMember(ctx context.Context, chatID, userID int64) (refund.AgentProfile, error) {
	p := tgbotapi.Params{"chat_id": strconv.FormatInt(chatID, 10), "user_id": strconv.FormatInt(userID, 10)}
	resp, err := s.request(ctx, "getChatMember", p)
	if err != nil {
		return refund.AgentProfile{}, fmt.Errorf("member %d of chat %d: %w", userID, chatID, err)
	}
	var m tgbotapi.ChatMember
	if err := json.Unmarshal(resp.Result, &m); err != nil || m.User == nil || m.User.ID != userID {
		return refund.AgentProfile{}, fmt.Errorf("getChatMember %d of chat %d: %w: %s", userID, chatID, errUnreadable, resp.Result)
	}
	return refund.AgentProfile{FirstName: m.User.FirstName, LastName: m.User.LastName, Username: m.User.UserName,
		Membership: membership(m.Status, m.IsMember), At: time.Now().UTC()}, nil
}

// membership reads getChatMember's status: "left" and "kicked" are out
// of the chat, and so is "restricted" without is_member (a restriction
// kept for someone who left).
func membership(status string, isMember bool) refund.Membership {
	switch status {
	case "creator", "administrator", "member":
		return refund.MembershipIn
	case "restricted":
		if isMember {
			return refund.MembershipIn
		}
		return refund.MembershipLeft
	case "left", "kicked":
		return refund.MembershipLeft
	}
	return refund.MembershipUnknown
}
