package flows

import (
	"context"
	"errors"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// DefaultIdleTTL is how long a half-filled dialog waits for its chat; a
// session store keeps sessions a grace period longer.
const DefaultIdleTTL = 24 * time.Hour

// State is a step of a dialog; flows/buyer names the refund dialog's.
type State string

// Session is one chat's dialog state, kept in Redis between updates so that
// a restart or a deploy continues where the buyer was.
type Session struct {
	State State  `json:"state"`
	Lang  string `json:"lang,omitempty"`
	// LangChosen is set by /lang: the buyer's choice, which the language
	// they write in does not override.
	LangChosen bool `json:"lang_chosen,omitempty"`
	// Nonce changes whenever the dialog moves; buttons carry it, so a press
	// on an older message is recognised as stale.
	Nonce string `json:"nonce,omitempty"`

	// PendingOrderID is the order awaiting the phone-digits proof.
	PendingOrderID string `json:"pending_order_id,omitempty"`
	// ReasonHint is a reason recognised in the buyer's free text, applied
	// once ownership is proven.
	ReasonHint refund.Reason `json:"reason_hint,omitempty"`

	Order     *OrderSnapshot    `json:"order,omitempty"`
	Reason    refund.Reason     `json:"reason,omitempty"`
	Statement string            `json:"statement,omitempty"`
	Evidence  []refund.Evidence `json:"evidence,omitempty"`
	// PendingStatement is text that looked like a scam report, kept until
	// the buyer confirms it is their statement.
	PendingStatement string `json:"pending_statement,omitempty"`
	// SubmissionKey makes a retried submit return the case created first.
	SubmissionKey string `json:"submission_key,omitempty"`
	// CaseID is the submitted case a follow-up step answers about.
	CaseID int64 `json:"case_id,omitempty"`
	// RepeatText and RepeatCount track a complaint the bot keeps not
	// understanding, to bring in a person.
	RepeatText  string `json:"repeat_text,omitempty"`
	RepeatCount int    `json:"repeat_count,omitempty"`
	// CommentOn is the escalation whose rating the buyer's next text
	// comments on, while the dialog waits for that comment.
	CommentOn int64 `json:"comment_on,omitempty"`

	UpdatedAt time.Time `json:"updated_at"`
	// Version counts saves; stores use it to refuse a lost update.
	Version int64 `json:"version"`
}

// OrderSnapshot is what the dialog remembers of the order being refunded,
// so that each step can render without another database read.
type OrderSnapshot struct {
	ID          string          `json:"id"`
	Product     string          `json:"product"`
	Category    refund.Category `json:"category"`
	AmountPaid  refund.Money    `json:"amount_paid"`
	Currency    string          `json:"currency"`
	PurchasedAt time.Time       `json:"purchased_at"`
}

// SessionStore keeps sessions and the marks of handled updates. Begin and
// Commit are the only calls on the hot path of an update, so that a dialog
// turn costs two round trips.
//
// Begin also takes the chat's lease: while one replica handles a chat, no
// other can, and a holder whose lease ran out (a pause longer than the
// lease, say) has its Commit refused, so two replicas never both save a
// turn of the same chat.
type SessionStore interface {
	// Begin waits until the chat's lease is free (or ctx ends), takes it,
	// and loads the chat's session (a zero Session when there is none). A
	// claim of an update already handled, or of one over the chat's flood
	// limit, holds no lease and needs no Commit.
	Begin(ctx context.Context, chatID int64, updateIDs []int) (Claim, error)
	// Commit saves the session, or deletes it when sess is nil, marks the
	// updates handled, queues the turn's messages (SendQueue) and gives
	// the lease back, atomically. It returns the send queues it claimed
	// for this replica's dispatcher. A lease lost meanwhile is
	// ErrLeaseLost, and nothing is saved or queued.
	Commit(ctx context.Context, chatID int64, fence int64, sess *Session, updateIDs []int, out []Envelope) ([]Batch, error)
	// Release gives the lease back without saving, so that the update can
	// be handled again.
	Release(ctx context.Context, chatID int64, fence int64) error
	// Extend keeps the lease for a turn that runs long (slow sends, a 429
	// wait); a lease lost meanwhile is ErrLeaseLost.
	Extend(ctx context.Context, chatID int64, fence int64) error
}

// EscalationMarks keep, next to the sessions, which chats may have an open
// escalation, so that a turn of any other chat needs no database query to
// know it has none. A mark is set before an escalation opens and cleared
// only after it closed, so that a crash in between leaves a mark too many
// (cleared when the database says so), never one too few.
type EscalationMarks interface {
	MarkEscalated(ctx context.Context, chatID int64) error
	ClearEscalated(ctx context.Context, chatID int64) error
}

// AgentChats remember which agents have a private chat with the bot (they
// wrote to it there): only to them can the bot relay a held chat's
// messages privately, since a bot cannot start a conversation.
type AgentChats interface {
	SetAgentChat(ctx context.Context, userID int64, open bool) error
	AgentChat(ctx context.Context, userID int64) (bool, error)
}

// Claim is what Begin found.
type Claim struct {
	Session Session
	// Duplicate means one of the updates was handled before: drop it.
	Duplicate bool
	// MaybeEscalated means the chat carries the escalation mark
	// (EscalationMarks): it may have an open escalation, which the desk
	// confirms in the database. Without it the chat has none, and the
	// turn costs the database nothing.
	MaybeEscalated bool
	// IDsRestarted means this update's id is far below the highest seen:
	// the Bot API's ids started again, and the store stopped counting the
	// marks of the old ones. Reported once, by the update that found it.
	IDsRestarted bool
	// Flooded means the chat sent more than its limit of inputs within the
	// window: the updates are marked handled already and nothing is done
	// with them. FirstFlooded marks the first of them, the one the buyer is
	// told about, so that a flood gets one notice, not one per message.
	Flooded      bool
	FirstFlooded bool
	// Fence identifies this hold of the lease; it only grows, so a stale
	// holder can always be told from the current one.
	Fence int64
	// OwnershipLocks are the orders whose ownership proof the chat's user
	// is locked out of (OwnershipAttempts), with the time left: read with
	// the session, so that the order step costs no round trip of its own.
	OwnershipLocks map[string]time.Duration
}

// ErrLeaseLost means another handler took the chat over: this one's work
// is not saved.
var ErrLeaseLost = errors.New("chat lease lost to another handler")

// OwnershipAttempts counts failed phone-digit answers per user and order,
// outside the session so that cancelling the dialog does not reset them.
// The locks they lead to reach each turn with its claim
// (Claim.OwnershipLocks, Turn.OwnershipLocks).
type OwnershipAttempts interface {
	// Fail records a failed answer and returns the failures counted so far;
	// at limit failures the order is locked for lockFor.
	Fail(ctx context.Context, userID int64, orderID string, limit int, lockFor time.Duration) (int, error)
}
