package refund

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Agent is a member of the platform's support staff, known by Telegram
// user. Only agents may press agent buttons or use agent commands, and
// only they are vouched for when a buyer asks "is this really staff?".
type Agent struct {
	UserID int64
	// Username is the Telegram @username without the @, lower-cased; it
	// may be empty. It is what Telegram last reported for the agent (as
	// configured until Telegram first reports): a username is released
	// when its owner changes it, and whoever registers it next must not
	// be vouched for.
	Username string
	// DisplayName is the name configured for the agent; empty means the
	// name Telegram reports (see Name).
	DisplayName string
	// StaffNumber is what agents sign their replies with, e.g. "K017".
	StaffNumber string
	Active      bool
	AddedAt     time.Time
	// TelegramFirstName and TelegramLastName are the agent's name as
	// Telegram last reported it.
	TelegramFirstName string
	TelegramLastName  string
	// ProfileAt is when Telegram last reported the agent's profile (UTC);
	// zero when it never has.
	ProfileAt time.Time
	// LeftTeam is set while Telegram reports the agent out of the team
	// chat (left or removed): such an agent takes no chats.
	LeftTeam bool
	// Online is the agent's own /online or /offline: only online agents
	// are assigned new escalations.
	Online bool
}

// DefaultAgentName signs for an agent who has neither a configured name
// nor one Telegram reported: replies are still signed, with the staff
// number making them tell apart.
const DefaultAgentName = "客服"

// Name is what the agent is called to buyers and to the team: the
// configured display name, else the name Telegram reports, else
// DefaultAgentName.
func (a Agent) Name() string {
	if name := strings.TrimSpace(a.DisplayName); name != "" {
		return name
	}
	if name := strings.TrimSpace(strings.TrimSpace(a.TelegramFirstName) + " " + strings.TrimSpace(a.TelegramLastName)); name != "" {
		return name
	}
	return DefaultAgentName
}

// Membership is what Telegram says of an agent's place in the team chat.
type Membership int

// The memberships a profile can report.
const (
	// MembershipUnknown is a profile read from an agent's own update,
	// which says nothing of the team chat: the recorded one stays.
	MembershipUnknown Membership = iota
	// MembershipIn is a member of the team chat (creator, administrator,
	// member, or restricted but still in it).
	MembershipIn
	// MembershipLeft is an agent who left the team chat or was removed.
	MembershipLeft
)

// AgentProfile is what Telegram reported of an agent at one moment.
type AgentProfile struct {
	FirstName string
	LastName  string
	// Username is without @, in any case; empty when the agent has none.
	Username   string
	Membership Membership
	// At is when Telegram said so.
	At time.Time
}

// ProfileChange is an agent's record before and after a profile was
// recorded, so that the one who recorded it can tell what changed.
type ProfileChange struct {
	Before, After Agent
}

// Left reports whether this profile is the first to show the agent out of
// the team chat.
func (c ProfileChange) Left() bool { return !c.Before.LeftTeam && c.After.LeftTeam }

// Returned reports whether this profile is the first to show the agent
// back in the team chat.
func (c ProfileChange) Returned() bool { return c.Before.LeftTeam && !c.After.LeftTeam }

// WithProfile is the agent as the profile reports it: Telegram's names
// and username replace the recorded ones (an empty username included),
// and membership changes only when the profile knows it. A profile older
// than the recorded one changes nothing, so that an update handled late
// does not bring back a username given up since.
func (a Agent) WithProfile(p AgentProfile) Agent {
	// Microseconds, as the stores keep times.
	at := p.At.UTC().Truncate(time.Microsecond)
	if at.Before(a.ProfileAt) {
		return a
	}
	a.TelegramFirstName, a.TelegramLastName = clip(p.FirstName, 64), clip(p.LastName, 64)
	a.Username = NormalizeUsername(p.Username)
	a.ProfileAt = at
	switch p.Membership {
	case MembershipIn:
		a.LeftTeam = false
	case MembershipLeft:
		a.LeftTeam = true
	}
	return a
}

// clip cuts s to at most n characters: Telegram allows 64 for a name, and
// a store must not fail on a longer one it did not choose.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// Validate checks an agent before it is stored.
func (a Agent) Validate() error {
	switch {
	case a.UserID <= 0:
		return FieldError("user_id", "an agent needs a Telegram user id")
	case a.DisplayName != "" && strings.TrimSpace(a.DisplayName) == "" || len([]rune(a.DisplayName)) > 64:
		// Empty is allowed: the agent is then called by their Telegram name.
		return FieldError("display_name", "display name must be empty or 1-64 characters")
	case strings.TrimSpace(a.StaffNumber) == "" || len(a.StaffNumber) > 16 || a.StaffNumber != strings.ToUpper(a.StaffNumber):
		// Upper case only, so that K017 and k017 cannot be two people a
		// buyer would take for one.
		return FieldError("staff_number", "staff number must be 1-16 characters, upper case")
	case len(a.Username) > 32 || a.Username != NormalizeUsername(a.Username):
		return FieldError("username", "username must be a Telegram username without @, lower case")
	}
	return nil
}

// NormalizeUsername turns "@Alice_CS" into "alice_cs", the form usernames
// are stored and compared in (Telegram usernames are case-insensitive).
func NormalizeUsername(s string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@"))
}

// ActorAgent is the event-log actor of an agent.
func ActorAgent(userID int64) string { return "agent:" + strconv.FormatInt(userID, 10) }

// AgentStore keeps the staff list.
type AgentStore interface {
	// PutAgent adds an agent or updates one, making it active.
	PutAgent(ctx context.Context, a Agent) error
	// RemoveAgent deactivates an agent; the record stays for the audit
	// log. An unknown agent is an ENOTFOUND error.
	RemoveAgent(ctx context.Context, userID int64) error
	// Agent returns an active agent, or an ENOTFOUND error.
	Agent(ctx context.Context, userID int64) (Agent, error)
	// AgentByUsername returns the active agent with this username (any
	// case, with or without @), or an ENOTFOUND error.
	AgentByUsername(ctx context.Context, username string) (Agent, error)
	// Agents lists active agents by staff number.
	Agents(ctx context.Context) ([]Agent, error)
	// RecordProfile records what Telegram reported of an active agent
	// (Agent.WithProfile), atomically, and returns the record before and
	// after. A username now reported for this agent is taken from any
	// other agent's record, since Telegram gives a username to one
	// account only. An unknown or removed agent is an ENOTFOUND error.
	RecordProfile(ctx context.Context, userID int64, p AgentProfile) (ProfileChange, error)
	// SetOnline records an active agent's /online or /offline; an unknown
	// or removed agent is an ENOTFOUND error.
	SetOnline(ctx context.Context, userID int64, online bool) error
}
