package flows

import (
	"context"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Session is one chat's dialog state, kept in Redis between updates so that
// a restart or a deploy continues where the buyer was.
type Session struct {
	State State  `json:"state"`
	Lang  string `json:"lang,omitempty"`
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
type SessionStore interface {
	// Begin loads the chat's session (a zero Session when there is none)
	// and reports whether any of the updates was already handled.
	Begin(ctx context.Context, chatID int64, updateIDs []int) (sess Session, duplicate bool, err error)
	// Commit saves the session, or deletes it when sess is nil, and marks
	// the updates handled, atomically.
	Commit(ctx context.Context, chatID int64, sess *Session, updateIDs []int) error
}

// OwnershipAttempts counts failed phone-digit answers per user and order,
// outside the session so that cancelling the dialog does not reset them.
type OwnershipAttempts interface {
	// Locked reports how long the order is still locked for the user; zero
	// means not locked.
	Locked(ctx context.Context, userID int64, orderID string, limit int) (time.Duration, error)
	// Fail records a failed answer and returns the failures counted so far;
	// at limit failures the order is locked for lockFor.
	Fail(ctx context.Context, userID int64, orderID string, limit int, lockFor time.Duration) (int, error)
}
