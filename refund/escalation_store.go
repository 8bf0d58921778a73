package refund

import (
	"context"
	"time"
)

// An escalation as the stores keep it: why it was opened and where it is,
// the queue board, the history of waits, the words a queued buyer left,
// and the EscalationStore that keeps them (the EscalationService in
// escalation.go is what uses it).

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
