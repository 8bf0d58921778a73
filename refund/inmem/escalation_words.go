package inmem

import (
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// What buyers write to the desk outside a held chat: messages while they
// wait in the queue, and a comment on their rating.

// KeepWaiting implements refund.EscalationStore.
func (s *Store) KeepWaiting(ctx context.Context, id int64, text string, at time.Time, limit int) (bool, error) {
	if text == "" {
		return false, refund.FieldError("text", "nothing to keep")
	}
	if at.IsZero() {
		return false, refund.FieldError("at", "time is required")
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	switch {
	case !ok:
		return false, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status != refund.EscalationQueued || len(s.waiting[id]) >= limit:
		return false, nil
	}
	s.lastWaitingSeq++
	s.waiting[id] = append(s.waiting[id], refund.WaitingMessage{Seq: s.lastWaitingSeq, Text: text, At: normTime(at)})
	return true, nil
}

// WaitingMessages implements refund.EscalationStore.
func (s *Store) WaitingMessages(ctx context.Context, id int64) ([]refund.WaitingMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.waiting[id]), nil
}

// ClearWaiting implements refund.EscalationStore.
func (s *Store) ClearWaiting(ctx context.Context, id int64, throughSeq int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	left := slices.DeleteFunc(slices.Clone(s.waiting[id]), func(m refund.WaitingMessage) bool { return m.Seq <= throughSeq })
	if len(left) == 0 {
		delete(s.waiting, id)
		return nil
	}
	s.waiting[id] = left
	return nil
}

// CommentRating implements refund.EscalationStore.
func (s *Store) CommentRating(ctx context.Context, id, buyerUserID int64, comment string) (refund.Escalation, error) {
	if err := refund.CheckRatingComment(comment); err != nil {
		return refund.Escalation{}, err
	}
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.buyersEscalationLocked(id, buyerUserID)
	switch {
	case err != nil:
		return refund.Escalation{}, err
	case e.Rating == 0:
		return refund.Escalation{}, refund.Errorf(refund.EINVALID, "escalation %d is not rated", id)
	case e.RatingComment != "":
		return e, refund.Errorf(refund.ECONFLICT, "the rating of escalation %d has a comment already", id)
	}
	e.RatingComment = comment
	s.escalations[id] = e
	return e, nil
}
