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

// EscalationReason is why a buyer's chat went to the agents.
type EscalationReason string

// The reasons for an escalation.
const (
	EscalateHumanReview EscalationReason = "human_review" // the first review asked for a human
	EscalateOverdue     EscalationReason = "overdue"      // a human review is late
	EscalateAsked       EscalationReason = "asked"        // the buyer asked for a person
	EscalateRepeated    EscalationReason = "repeated"     // the same complaint three times
	EscalateFlagged     EscalationReason = "flagged"      // a message smelt of a deposit scam
)

// EscalationStatus is where an escalation stands.
type EscalationStatus string

// The statuses of an escalation.
const (
	EscalationQueued EscalationStatus = "queued"
	EscalationHeld   EscalationStatus = "held"
	EscalationClosed EscalationStatus = "closed"
)

// Escalation is a buyer's chat waiting for, or held by, an agent. A buyer
// chat has at most one open (queued or held) escalation.
type Escalation struct {
	ID int64
	// CaseID is the case the escalation is about; 0 when the buyer asked
	// for a person before any case existed.
	CaseID      int64
	BuyerChatID int64
	BuyerUserID int64
	Language    string
	Reason      EscalationReason
	Status      EscalationStatus
	// AgentUserID holds the chat while Status is held.
	AgentUserID int64
	// CardMessageID is the case card in the agents' chat.
	CardMessageID int
	// ThreadID is the escalation's own forum topic when the agents' chat
	// is a forum; 0 otherwise.
	ThreadID int
	// EvidencePosted is how many of the case's evidence files are in the
	// agents' chat under the card; the card is complete when it equals the
	// case's count, and a retried delivery goes on from here.
	EvidencePosted int
	// BuyerTold records that the buyer was given their place in the queue,
	// which they are told whether or not the team side went through.
	BuyerTold bool
	// Rating is the buyer's 1-5 for how the escalation went, once it is
	// closed; 0 while unrated. RatingComment is what the buyer added to
	// it, if anything: their own words, kept as data.
	Rating        int
	RatingComment string
	// PlaceMessageID is the buyer's message telling their place in the
	// queue, edited as the place moves; 0 until it is sent. PlaceText is
	// what it shows, so that an unchanged place is never edited, and
	// PlaceEditedAt when it was last edited, so that one buyer's message
	// is edited at most so often.
	PlaceMessageID int
	PlaceText      string
	PlaceEditedAt  time.Time
	// Due is when the buyer should have an answer, for the queue's order.
	Due              time.Time
	CreatedAt        time.Time
	TakenAt          time.Time
	LastAgentReplyAt time.Time
	ClosedAt         time.Time
	// FirstTakenAt is when an agent first took the chat. Unlike TakenAt it
	// outlives a release back to the queue: how long buyers waited for a
	// person, which the queue's estimates are made from, is read from it.
	FirstTakenAt time.Time
}

// Valid reports whether r is a known reason.
func (r EscalationReason) Valid() bool {
	switch r {
	case EscalateHumanReview, EscalateOverdue, EscalateAsked, EscalateRepeated, EscalateFlagged:
		return true
	}
	return false
}

// ValidateNew checks an escalation about to be opened.
func (e Escalation) ValidateNew() error {
	switch {
	case e.BuyerChatID == 0:
		return FieldError("buyer_chat_id", "an escalation needs the buyer's chat")
	case e.BuyerUserID <= 0:
		return FieldError("buyer_user_id", "an escalation needs the buyer")
	case !e.Reason.Valid():
		return FieldError("reason", "unknown escalation reason %q", e.Reason)
	case e.Status != "" && e.Status != EscalationQueued:
		return FieldError("status", "a new escalation is queued")
	case e.CaseID < 0:
		return FieldError("case_id", "case id must not be negative")
	}
	return nil
}

// Board is the one message in the team chat that shows the queue, edited
// in place rather than posted anew on every change.
type Board struct {
	ChatID    int64
	MessageID int
	// Text is what the message shows now, so that an unchanged board is
	// not edited again.
	Text string
}

// Open reports whether the escalation still wants or has an agent.
func (e Escalation) Open() bool { return e.Status == EscalationQueued || e.Status == EscalationHeld }

// EscalationStore keeps escalations and which agents'-chat messages belong
// to which, so an agent's reply finds its buyer.
type EscalationStore interface {
	// OpenEscalation queues an escalation for a buyer chat, or returns the
	// chat's open one (created false) without changing it, except that a
	// case ID is filled in if the open one had none.
	OpenEscalation(ctx context.Context, e Escalation) (got Escalation, created bool, err error)
	// Escalation returns an escalation by ID, or an ENOTFOUND error.
	Escalation(ctx context.Context, id int64) (Escalation, error)
	// OpenEscalationByChat returns a buyer chat's open escalation, or an
	// ENOTFOUND error.
	OpenEscalationByChat(ctx context.Context, buyerChatID int64) (Escalation, error)
	// LinkMessage records that a message in the agents' chat belongs to
	// an escalation; card marks it as the escalation's case card.
	LinkMessage(ctx context.Context, escalationID int64, messageID int, card bool) error
	// EscalationByMessage finds the escalation a message in the agents'
	// chat belongs to, or returns an ENOTFOUND error.
	EscalationByMessage(ctx context.Context, messageID int) (Escalation, error)
	// SetThread records the escalation's forum topic. A topic belongs to
	// one escalation: giving it to a second is an ECONFLICT error.
	SetThread(ctx context.Context, id int64, threadID int) error
	// Board returns the team chat's queue board; found is false when the
	// chat has none yet.
	Board(ctx context.Context, chatID int64) (b Board, found bool, err error)
	// ClaimBoard reserves posting the chat's first board for the caller,
	// so that of replicas refreshing at once one posts it: claimed is false
	// when a board exists or another caller claimed it less than staleAfter
	// ago.
	ClaimBoard(ctx context.Context, chatID int64, at time.Time, staleAfter time.Duration) (claimed bool, err error)
	// SaveBoard records the board's message and the text it shows.
	SaveBoard(ctx context.Context, b Board) error
	// Rate records the buyer's rating of a closed escalation, once: a
	// second rating is an ECONFLICT error, an open escalation or another
	// user's an EINVALID / ENOTFOUND error.
	Rate(ctx context.Context, id, buyerUserID int64, rating int) (Escalation, error)
	// RecordDelivery records how far the escalation's card went out: the
	// evidence files posted under it and whether the buyer was told their
	// place. Progress only grows: a smaller count or a false told never
	// undoes what an earlier delivery recorded.
	RecordDelivery(ctx context.Context, id int64, evidencePosted int, buyerTold bool) error
	// EscalationByThread finds the escalation of a forum topic, or returns
	// an ENOTFOUND error.
	EscalationByThread(ctx context.Context, threadID int) (Escalation, error)
	// Take gives a queued escalation to an agent. An escalation already
	// held by another agent is an ECONFLICT error (the caller reads the
	// holder from Escalation); taking one's own again succeeds; a closed
	// one is ECONFLICT too.
	Take(ctx context.Context, id, agentUserID int64, at time.Time) (Escalation, error)
	// Release puts a held escalation back in the queue. Only its holder may
	// release it (ECONFLICT otherwise).
	Release(ctx context.Context, id, agentUserID int64) (Escalation, error)
	// CloseEscalation ends an escalation; closing a closed one is a no-op.
	CloseEscalation(ctx context.Context, id int64, at time.Time) error
	// TouchAgentReply records that the holder answered the buyer; a reply
	// by anyone else (a holder released meanwhile) is an ECONFLICT error.
	TouchAgentReply(ctx context.Context, id, agentUserID int64, at time.Time) error
	// QueuePosition is the escalation's place among queued ones, by Due
	// then creation (1 is next); 0 when it is not queued.
	QueuePosition(ctx context.Context, id int64) (int, error)
	// OpenEscalations lists open escalations, by Due then creation.
	OpenEscalations(ctx context.Context) ([]Escalation, error)
	// ReleaseSilentHolds puts back in the queue, atomically, every held
	// escalation whose holder has not answered (since taking, or since the
	// last reply) before the given time, and returns them as they were
	// held (with AgentUserID), longest silent first. A reply that lands
	// first keeps its hold.
	ReleaseSilentHolds(ctx context.Context, before time.Time) ([]Escalation, error)

	// CommentRating records the buyer's comment on their rating, once: a
	// second comment is an ECONFLICT error, an unrated escalation an
	// EINVALID one, another user's or an unknown one ENOTFOUND.
	CommentRating(ctx context.Context, id, buyerUserID int64, comment string) (Escalation, error)

	// RecordPlace records the text of the place message on its way to the
	// buyer, before its message ID is known (LinkPlace).
	RecordPlace(ctx context.Context, id int64, text string) error
	// LinkPlace records the buyer's place message once it is sent; a
	// newer one replaces the old, which is then left as it is.
	LinkPlace(ctx context.Context, id int64, messageID int) error
	// SwapPlace changes the recorded place text from from to to, and the
	// edit time to editedAt unless it is zero, only while the escalation
	// is queued and has a place message showing from: of two sweeps about
	// to make the same edit, one gets true and makes it.
	SwapPlace(ctx context.Context, id int64, from, to string, editedAt time.Time) (bool, error)
	// RecentWaits lists, most recent first, up to limit escalations first
	// taken at or after since: when each was opened and first taken.
	RecentWaits(ctx context.Context, since time.Time, limit int) ([]QueueWait, error)

	// KeepWaiting keeps a message the buyer wrote while queued, for the
	// agent who takes the chat. kept is false when the escalation is not
	// queued or holds limit messages already; an unknown one is ENOTFOUND.
	KeepWaiting(ctx context.Context, id int64, text string, at time.Time, limit int) (kept bool, err error)
	// WaitingMessages lists the kept messages, oldest first.
	WaitingMessages(ctx context.Context, id int64) ([]WaitingMessage, error)
	// ClearWaiting forgets the kept messages up to and including
	// throughSeq, once they reached an agent. Closing an escalation
	// forgets all of them: the buyer's words are not kept past their use.
	ClearWaiting(ctx context.Context, id int64, throughSeq int64) error
}

// QueueWait is how long one escalation waited in the queue before an
// agent first took it.
type QueueWait struct {
	CreatedAt, TakenAt time.Time
}

// WaitingMessage is something a buyer wrote while their chat waited in
// the queue, kept for the agent who takes it.
type WaitingMessage struct {
	// Seq orders the messages of an escalation; ClearWaiting names the
	// last one handed on.
	Seq  int64
	Text string
	At   time.Time
}
