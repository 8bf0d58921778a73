package inmem

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The buyer's place in the queue: the message that tells it, and the
// history of waits its estimate is made from.

// RecordPlace implements refund.EscalationStore.
func (s *Store) RecordPlace(ctx context.Context, id int64, text string) error {
	return s.updateEscalation(ctx, id, func(e *refund.Escalation) { e.PlaceText = text })
}

// LinkPlace implements refund.EscalationStore.
func (s *Store) LinkPlace(ctx context.Context, id int64, messageID int) error {
	if messageID <= 0 {
		return refund.FieldError("message_id", "message id must be positive")
	}
	return s.updateEscalation(ctx, id, func(e *refund.Escalation) { e.PlaceMessageID = messageID })
}

// updateEscalation changes a stored escalation under the lock, or returns
// an ENOTFOUND error.
func (s *Store) updateEscalation(ctx context.Context, id int64, change func(e *refund.Escalation)) error {
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
func (s *Store) SwapPlace(ctx context.Context, id int64, from, to string, editedAt time.Time) (bool, error) {
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

// RecentWaits implements refund.EscalationStore.
func (s *Store) RecentWaits(ctx context.Context, since time.Time, limit int) ([]refund.QueueWait, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	since = normTime(since)
	s.mu.RLock()
	var taken []refund.Escalation
	for _, e := range s.escalations {
		if !e.FirstTakenAt.IsZero() && !e.FirstTakenAt.Before(since) {
			taken = append(taken, e)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(taken, func(a, b refund.Escalation) int {
		return cmp.Or(b.FirstTakenAt.Compare(a.FirstTakenAt), cmp.Compare(b.ID, a.ID))
	})
	out := make([]refund.QueueWait, 0, min(len(taken), max(limit, 0)))
	for _, e := range taken[:min(len(taken), max(limit, 0))] {
		out = append(out, refund.QueueWait{CreatedAt: e.CreatedAt, TakenAt: e.FirstTakenAt})
	}
	return out, nil
}
