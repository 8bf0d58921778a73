package refund

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// What agents do to a case: decide it after human review, note it, and
// have the desk's events (takeovers, ratings) kept in its history.

// Verdict is a human reviewer's decision.
type Verdict struct {
	Outcome Outcome
	// Route, when set on an approval, sends the money that way at once
	// instead of letting the buyer choose; it must be open to the order.
	Route PayoutRoute
	// Amount is what to refund when approving; 0 means the amount the
	// policy proposed.
	Amount Money
	Note   string
}

// Decide applies a human reviewer's verdict to a case in human review.
// actor is "agent:<id>".
func (s *Service) Decide(ctx context.Context, caseID int64, actor string, v Verdict) (Case, error) {
	if !strings.HasPrefix(actor, "agent:") {
		return Case{}, FieldError("actor", "a verdict needs an agent")
	}
	c, o, err := s.load(ctx, caseID, 0)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusHumanReview {
		return Case{}, Errorf(ECONFLICT, "case %s is %s, not in human review", c.Number(), c.Status)
	}
	p := s.plan(c, o, actor)
	e := EventDraft{Note: strings.TrimSpace(v.Note)}
	switch v.Outcome {
	case OutcomeApprove:
		facts, err := s.store.Facts(ctx, c, p.ch.At)
		if err != nil {
			return Case{}, fmt.Errorf("facts of case %d: %w", c.ID, err)
		}
		amount := v.Amount
		if amount == 0 {
			amount = c.Decided.Refund
		}
		if left := o.AmountPaid - facts.RefundedBefore; amount <= 0 || amount > left {
			return Case{}, FieldError("amount", "amount must be 0.01-%s", max(left, 0))
		}
		p.ch.Decided = &Amounts{Refund: amount, Fee: c.Decided.Fee, Deduction: c.Decided.Deduction}
		if amount != c.Decided.Refund {
			p.ch.Decided.Fee, p.ch.Decided.Deduction = 0, 0
		}
		e.Amount = amount
		if err := p.move(CaseApprove, e); err != nil {
			return Case{}, err
		}
		if v.Route != "" {
			if !slices.Contains(s.policy.Routes(o), v.Route) {
				return Case{}, FieldError("route", "route %s is not open to this order", v.Route)
			}
			err = p.startPayout(ctx, v.Route, "")
		} else {
			err = p.approved(ctx)
		}
		if err != nil {
			return Case{}, err
		}
	case OutcomeReject:
		if e.Note == "" {
			return Case{}, FieldError("note", "a refusal must tell the buyer why")
		}
		if err := p.move(CaseReject, e); err != nil {
			return Case{}, err
		}
		p.rejected()
	case OutcomeNeedsInfo:
		if e.Note == "" {
			return Case{}, FieldError("note", "say what is missing")
		}
		if err := p.move(CaseAskInfo, e); err != nil {
			return Case{}, err
		}
		p.askedInfo()
	default:
		return Case{}, FieldError("outcome", "outcome must be approve, reject or needs_info")
	}
	p.notice.Note = e.Note
	return p.apply(ctx)
}

// Note adds an agent's internal note to a case's log. Buyers never see
// notes; they are for the team and the audit trail.
func (s *Service) Note(ctx context.Context, caseID int64, actor, note string) (Case, error) {
	note = strings.TrimSpace(note)
	switch {
	case !strings.HasPrefix(actor, "agent:"):
		return Case{}, FieldError("actor", "notes are by agents")
	case note == "" || utf8.RuneCountInString(note) > MaxStatementRunes:
		return Case{}, FieldError("note", "a note is 1-%d characters", MaxStatementRunes)
	}
	c, o, err := s.load(ctx, caseID, 0)
	if err != nil {
		return Case{}, err
	}
	p := s.plan(c, o, actor)
	p.note(EventAgentNote, EventDraft{Note: note})
	return p.apply(ctx)
}

// logEvent puts a desk event in a case's history (an agent taking over
// the buyer's chat or handing it back, the buyer's rating), for the
// escalation service.
func (s *Service) logEvent(ctx context.Context, caseID int64, actor string, t EventType, note string) error {
	c, o, err := s.load(ctx, caseID, 0)
	if err != nil {
		return err
	}
	p := s.plan(c, o, actor)
	p.note(t, EventDraft{Note: note})
	_, err = p.apply(ctx)
	return err
}
