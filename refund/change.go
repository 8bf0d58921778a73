package refund

import (
	"context"
	"time"
)

// DueKind is what happens when a case's deadline passes.
type DueKind string

// The deadlines a case can carry.
const (
	// DueFirstReview runs the first review of a case the dialog could not
	// get reviewed at once (the process stopped, the database hiccupped).
	DueFirstReview DueKind = "first_review"
	// DueReminder reminds a needs_info buyer at half time.
	DueReminder DueKind = "reminder"
	// DueClose closes a needs_info case whose buyer never answered.
	DueClose DueKind = "close"
	// DueRoute sends an approved refund back the original way when the
	// buyer did not choose a route.
	DueRoute DueKind = "route"
	// DueAppeal closes a refused case once its appeal window has passed.
	DueAppeal DueKind = "appeal"
	// DueReview flags a human review that took too long.
	DueReview DueKind = "review"
)

// Due is a case's next deadline. The zero Due means none.
type Due struct {
	Kind DueKind
	At   time.Time
}

// PayoutStatus is where a payout stands.
type PayoutStatus string

// The statuses of a payout.
const (
	PayoutPending   PayoutStatus = "pending"
	PayoutConfirmed PayoutStatus = "confirmed"
	PayoutFailed    PayoutStatus = "failed"
)

// Payout is money on its way back to a buyer. Its ID is what the shop
// sees and quotes; delivering the same payout twice must pay once.
type Payout struct {
	ID      string
	CaseID  int64
	OrderID string
	// BuyerUserID owns the balance a balance payout credits.
	BuyerUserID int64
	Route       PayoutRoute
	// Method is the original payment method, for original-route payouts.
	Method   PaymentMethod
	Amount   Money
	Currency string
	// Account is where the buyer asked the money to go after a failed
	// payout; empty means the original account.
	Account   string
	Status    PayoutStatus
	Error     string
	CreatedAt time.Time
	SettledAt time.Time
}

// Settlement is the shop's answer about a payout.
type Settlement struct {
	PayoutID string
	OK       bool
	// Error is the shop's reason when the payout failed.
	Error string
}

// OutboxKind names an outbox's consumer.
type OutboxKind string

// The outboxes.
const (
	// OutboxPayout holds payouts for the shop's webhook.
	OutboxPayout OutboxKind = "payout"
	// OutboxNotice holds notices for buyers on Telegram.
	OutboxNotice OutboxKind = "notice"
)

// OutboxMessage is a message written in the same transaction as the case
// change it announces, so that it is sent exactly when the change is made.
type OutboxMessage struct {
	Kind OutboxKind
	// Key is unique per kind: writing the same key twice keeps the first.
	Key     string
	Payload []byte
}

// OutboxItem is a stored outbox message being delivered.
type OutboxItem struct {
	ID int64
	OutboxMessage
	Attempts  int
	CreatedAt time.Time
}

// EventDraft is an event a Change appends to the case log.
type EventDraft struct {
	Type   EventType
	Status Status
	Rules  []Rule
	Amount Money
	Note   string
}

// Change is one atomic step of a case's life: everything in it happens in
// one transaction, or none of it does. The service decides a change with
// the lifecycle and the policy; the store only applies it, refusing it
// when the case is no longer in From.
type Change struct {
	CaseID int64
	// From is the status the change was decided on; To is the new one.
	From, To Status
	Actor    string
	At       time.Time
	// Events are appended to the log in order; the last one's Status is To.
	Events []EventDraft
	// Decided, when set, replaces the case's decided amounts.
	Decided *Amounts
	// Route, when set, records the chosen payout route.
	Route PayoutRoute
	// Due, when set, replaces the case's deadline (a zero Due clears it).
	Due *Due
	// Appeal counts one more appeal.
	Appeal bool
	// ReviewOverdue marks the human review as late.
	ReviewOverdue bool
	// Evidence is appended to the case's files.
	Evidence []Evidence
	// Payout, when set, is created. Its amount is reserved against the
	// order's amount paid: the store refuses a payout that would refund an
	// order beyond what was paid, or a second live payout for a case.
	Payout *Payout
	// Settle, when set, settles a pending payout: a confirmed payout is
	// final, a failed one releases its reservation.
	Settle *Settlement
	// Credit is added to the buyer's platform balance in the ledger.
	Credit Money
	Outbox []OutboxMessage
}

// Validate checks a change's own consistency before a store applies it.
func (c Change) Validate() error {
	switch {
	case c.CaseID <= 0:
		return FieldError("case_id", "case id is required")
	case !c.From.Valid() || !c.To.Valid():
		return FieldError("status", "unknown status %q -> %q", c.From, c.To)
	case c.Actor == "":
		return FieldError("actor", "actor is required")
	case c.At.IsZero():
		return FieldError("at", "time is required")
	case len(c.Events) == 0:
		return FieldError("events", "a change records at least one event")
	case c.Events[len(c.Events)-1].Status != c.To:
		return FieldError("events", "the last event must leave the case %s", c.To)
	case c.Credit < 0:
		return FieldError("credit", "credit must not be negative")
	case c.Payout != nil && (c.Payout.ID == "" || c.Payout.Amount <= 0):
		return FieldError("payout", "a payout needs an id and a positive amount")
	case len(c.Evidence) > MaxEvidence:
		return FieldError("evidence", "at most %d files", MaxEvidence)
	case c.Decided != nil && (c.Decided.Refund < 0 || c.Decided.Fee < 0 || c.Decided.Deduction < 0):
		return FieldError("decided", "decided amounts must not be negative")
	case c.Route != "" && !c.Route.Valid():
		return FieldError("route", "unknown payout route %q", c.Route)
	case c.Due != nil && (c.Due.Kind == "") != c.Due.At.IsZero():
		return FieldError("due", "a deadline needs both a kind and a time, or neither")
	case c.Settle != nil && c.Settle.PayoutID == "":
		return FieldError("settle", "settling needs a payout id")
	}
	for _, ev := range c.Events {
		if ev.Type == "" || !ev.Status.Valid() {
			return FieldError("events", "every event needs a type and a known status")
		}
	}
	for _, e := range c.Evidence {
		if e.FileID == "" || e.FileUniqueID == "" || (e.Kind != EvidencePhoto && e.Kind != EvidenceDocument) {
			return FieldError("evidence", "evidence needs a kind, file_id and file_unique_id")
		}
	}
	if p := c.Payout; p != nil {
		switch {
		case !p.Route.Valid():
			return FieldError("payout", "unknown payout route %q", p.Route)
		case p.Method != "" && !p.Method.Valid():
			return FieldError("payout", "unknown payment method %q", p.Method)
		case p.Status != "" && p.Status != PayoutPending && p.Status != PayoutConfirmed:
			return FieldError("payout", "a new payout is pending or confirmed, not %s", p.Status)
		}
	}
	for _, m := range c.Outbox {
		if m.Kind == "" || m.Key == "" {
			return FieldError("outbox", "an outbox message needs a kind and a key")
		}
	}
	return nil
}

// CaseFacts are what the store knows around a case, for the first review.
type CaseFacts struct {
	// RefundedBefore is what other cases of the order paid or are paying.
	RefundedBefore Money
	// BuyerRefunds counts the buyer's other refunded cases since the time
	// asked for.
	BuyerRefunds int
	// ReusedEvidence counts this case's files also attached to another
	// case (same file_unique_id).
	ReusedEvidence int
}

// Outbox is a queue of messages delivered at least once. Claiming leases
// items so that a second worker skips them, and a crashed worker's items
// come back when the lease ends.
type Outbox interface {
	// ClaimOutbox leases up to limit due items of a kind until now+lease,
	// oldest first, counting an attempt on each.
	ClaimOutbox(ctx context.Context, kind OutboxKind, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error)
	// CompleteOutbox marks an item delivered.
	CompleteOutbox(ctx context.Context, id int64) error
	// RetryOutbox releases an item to be tried again at next.
	RetryOutbox(ctx context.Context, id int64, next time.Time, lastErr string) error
}

// ValidateClaim refuses an outbox claim that could never lease anything
// sensibly; stores call it before claiming.
func ValidateClaim(kind OutboxKind, now time.Time, lease time.Duration, limit int) error {
	switch {
	case kind == "":
		return FieldError("kind", "outbox kind is required")
	case now.IsZero():
		return FieldError("now", "time is required")
	case lease <= 0:
		return FieldError("lease", "lease must be positive")
	case limit <= 0:
		return FieldError("limit", "limit must be positive")
	}
	return nil
}

// LifecycleStore is what the refund core needs from storage beyond the
// dialog's Store.
type LifecycleStore interface {
	Store
	Outbox
	// Apply makes a change atomically, with the case row locked. A case no
	// longer in From is an ECONFLICT error; so is a payout the money
	// invariants refuse.
	Apply(ctx context.Context, ch Change) (Case, error)
	// CaseWithOrder returns a case, with its evidence, and the order it is
	// about, as Case and Order would; an unknown case is an ENOTFOUND
	// error. Every decision starts from both, so a store reads them at
	// once where it can.
	CaseWithOrder(ctx context.Context, id int64) (Case, Order, error)
	// CaseForReview is CaseWithOrder with the stored case's Facts since
	// the time given: what a first review starts from, read at once.
	CaseForReview(ctx context.Context, id int64, since time.Time) (Case, Order, CaseFacts, error)
	// Facts returns what the first review needs to know around a case;
	// BuyerRefunds counts refunds since the time given.
	Facts(ctx context.Context, c Case, since time.Time) (CaseFacts, error)
	// DueCases returns up to limit open cases whose deadline is at or
	// before now, earliest first.
	DueCases(ctx context.Context, now time.Time, limit int) ([]Case, error)
	// Payout returns a payout by ID, or an ENOTFOUND error.
	Payout(ctx context.Context, id string) (Payout, error)
	// PayoutsByCase returns a case's payouts, oldest first.
	PayoutsByCase(ctx context.Context, caseID int64) ([]Payout, error)
	// Balance returns a user's platform balance in a currency.
	Balance(ctx context.Context, userID int64, currency string) (Money, error)
}
