package sandbox

import (
	"regexp"
	"strings"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/refund"
)

// The sandbox's desk: one team chat and one agent, so that the person at
// the terminal can take the buyer's case as the agent and watch both
// sides of the conversation.

// TeamChatID is the agents' team chat, the sandbox's AGENT_CHAT_ID.
const TeamChatID int64 = -1001234567890

// TeamChat is the agents' team supergroup. It is no forum: cards are
// threaded by replies, which the terminal makes for the agent.
func TeamChat() telegramfake.Chat {
	return telegramfake.Chat{ID: TeamChatID, Type: "supergroup", Title: "退款客服组"}
}

// AgentID is the sandbox agent's Telegram user ID.
const AgentID int64 = 9017

// Agent is the sandbox's agent as Telegram knows them: getChatMember in
// the team chat reports this name and username, which the desk signs the
// agent's replies with.
func Agent() telegramfake.User {
	return telegramfake.User{ID: AgentID, FirstName: "张三", Username: "sandbox_agent", LanguageCode: "zh-hans"}
}

// DeskAgent is the staff record the sandbox starts with: no name of its
// own, so the desk calls the agent by the name Telegram reports.
func DeskAgent() refund.Agent {
	return refund.Agent{UserID: AgentID, StaffNumber: "K017", Active: true}
}

// role is who the person at the terminal speaks as, and where.
type role int

const (
	roleBuyer role = iota
	// roleTeam is the agent in the team chat.
	roleTeam
	// roleAgentPrivate is the agent in their private chat with the bot,
	// where the desk relays the chats they hold (DESK_RELAY=private).
	roleAgentPrivate
)

// parseRole reads a role switch (":buyer", ":agent", ":agent private").
func parseRole(line string) (role, bool) {
	switch strings.Join(strings.Fields(line), " ") {
	case ":buyer":
		return roleBuyer, true
	case ":agent", ":agent team":
		return roleTeam, true
	case ":agent private":
		return roleAgentPrivate, true
	}
	return 0, false
}

func (r role) chat() telegramfake.Chat {
	switch r {
	case roleTeam:
		return TeamChat()
	case roleAgentPrivate:
		return telegramfake.Chat{ID: AgentID, Type: "private"}
	}
	return telegramfake.Chat{ID: BuyerID, Type: "private"}
}

func (r role) user() telegramfake.User {
	if r == roleBuyer {
		return Buyer()
	}
	return Agent()
}

// label names the chat in front of every line shown, so that the person
// can follow the buyer's side and the agent's at once.
func (r role) label() string {
	switch r {
	case roleTeam:
		return "[team chat]"
	case roleAgentPrivate:
		return "[agent private]"
	}
	return "[buyer]"
}

// command is how the person switches to r.
func (r role) command() string {
	switch r {
	case roleTeam:
		return ":agent"
	case roleAgentPrivate:
		return ":agent private"
	}
	return ":buyer"
}

// roleOf is the role whose chat chatID is; ok is false for a chat the
// sandbox does not show.
func roleOf(chatID int64) (role, bool) {
	for _, r := range []role{roleBuyer, roleTeam, roleAgentPrivate} {
		if r.chat().ID == chatID {
			return r, true
		}
	}
	return 0, false
}

// relayed is how the desk starts what it relays in an agent's private
// chat ("#12 R-000123 👤 …"); the desk finds the escalation a reply is
// about by it.
var relayed = regexp.MustCompile(`^#[0-9]+ `)

// aboutCase reports whether an agent answering m is answering about a
// case, the way an agent in Telegram swipes to reply: in the team chat a
// case card (it has buttons) or anything the bot threaded under one; in
// the private chat a message naming its escalation.
func aboutCase(r role, m telegramfake.SentMessage) bool {
	switch r {
	case roleTeam:
		return m.ReplyToMessageID != 0 || len(m.Keyboard) > 0
	case roleAgentPrivate:
		return relayed.MatchString(m.Text)
	}
	return false
}
