package inmem

import (
	"context"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The buyer's place in the queue: the message that tells it. The history
// of waits its estimate is made from is the queue's (RecentWaits).

// RecordPlace implements refund.EscalationStore.
func (s *escalations) RecordPlace(ctx context.Context, id int64, text string) error {
	return s.updateEscalation(ctx, id, func(e *refund.Escalation) { e.PlaceText = text })
}

// LinkPlace implements refund.EscalationStore.
func (s *escalations) LinkPlace(ctx context.Context, id int64, messageID int) error {
	if messageID <= 0 {
		return refund.FieldError("message_id", "message id must be positive")
	}
	return s.updateEscalation(ctx, id, func(e *refund.Escalation) { e.PlaceMessageID = messageID })
}

// updateEscalation changes a stored escalation under the lock, or returns
// an ENOTFOUND error.
func (s *escalations) updateEscalation(ctx context.Context, id int64, change func(e *refund.Escalation)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	if !ok {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	change(&e)
	s.escalations[id] = e
	return nil
}

// SwapPlace implements refund.EscalationStore.
func (s *escalations) SwapPlace(ctx context.Context, id int64, from, to string, editedAt time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	if !ok || e.Status != refund.EscalationQueued || e.PlaceMessageID == 0 || e.PlaceText != from {
		return false, nil
	}
	e.PlaceText = to
	if !editedAt.IsZero() {
		e.PlaceEditedAt = normTime(editedAt)
	}
	s.escalations[id] = e
	return true, nil
}
