package redisstore

import (
	"context"
	"fmt"
)

// marks is the Store's part that keeps the desk's marks beside the
// sessions: which chats may have an open escalation (flows.EscalationMarks),
// and which agents have a private chat with the bot (flows.AgentChats).
type marks struct{ conn }

// MarkEscalated implements flows.EscalationMarks. The mark has no expiry:
// an escalation may stay open for days; a stray one is cleared by the desk.
func (s *marks) MarkEscalated(ctx context.Context, chatID int64) error {
	if err := s.rdb.Set(ctx, s.escalatedKey(chatID), 1, 0).Err(); err != nil {
		return fmt.Errorf("mark chat %d escalated: %w", chatID, err)
	}
	return nil
}

// ClearEscalated implements flows.EscalationMarks.
func (s *marks) ClearEscalated(ctx context.Context, chatID int64) error {
	if err := s.rdb.Del(ctx, s.escalatedKey(chatID)).Err(); err != nil {
		return fmt.Errorf("clear the escalation mark of chat %d: %w", chatID, err)
	}
	return nil
}

// SetAgentChat implements flows.AgentChats.
func (s *marks) SetAgentChat(ctx context.Context, userID int64, open bool) error {
	var err error
	if open {
		err = s.rdb.Set(ctx, s.agentChatKey(userID), 1, 0).Err()
	} else {
		err = s.rdb.Del(ctx, s.agentChatKey(userID)).Err()
	}
	if err != nil {
		return fmt.Errorf("record agent %d's private chat: %w", userID, err)
	}
	return nil
}

// AgentChat implements flows.AgentChats.
func (s *marks) AgentChat(ctx context.Context, userID int64) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.agentChatKey(userID)).Result()
	if err != nil {
		return false, fmt.Errorf("agent %d's private chat: %w", userID, err)
	}
	return n == 1, nil
}
