package refund

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is where a refund case stands in its lifecycle.
type Status string

// The statuses of a case. The first slice creates cases as submitted; the
// refund core moves them on.
const (
	StatusSubmitted     Status = "submitted"
	StatusAutoReview    Status = "auto_review"
	StatusNeedsInfo     Status = "needs_info"
	StatusHumanReview   Status = "human_review"
	StatusApproved      Status = "approved"
	StatusRejected      Status = "rejected"
	StatusAppealed      Status = "appealed"
	StatusPayoutPending Status = "payout_pending"
	StatusPayoutFailed  Status = "payout_failed"
	StatusRefunded      Status = "refunded"
	StatusClosed        Status = "closed"
)

// Statuses returns every status.
func Statuses() []Status {
	return []Status{StatusSubmitted, StatusAutoReview, StatusNeedsInfo, StatusHumanReview, StatusApproved,
		StatusRejected, StatusAppealed, StatusPayoutPending, StatusPayoutFailed, StatusRefunded, StatusClosed}
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, k := range Statuses() {
		if s == k {
			return true
		}
	}
	return false
}

// Open reports whether a case in this status still blocks a new case for
// the same order. Only a refunded or closed case frees the order; a
// rejected case is kept open because the buyer's way forward is an appeal.
func (s Status) Open() bool {
	return s != StatusRefunded && s != StatusClosed
}

// EvidenceKind is what sort of file a buyer uploaded.
type EvidenceKind string

// The kinds of evidence accepted.
const (
	EvidencePhoto    EvidenceKind = "photo"
	EvidenceDocument EvidenceKind = "document"
)

// MaxEvidence is the most files one case carries.
const MaxEvidence = 10

// MaxStatementRunes is the longest statement a buyer may write.
const MaxStatementRunes = 1000

// Evidence is one uploaded file, kept as Telegram's references to it.
type Evidence struct {
	Kind         EvidenceKind
	FileID       string
	FileUniqueID string
	Size         int64
	MIMEType     string
	FileName     string
	Caption      string
}

// Case is a buyer's refund request for one order.
type Case struct {
	ID      int64
	OrderID string
	// BuyerUserID is the Telegram user who submitted the case; only they
	// may see it.
	BuyerUserID int64
	ChatID      int64
	Reason      Reason
	Statement   string
	// RequestedAmount is what the buyer asks back: the amount paid.
	RequestedAmount Money
	// Currency is the order's, copied so that a case can be shown alone.
	Currency      string
	Status        Status
	Language      string
	SubmissionKey string
	Evidence      []Evidence
	// Decided is the latest review's amounts: what is (or would be) paid
	// back and what was kept back. Zero until a review ends.
	Decided Amounts
	// Route is where the money goes once chosen.
	Route PayoutRoute
	// Due is the case's next deadline, if any.
	Due Due
	// Appeals counts the buyer's appeals; only one is allowed.
	Appeals int
	// ReviewOverdue is set when human review missed its due date.
	ReviewOverdue bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Amounts is a decided refund: Refund is paid back; Fee (the buyer-side
// fee) and Deduction (an unreturned gift) were kept back.
type Amounts struct {
	Refund    Money
	Fee       Money
	Deduction Money
}

// Number is the case number buyers and agents quote, e.g. "R-000123".
func (c Case) Number() string { return FormatCaseNumber(c.ID) }

// FormatCaseNumber renders a case ID as its public number.
func FormatCaseNumber(id int64) string { return fmt.Sprintf("R-%06d", id) }

// ParseCaseNumber reads "R-000123" (any case, optional dash) into an ID.
func ParseCaseNumber(s string) (int64, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	rest, ok := strings.CutPrefix(s, "R")
	if !ok {
		return 0, false
	}
	rest = strings.TrimPrefix(rest, "-")
	if len(rest) < 6 || len(rest) > 18 {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// NewCase is what the dialog collected and submits.
type NewCase struct {
	OrderID         string
	BuyerUserID     int64
	ChatID          int64
	Reason          Reason
	Statement       string
	RequestedAmount Money
	Currency        string
	Language        string
	// SubmissionKey makes submission idempotent: submitting the same key
	// again returns the case it created the first time.
	SubmissionKey string
	Evidence      []Evidence
	// Due is the new case's first deadline: the refund core sets one so
	// that a case whose first review never ran is picked up later.
	Due Due
}

// Validate checks a new case before it is stored.
func (n NewCase) Validate() error {
	switch {
	case !ValidOrderID(n.OrderID):
		return FieldError("order_id", "invalid order id")
	case n.BuyerUserID <= 0:
		return FieldError("buyer_user_id", "buyer user id is required")
	case n.Reason == "":
		return FieldError("reason", "reason is required")
	case strings.TrimSpace(n.Statement) == "" || len([]rune(n.Statement)) > MaxStatementRunes:
		return FieldError("statement", "statement must be 1-%d characters", MaxStatementRunes)
	case n.RequestedAmount < 0:
		return FieldError("requested_amount", "requested amount must not be negative")
	case len(n.Currency) != 3:
		return FieldError("currency", "currency must be a 3-letter ISO code")
	case n.SubmissionKey == "":
		return FieldError("submission_key", "submission key is required")
	case len(n.Evidence) > MaxEvidence:
		return FieldError("evidence", "at most %d files", MaxEvidence)
	case (n.Due.Kind == "") != n.Due.At.IsZero():
		return FieldError("due", "a deadline needs both a kind and a time")
	}
	for _, e := range n.Evidence {
		if e.FileID == "" || e.FileUniqueID == "" || (e.Kind != EvidencePhoto && e.Kind != EvidenceDocument) {
			return FieldError("evidence", "evidence needs a kind, file_id and file_unique_id")
		}
	}
	return nil
}

// EventType names what happened to a case.
type EventType string

// The event types of the case log.
const (
	EventSubmitted     EventType = "submitted"
	EventStatusChanged EventType = "status_changed"
	// EventEvidenceAdded records files added to an open case.
	EventEvidenceAdded EventType = "evidence_added"
	// EventReminder records a deadline reminder sent to the buyer.
	EventReminder EventType = "reminder"
	// EventReviewOverdue records human review missing its due date.
	EventReviewOverdue EventType = "review_overdue"
	// EventRouteChosen records where the buyer asked the money to go.
	EventRouteChosen EventType = "route_chosen"
	// EventAgentNote is an agent's internal note, never shown to buyers.
	EventAgentNote EventType = "agent_note"
	// EventAgentTook and EventAgentReleased record an agent taking over
	// the buyer's chat and handing it back.
	EventAgentTook     EventType = "agent_took"
	EventAgentReleased EventType = "agent_released"
	// EventRated records the buyer's 1-5 rating of how a talk with an
	// agent went.
	EventRated EventType = "rated"
	// EventRatingComment holds what the buyer wrote with their rating,
	// in their own words, as the note.
	EventRatingComment EventType = "rating_comment"
	// EventDeadlineDropped records a deadline that no longer fit the
	// case's status and was removed.
	EventDeadlineDropped EventType = "deadline_dropped"
)

// Actor kinds recorded in the event log.
const (
	ActorSystem = "system"
	ActorBuyer  = "buyer"
)

// Event is one entry of a case's append-only history.
type Event struct {
	CaseID int64
	Seq    int
	Type   EventType
	// Actor is "system", "buyer" or "agent:<id>".
	Actor  string
	Status Status
	// Rules are the codes of the policy rules behind a decision.
	Rules []Rule
	// Amount is the money the event moved or decided, if any.
	Amount Money
	Note   string
	At     time.Time
}

// OrderStore keeps the shop's orders.
type OrderStore interface {
	// UpsertOrder inserts or replaces an order, reporting whether it was new.
	UpsertOrder(ctx context.Context, o Order) (created bool, err error)
	// Order returns the order with this ID, or an ENOTFOUND error.
	Order(ctx context.Context, id string) (Order, error)
}

// CaseStore keeps refund cases, their evidence and their event log.
type CaseStore interface {
	// CreateCase stores a new case with its evidence and a "submitted"
	// event in one transaction. A second call with the same SubmissionKey
	// returns the first case; another open case for the order is an
	// ECONFLICT error.
	CreateCase(ctx context.Context, n NewCase) (Case, error)
	// Case returns a case with its evidence, or an ENOTFOUND error.
	Case(ctx context.Context, id int64) (Case, error)
	// CasesByOrder returns the order's cases, newest first.
	CasesByOrder(ctx context.Context, orderID string) ([]Case, error)
	// Events returns a case's history, oldest first.
	Events(ctx context.Context, caseID int64) ([]Event, error)
}

// Store is everything the dialogs need from storage.
type Store interface {
	OrderStore
	CaseStore
}
