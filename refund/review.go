package refund

import (
	"context"
	"fmt"
	"time"
)

// A case's first review: Submit stores it, Review runs the policy on it,
// and the outcome is planned as the lifecycle's next status with its
// deadline and notices. The planning is the plan's (assess and the steps
// after it), since decisions by agents and buyers plan the same outcomes.

// FirstReviewGrace is how long a submitted case waits for the review the
// dialog runs at once before the deadline sweeper runs it instead.
const FirstReviewGrace = time.Minute

// Submit stores a new case. Its first review is the caller's next step
// (the dialog runs it once the buyer has the case number); if that never
// happens, the case is due for it after FirstReviewGrace and the sweeper
// runs it, so no case is left waiting in submitted.
func (s *Service) Submit(ctx context.Context, n NewCase) (Case, error) {
	n.Due = Due{Kind: DueFirstReview, At: s.now().UTC().Add(FirstReviewGrace)}
	c, err := s.store.CreateCase(ctx, n)
	if err != nil {
		return Case{}, fmt.Errorf("submit case for order %s: %w", n.OrderID, err)
	}
	return c, nil
}

// Review runs the automatic first review of a submitted case. A case
// already past it is returned as it is, so that the dialog and the
// deadline sweeper can both call Review without harm.
func (s *Service) Review(ctx context.Context, caseID int64) (Case, error) {
	// The facts come with the case, so the review reads the store once;
	// the change adds no files, so the stored case is the one to assess.
	at := s.now().UTC()
	c, o, facts, err := s.store.CaseForReview(ctx, caseID, at.Add(-s.policy.FrequentRefundPeriod))
	if err != nil {
		return Case{}, fmt.Errorf("load case %d for review: %w", caseID, err)
	}
	if c.Status != StatusSubmitted {
		return c, nil
	}
	p := s.planAt(c, o, ActorSystem, at)
	if err := p.move(CaseReview, EventDraft{}); err != nil {
		return Case{}, err
	}
	if err := p.assess(ctx, len(c.Evidence), facts); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// autoReview assesses a case in auto_review and plans the outcome.
func (p *plan) autoReview(ctx context.Context, files int) error {
	// Facts looks at the files of the case it is given: include the ones
	// this change adds, so that a file reused from another case is caught
	// when it comes in as an answer too.
	withNew := p.c
	withNew.Evidence = append(append([]Evidence(nil), p.c.Evidence...), p.ch.Evidence...)
	facts, err := p.s.store.Facts(ctx, withNew, p.ch.At.Add(-p.s.policy.FrequentRefundPeriod))
	if err != nil {
		return fmt.Errorf("facts of case %d: %w", p.c.ID, err)
	}
	return p.assess(ctx, files, facts)
}

// assess runs the policy on a case in auto_review with its facts and
// plans the outcome.
func (p *plan) assess(ctx context.Context, files int, facts CaseFacts) error {
	d := p.s.policy.Assess(Facts{Order: p.order, Reason: p.c.Reason, Evidence: files, AskedAt: p.c.CreatedAt,
		RefundedBefore: facts.RefundedBefore, BuyerRefunds: facts.BuyerRefunds, ReusedEvidence: facts.ReusedEvidence})
	p.ch.Decided = &Amounts{Refund: d.Amount, Fee: d.Fee, Deduction: d.Deduction}
	e := EventDraft{Rules: d.Rules, Amount: d.Amount}
	switch d.Outcome {
	case OutcomeApprove:
		if err := p.move(CaseApprove, e); err != nil {
			return err
		}
		if err := p.approved(ctx); err != nil {
			return err
		}
	case OutcomeReject:
		if err := p.move(CaseReject, e); err != nil {
			return err
		}
		p.rejected()
	case OutcomeNeedsInfo:
		if err := p.move(CaseAskInfo, e); err != nil {
			return err
		}
		p.askedInfo()
	default:
		if err := p.move(CaseEscalate, e); err != nil {
			return err
		}
		p.escalated()
	}
	p.notice.UsedPercent = d.UsedPercent
	if p.agentNotice != nil {
		p.agentNotice.UsedPercent = d.UsedPercent
	}
	return nil
}

// approved plans what follows an approval: with one possible route the
// money moves at once, with two the buyer chooses.
func (p *plan) approved(ctx context.Context) error {
	routes := p.s.policy.Routes(p.order)
	if len(routes) == 1 {
		return p.startPayout(ctx, routes[0], "")
	}
	deadline := p.ch.At.Add(p.s.policy.PayoutChoiceTimeout)
	p.due(DueRoute, deadline)
	p.tell(NoticeStatus).Deadline = deadline
	return nil
}

// rejected plans what follows a refusal: the appeal window, if the buyer
// has not appealed already.
func (p *plan) rejected() {
	canAppeal := p.c.Appeals == 0
	if canAppeal {
		p.due(DueAppeal, p.ch.At.Add(p.s.policy.AppealWindow))
	} else {
		p.clearDue()
	}
	n := p.tell(NoticeStatus)
	n.CanAppeal = canAppeal
	if canAppeal {
		n.Deadline = p.ch.Due.At
	}
}

// askedInfo plans the buyer's window to answer, reminded halfway.
func (p *plan) askedInfo() {
	p.due(DueReminder, p.ch.At.Add(p.s.policy.NeedsInfoTimeout/2))
	p.tell(NoticeStatus).Deadline = p.ch.At.Add(p.s.policy.NeedsInfoTimeout)
}

// escalated plans the human review, due within the policy's business
// days.
func (p *plan) escalated() {
	due := p.s.policy.Calendar.AddBusinessDays(p.ch.At, p.s.policy.ReviewBusinessDays, p.s.loc)
	p.due(DueReview, due)
	p.tell(NoticeStatus).Deadline = due
	// The agents get the same facts, to put the case in their queue.
	p.tellAgents(NoticeEscalated).Deadline = due
}
