package refund

import (
	"context"
	"fmt"
)

// Sweep acts on every deadline that has passed: reminders, closing cases
// nobody answered, routing unchosen payouts, flagging late reviews. It
// returns how many cases it moved. A case someone else moved first is
// skipped.
func (s *Service) Sweep(ctx context.Context, limit int) (int, error) {
	now := s.now().UTC()
	due, err := s.store.DueCases(ctx, now, limit)
	if err != nil {
		return 0, fmt.Errorf("due cases: %w", err)
	}
	moved := 0
	for _, c := range due {
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		err := s.sweepOne(ctx, c)
		switch {
		case err == nil:
			moved++
		case ErrorCode(err) == ECONFLICT:
		default:
			return moved, fmt.Errorf("deadline %s of case %s: %w", c.Due.Kind, c.Number(), err)
		}
	}
	return moved, nil
}

func (s *Service) sweepOne(ctx context.Context, c Case) error {
	if c.Due.Kind == DueFirstReview && c.Status == StatusSubmitted {
		_, err := s.Review(ctx, c.ID)
		return err
	}
	o, err := s.store.Order(ctx, c.OrderID)
	if err != nil {
		return fmt.Errorf("load order %s: %w", c.OrderID, err)
	}
	p := s.plan(c, o, ActorSystem)
	switch {
	case c.Due.Kind == DueReminder && c.Status == StatusNeedsInfo:
		closeAt := c.Due.At.Add(s.policy.NeedsInfoTimeout - s.policy.NeedsInfoTimeout/2)
		p.note(EventReminder, EventDraft{})
		p.due(DueClose, closeAt)
		p.tell(NoticeReminder).Deadline = closeAt
	case c.Due.Kind == DueClose && c.Status == StatusNeedsInfo,
		c.Due.Kind == DueAppeal && c.Status == StatusRejected:
		if err := p.move(CaseExpire, EventDraft{Note: string(c.Due.Kind)}); err != nil {
			return err
		}
		p.clearDue()
		p.tell(NoticeStatus).Note = string(c.Due.Kind)
	case c.Due.Kind == DueRoute && (c.Status == StatusApproved):
		if err := p.startPayout(ctx, RouteOriginal, ""); err != nil {
			return err
		}
	case c.Due.Kind == DueReview && c.Status == StatusHumanReview:
		p.note(EventReviewOverdue, EventDraft{})
		p.ch.ReviewOverdue = true
		p.clearDue()
		p.tellAgents(NoticeReviewOverdue)
	default:
		// A deadline that no longer fits the status: drop it, on record.
		p.note(EventDeadlineDropped, EventDraft{Note: string(c.Due.Kind)})
		p.clearDue()
	}
	_, err = p.apply(ctx)
	return err
}
