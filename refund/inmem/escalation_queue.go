package inmem

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// queue is the Store's part that reads the queue of open escalations,
// keeps the board that shows it, and reads how long buyers waited lately,
// which a queued buyer's estimate is made from.
type queue struct{ *state }

// queueOrder is the PostgreSQL store's "due NULLS LAST, created_at, id".
func queueOrder(a, b refund.Escalation) int {
	if a.Due.IsZero() != b.Due.IsZero() {
		if a.Due.IsZero() {
			return 1
		}
		return -1
	}
	return cmp.Or(a.Due.Compare(b.Due), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

// openEscalations returns the open escalations with a status in statuses,
// in queue order. The caller holds the lock.
func (s *state) openEscalations(statuses ...refund.EscalationStatus) []refund.Escalation {
	var es []refund.Escalation
	for _, id := range s.openByChat {
		if e := s.escalations[id]; slices.Contains(statuses, e.Status) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, queueOrder)
	return es
}

// QueuePosition is the escalation's place among queued ones, by due time
// then creation (1 is next); 0 when it is held or closed; an ENOTFOUND
// error when there is no such escalation.
func (s *queue) QueuePosition(ctx context.Context, id int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.escalations[id]
	switch {
	case !ok:
		return 0, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status != refund.EscalationQueued:
		return 0, nil
	}
	queue := s.openEscalations(refund.EscalationQueued)
	return slices.IndexFunc(queue, func(q refund.Escalation) bool { return q.ID == id }) + 1, nil
}

// OpenEscalations lists queued and held escalations in the queue's order.
func (s *queue) OpenEscalations(ctx context.Context) ([]refund.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.openEscalations(refund.EscalationQueued, refund.EscalationHeld), nil
}

// boardClaim is a team chat's board, or a claim to post it.
type boardClaim struct {
	board     refund.Board
	claimedAt time.Time
}

// Board implements refund.EscalationStore.
func (s *queue) Board(ctx context.Context, chatID int64) (refund.Board, bool, error) {
	if err := ctx.Err(); err != nil {
		return refund.Board{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.boards[chatID]
	if !ok || c.board.MessageID == 0 {
		return refund.Board{}, false, nil
	}
	return c.board, true, nil
}

// ClaimBoard implements refund.EscalationStore.
func (s *queue) ClaimBoard(ctx context.Context, chatID int64, at time.Time, staleAfter time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.boards[chatID]; ok && (c.board.MessageID != 0 || !c.claimedAt.Before(at.Add(-staleAfter))) {
		return false, nil
	}
	s.boards[chatID] = boardClaim{board: refund.Board{ChatID: chatID}, claimedAt: at}
	return true, nil
}

// SaveBoard implements refund.EscalationStore.
func (s *queue) SaveBoard(ctx context.Context, b refund.Board) error {
	if b.MessageID <= 0 {
		return refund.FieldError("message_id", "a board is a message")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boards[b.ChatID] = boardClaim{board: b, claimedAt: s.boards[b.ChatID].claimedAt}
	return nil
}

// RecentWaits implements refund.EscalationStore.
func (s *queue) RecentWaits(ctx context.Context, since time.Time, limit int) ([]refund.QueueWait, error) {
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
