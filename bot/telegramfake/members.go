package telegramfake

import (
	"encoding/json"
	"strconv"
)

// Member is a user's place in a group or supergroup, as getChatMember reports it.
type Member struct {
	User User
	// Status is Telegram's: "creator", "administrator", "member", "restricted", "left" or
	// "kicked"; empty means "member".
	Status string
	// IsMember is reported for "restricted" members only: whether they are still in the chat.
	IsMember bool
}

// SetMember makes m.User a member of chatID with m's status, or replaces what the fake had of
// them: a test changes an agent's username, name or status mid-test by setting them again.
// getChatMember then reports m; for users never set it answers 400 "Bad Request: user not found",
// as Telegram does for a user it does not know.
func (s *simulation) SetMember(chatID int64, m Member) {
	if m.Status == "" {
		m.Status = "member"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[chatID] == nil {
		s.members[chatID] = make(map[int64]Member)
	}
	s.members[chatID][m.User.ID] = m
	s.changedLocked()
}

// getChatMember reports a member set by SetMember; the bot itself is an administrator of every
// chat it knows.
func (s *botAPI) getChatMember(r *request) (json.RawMessage, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, aerr := s.knownChatLocked(r.str("chat_id")); aerr != nil {
		return nil, aerr
	}
	userID, err := strconv.ParseInt(r.str("user_id"), 10, 64)
	if err != nil || userID <= 0 {
		return nil, badRequest("invalid user_id specified")
	}
	chatID, _ := strconv.ParseInt(r.str("chat_id"), 10, 64)
	if userID == BotID {
		return jsonOf(map[string]any{"user": botUser(), "status": "administrator"}), nil
	}
	m, ok := s.members[chatID][userID]
	if !ok {
		return nil, badRequest("user not found")
	}
	member := map[string]any{"user": tgUser(m.User), "status": m.Status}
	if m.Status == "restricted" {
		member["is_member"] = m.IsMember
	}
	return jsonOf(member), nil
}
