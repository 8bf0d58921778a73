package refund

import (
	"context"
	"fmt"
	"time"
)

// The queue: what waits and for how long, the queue board the desk keeps
// in the team chat, and the next escalation an agent pulls or is given.

// QueueStats is what the team's queue board shows.
type QueueStats struct {
	Queued, Held int
	// Overdue are open escalations past their deadline.
	Overdue int
	// OldestWait is how long the longest-queued escalation has waited.
	OldestWait time.Duration
}

// Stats counts the open escalations at now.
func (s *EscalationService) Stats(ctx context.Context, now time.Time) (QueueStats, error) {
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
func (s *EscalationService) Board(ctx context.Context, chatID int64) (Board, bool, error) {
	return s.store.Board(ctx, chatID)
}

// boardClaimStale is how long a claim to post the board holds off other
// replicas: one that died after claiming is replaced after it.
const boardClaimStale = time.Minute

// ClaimBoard reserves posting the chat's first board: true for one caller.
func (s *EscalationService) ClaimBoard(ctx context.Context, chatID int64) (bool, error) {
	return s.store.ClaimBoard(ctx, chatID, s.now().UTC(), boardClaimStale)
}

// SaveBoard records the board's message and what it shows.
func (s *EscalationService) SaveBoard(ctx context.Context, b Board) error {
	return s.store.SaveBoard(ctx, b)
}

// Next gives the agent the most urgent queued escalation (deadline, then
// age), as Take would; one another agent takes first is skipped. No
// queued escalation is an ENOTFOUND error.
func (s *EscalationService) Next(ctx context.Context, agent Agent) (Escalation, error) {
	open, err := s.Open(ctx)
	if err != nil {
		return Escalation{}, err
	}
	for _, e := range open {
		if e.Status != EscalationQueued {
			continue
		}
		got, err := s.Take(ctx, e.ID, agent)
		if ErrorCode(err) == ECONFLICT {
			continue // taken by someone else meanwhile
		}
		return got, err
	}
	return Escalation{}, Errorf(ENOTFOUND, "no escalation is waiting")
}

// Assign gives a new escalation to an online agent with room under cap
// open chats, the least loaded first and, among equals, in turn by the
// escalation's number, as a round robin would. ok is false when nobody
// has room; the escalation then waits in the queue.
func (s *EscalationService) Assign(ctx context.Context, e Escalation, limit int) (agent Agent, ok bool, err error) {
	staff, err := s.agents.Agents(ctx)
	if err != nil {
		return Agent{}, false, fmt.Errorf("agents: %w", err)
	}
	open, err := s.Open(ctx)
	if err != nil {
		return Agent{}, false, err
	}
	load := map[int64]int{}
	for _, o := range open {
		if o.Status == EscalationHeld {
			load[o.AgentUserID]++
		}
	}
	var least []Agent
	for _, a := range staff {
		switch n := load[a.UserID]; {
		case !a.Online || a.LeftTeam || n >= limit:
		case len(least) == 0 || n < load[least[0].UserID]:
			least = []Agent{a}
		case n == load[least[0].UserID]:
			least = append(least, a)
		}
	}
	for i := range least {
		a := least[(int(e.ID)+i)%len(least)]
		got, err := s.Take(ctx, e.ID, a)
		switch ErrorCode(err) {
		case "":
			if got.AgentUserID == a.UserID {
				return a, true, nil
			}
		case ECONFLICT:
			return Agent{}, false, nil // someone took it first
		default:
			return Agent{}, false, err
		}
	}
	return Agent{}, false, nil
}
