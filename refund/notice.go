package refund

import (
	"encoding/json"
	"fmt"
	"time"
)

// NoticeKind is what a notice tells its reader.
type NoticeKind string

// The kinds of notice.
const (
	// NoticeStatus tells the buyer their case changed status.
	NoticeStatus NoticeKind = "status"
	// NoticeReminder reminds the buyer of a deadline.
	NoticeReminder NoticeKind = "reminder"
	// NoticeReviewOverdue tells agents a human review is late.
	NoticeReviewOverdue NoticeKind = "review_overdue"
	// NoticeEscalated tells agents a case needs a human.
	NoticeEscalated NoticeKind = "escalated"
)

// OutboxAgent holds notices for support agents.
const OutboxAgent OutboxKind = "agent"

// Notice is a message about a case, written to an outbox in the same
// transaction as the change it reports and rendered in the reader's
// language when it is delivered. It carries facts, not words.
type Notice struct {
	Kind     NoticeKind `json:"kind"`
	CaseID   int64      `json:"case_id"`
	OrderID  string     `json:"order_id"`
	ChatID   int64      `json:"chat_id"`
	UserID   int64      `json:"user_id"`
	Language string     `json:"language"`
	Status   Status     `json:"status"`
	Rules    []Rule     `json:"rules,omitempty"`
	// Amount is the refund decided or paid; Paid is what the order cost.
	Amount      Money  `json:"amount"`
	Fee         Money  `json:"fee,omitempty"`
	Deduction   Money  `json:"deduction,omitempty"`
	Paid        Money  `json:"paid"`
	UsedPercent int    `json:"used_percent,omitempty"`
	Currency    string `json:"currency"`
	// Route, Method and PayoutDays describe where the money goes and how
	// long it takes; Routes lists the choices when the buyer must pick.
	Route      PayoutRoute   `json:"route,omitempty"`
	Method     PaymentMethod `json:"method,omitempty"`
	PayoutDays [2]int        `json:"payout_days"`
	Routes     []PayoutRoute `json:"routes,omitempty"`
	// Deadline is when the buyer's next chance ends: to add evidence, to
	// appeal, to choose a route. Zero when nothing is awaited.
	Deadline time.Time `json:"deadline,omitzero"`
	// CanAppeal is set on a refusal the buyer may still appeal.
	CanAppeal bool `json:"can_appeal,omitempty"`
	// Note is a reviewer's words or the shop's reason for a failed payout.
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// Number is the notice's case number.
func (n Notice) Number() string { return FormatCaseNumber(n.CaseID) }

// DecodeNotice reads a notice from an outbox payload.
func DecodeNotice(payload []byte) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(payload, &n); err != nil {
		return Notice{}, fmt.Errorf("decode notice: %w", err)
	}
	return n, nil
}

// PayoutRequest is the body of the shop webhook asking it to pay a refund
// back the original way. The shop pays once per PayoutID however often
// the request is delivered.
type PayoutRequest struct {
	PayoutID string        `json:"payout_id"`
	Case     string        `json:"case"`
	OrderID  string        `json:"order_id"`
	Amount   string        `json:"amount"`
	Currency string        `json:"currency"`
	Method   PaymentMethod `json:"method"`
	// Account is set when the buyer gave a new account after a failure.
	Account   string    `json:"account,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}
