package refund

import (
	"slices"
	"time"
)

// FirstReviewOutcome is how a case's automatic first review ended. The
// approvals are told apart by the rule that let the money go without a
// human, so that operators can see which lane carries the load.
type FirstReviewOutcome string

// The outcomes of a first review.
const (
	// FirstReviewFastLane is an approval citing RuleFastLane: small,
	// clear, the platform at fault.
	FirstReviewFastLane FirstReviewOutcome = "approved_fast_lane"
	// FirstReviewAdvance is an approval citing RuleAdvanceCompensation
	// (先行赔付): a duplicate charge or goods never delivered, paid before
	// any evidence.
	FirstReviewAdvance FirstReviewOutcome = "approved_advance"
	// FirstReviewPolicy is any other automatic approval (RuleAutoApproved:
	// the policy's amount, e.g. a change of mind less its fee).
	FirstReviewPolicy FirstReviewOutcome = "approved_policy"
	// FirstReviewRejected is a refusal.
	FirstReviewRejected FirstReviewOutcome = "rejected"
	// FirstReviewNeedsInfo asked the buyer for evidence.
	FirstReviewNeedsInfo FirstReviewOutcome = "needs_info"
	// FirstReviewHuman sent the case to a human reviewer.
	FirstReviewHuman FirstReviewOutcome = "human_review"
)

// FirstReviewOutcomes returns every outcome, approvals first.
func FirstReviewOutcomes() []FirstReviewOutcome {
	return []FirstReviewOutcome{FirstReviewFastLane, FirstReviewAdvance, FirstReviewPolicy,
		FirstReviewRejected, FirstReviewNeedsInfo, FirstReviewHuman}
}

// Approved reports whether the outcome let the money go without a human.
func (o FirstReviewOutcome) Approved() bool {
	return o == FirstReviewFastLane || o == FirstReviewAdvance || o == FirstReviewPolicy
}

// FirstReviewOf classifies the event that ended a first review: Service.Review
// moves a case submitted → auto_review → outcome in one change, so the event
// right after a case's first auto_review event has the status and rules of
// the outcome. ok is false for an event no review ends with. Both stores
// classify with this function, so that they cannot disagree.
func FirstReviewOf(status Status, rules []Rule) (outcome FirstReviewOutcome, ok bool) {
	switch status {
	case StatusApproved:
		// Advance first: a decision never cites both, but if it did, 先行赔付
		// is the stronger promise to the buyer.
		switch {
		case slices.Contains(rules, RuleAdvanceCompensation):
			return FirstReviewAdvance, true
		case slices.Contains(rules, RuleFastLane):
			return FirstReviewFastLane, true
		}
		return FirstReviewPolicy, true
	case StatusRejected:
		return FirstReviewRejected, true
	case StatusNeedsInfo:
		return FirstReviewNeedsInfo, true
	case StatusHumanReview:
		return FirstReviewHuman, true
	}
	return "", false
}

// EscalationReasons returns every escalation reason.
func EscalationReasons() []EscalationReason {
	return []EscalationReason{EscalateHumanReview, EscalateOverdue, EscalateAsked, EscalateRepeated, EscalateFlagged}
}

// PayoutStatuses returns every status a payout can have.
func PayoutStatuses() []PayoutStatus {
	return []PayoutStatus{PayoutPending, PayoutConfirmed, PayoutFailed}
}

// OutboxKinds returns every outbox the refund core writes to.
func OutboxKinds() []OutboxKind { return []OutboxKind{OutboxPayout, OutboxNotice, OutboxAgent} }

// Stats is what the store knows about the whole shop at one moment, for
// monitoring. It is read from the store rather than counted in a process,
// so that every replica reports the same numbers and a restart loses none.
// Every map has an entry for every known key (zero when there is nothing),
// so that a monitoring series exists before its first event; a key the
// store holds that this version does not know is kept as it is.
type Stats struct {
	// Cases counts cases by current status.
	Cases map[Status]int64
	// FirstReviews counts cases by how their automatic first review
	// ended; cases not yet reviewed are not counted. The event log is
	// append-only, so these only ever grow.
	FirstReviews map[FirstReviewOutcome]int64
	// Escalations counts every escalation ever opened, by reason.
	Escalations map[EscalationReason]int64
	// EscalationsOpen counts escalations queued or held.
	EscalationsOpen int64
	// EscalationsOverdue counts the open escalations whose Due, when the
	// buyer should have had an answer, is before the time the stats were
	// taken at: buyers a person has kept waiting too long.
	EscalationsOverdue int64
	// Payouts counts payouts by status. Confirmed and failed ones stay so
	// (a retry is a new payout), so those two only ever grow.
	Payouts map[PayoutStatus]int64
	// Outbox describes each outbox's undelivered items.
	Outbox map[OutboxKind]OutboxStats
}

// OutboxStats describes one outbox's undelivered items.
type OutboxStats struct {
	// Pending counts undelivered items, whether due now, leased to a
	// worker or waiting for a retry.
	Pending int64
	// Failing counts the undelivered items whose last attempt failed (a
	// retry is scheduled): for payouts, the shop's webhook refusing or
	// not answering.
	Failing int64
	// OldestDue is when the oldest item that is due (undelivered and
	// available to claim at the time the stats were taken) was created;
	// zero when none is due.
	OldestDue time.Time
}

// Lag is how long the oldest due item has waited since it was written, at
// now: 0 when none is due. It grows when workers fall behind or an item
// keeps failing, and stays 0 while items are delivered as they come.
func (o OutboxStats) Lag(now time.Time) time.Duration {
	if o.OldestDue.IsZero() {
		return 0
	}
	return max(now.Sub(o.OldestDue), 0)
}

// NewStats returns Stats with every known key at zero, for a store to add
// its counts to.
func NewStats() Stats {
	s := Stats{
		Cases:        make(map[Status]int64),
		FirstReviews: make(map[FirstReviewOutcome]int64),
		Escalations:  make(map[EscalationReason]int64),
		Payouts:      make(map[PayoutStatus]int64),
		Outbox:       make(map[OutboxKind]OutboxStats),
	}
	for _, k := range Statuses() {
		s.Cases[k] = 0
	}
	for _, k := range FirstReviewOutcomes() {
		s.FirstReviews[k] = 0
	}
	for _, k := range EscalationReasons() {
		s.Escalations[k] = 0
	}
	for _, k := range PayoutStatuses() {
		s.Payouts[k] = 0
	}
	for _, k := range OutboxKinds() {
		s.Outbox[k] = OutboxStats{}
	}
	return s
}

// FirstReviewsApproved counts first reviews that approved without a human.
func (s Stats) FirstReviewsApproved() int64 {
	var n int64
	for o, c := range s.FirstReviews {
		if o.Approved() {
			n += c
		}
	}
	return n
}

// AutoApprovalRatio is the share of first reviews that approved without a
// human, 0 when there were none.
func (s Stats) AutoApprovalRatio() float64 {
	var all int64
	for _, c := range s.FirstReviews {
		all += c
	}
	if all == 0 {
		return 0
	}
	return float64(s.FirstReviewsApproved()) / float64(all)
}
