package refund

import (
	"context"
	"fmt"
	"time"
)

// queue is the EscalationService's part that reads the queue: what waits
// and for how long, and the queue board the desk keeps in the team chat.
// Handing the next escalation to an agent is the holds' (Next, Assign).
type queue struct{ escalationDeps }

// QueuePosition is an escalation's place in the queue (1 is next), 0 when
// it is not queued.
func (s *queue) QueuePosition(ctx context.Context, id int64) (int, error) {
	n, err := s.store.QueuePosition(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("queue position of escalation %d: %w", id, err)
	}
	return n, nil
}

// Open lists the open escalations, by deadline then age.
func (s *queue) Open(ctx context.Context) ([]Escalation, error) { return s.open(ctx) }

// QueueStats is what the team's queue board shows.
type QueueStats struct {
	Queued, Held int
	// Overdue are open escalations past their deadline.
	Overdue int
	// OldestWait is how long the longest-queued escalation has waited.
	OldestWait time.Duration
}

// Stats counts the open escalations at now.
func (s *queue) Stats(ctx context.Context, now time.Time) (QueueStats, error) {
	open, err := s.Open(ctx)
	if err != nil {
		return QueueStats{}, err
	}
	var q QueueStats
	for _, e := range open {
		if e.Status == EscalationHeld {
			q.Held++
		} else {
			q.Queued++
			q.OldestWait = max(q.OldestWait, now.Sub(e.CreatedAt))
		}
		if !e.Due.IsZero() && now.After(e.Due) {
			q.Overdue++
		}
	}
	return q, nil
}

// Board returns the team chat's queue board, if it has one.
func (s *queue) Board(ctx context.Context, chatID int64) (Board, bool, error) {
	return s.store.Board(ctx, chatID)
}

// boardClaimStale is how long a claim to post the board holds off other
// replicas: one that died after claiming is replaced after it.
const boardClaimStale = time.Minute

// ClaimBoard reserves posting the chat's first board: true for one caller.
func (s *queue) ClaimBoard(ctx context.Context, chatID int64) (bool, error) {
	return s.store.ClaimBoard(ctx, chatID, s.now().UTC(), boardClaimStale)
}

// SaveBoard records the board's message and what it shows.
func (s *queue) SaveBoard(ctx context.Context, b Board) error {
	return s.store.SaveBoard(ctx, b)
}
