package inmem

import (
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// buyerWords is the Store's part that keeps what buyers tell the desk
// outside a held chat: messages while they wait in the queue, and their
// rating with its comment.
type buyerWords struct{ *state }

// KeepWaiting implements refund.EscalationStore.
func (s *buyerWords) KeepWaiting(ctx context.Context, id int64, text string, at time.Time, limit int) (bool, error) {
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
func (s *buyerWords) WaitingMessages(ctx context.Context, id int64) ([]refund.WaitingMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.waiting[id]), nil
}

// ClearWaiting implements refund.EscalationStore.
func (s *buyerWords) ClearWaiting(ctx context.Context, id int64, throughSeq int64) error {
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

// Rate implements refund.EscalationStore.
func (s *buyerWords) Rate(ctx context.Context, id, buyerUserID int64, rating int) (refund.Escalation, error) {
	if rating < 1 || rating > 5 {
		return refund.Escalation{}, refund.FieldError("rating", "a rating is 1 to 5")
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
	case e.Status != refund.EscalationClosed:
		return refund.Escalation{}, refund.Errorf(refund.EINVALID, "escalation %d is still open", id)
	case e.Rating != 0:
		return e, refund.Errorf(refund.ECONFLICT, "escalation %d is rated already", id)
	}
	e.Rating = rating
	s.escalations[id] = e
	return e, nil
}

// CommentRating implements refund.EscalationStore.
func (s *buyerWords) CommentRating(ctx context.Context, id, buyerUserID int64, comment string) (refund.Escalation, error) {
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

// buyersEscalationLocked reads an escalation for its buyer: another
// buyer's is as unknown to them as a missing one (ENOTFOUND). The caller
// holds the lock.
func (s *buyerWords) buyersEscalationLocked(id, buyerUserID int64) (refund.Escalation, error) {
	e, ok := s.escalations[id]
	if !ok || e.BuyerUserID != buyerUserID {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return e, nil
}
