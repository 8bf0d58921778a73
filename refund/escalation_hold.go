package refund

import (
	"context"
	"fmt"
	"time"
)

// holds is the EscalationService's part for holding a chat: an agent
// takes it (or pulls the next, or is given one), answers, decides or notes
// its case, and hands it back, or the queue takes it back from an agent
// gone silent; every hand-over goes into the case's log.
type holds struct{ escalationDeps }

// Take gives a queued escalation to an agent. One held by another agent,
// or closed, is an ECONFLICT error; taking one's own again succeeds. An
// agent Telegram reports out of the team chat is an EFORBIDDEN error:
// someone who left the team (or whose account was thrown out of it) must
// not start talking to buyers in the platform's name.
func (s *holds) Take(ctx context.Context, id int64, agent Agent) (Escalation, error) {
	if !agent.Active {
		return Escalation{}, Errorf(EUNAUTHORIZED, "agent %d is not active staff", agent.UserID)
	}
	if agent.LeftTeam {
		return Escalation{}, Errorf(EFORBIDDEN, "agent %d has left the team chat", agent.UserID)
	}
	at := s.now().UTC()
	got, err := s.store.Take(ctx, id, agent.UserID, at)
	if err != nil {
		return Escalation{}, fmt.Errorf("take escalation %d: %w", id, err)
	}
	// A holder pressing Take again keeps the hold from its first time;
	// only a new hand-over goes in the log. (Stores keep microseconds.)
	if got.TakenAt.Truncate(time.Microsecond).Equal(at.Truncate(time.Microsecond)) {
		s.logHandOver(ctx, got, agent.UserID, EventAgentTook, "")
	}
	return got, nil
}

// Release hands a held chat back to the bot and ends the escalation: the
// buyer is back in the dialog, and asks for a person again if they need
// one. Only the holder may release (ECONFLICT otherwise).
func (s *holds) Release(ctx context.Context, id int64, agent Agent) (Escalation, error) {
	got, err := s.store.Release(ctx, id, agent.UserID)
	if err != nil {
		return Escalation{}, fmt.Errorf("release escalation %d: %w", id, err)
	}
	if err := s.store.CloseEscalation(ctx, got.ID, s.now().UTC()); err != nil {
		return Escalation{}, fmt.Errorf("close escalation %d: %w", got.ID, err)
	}
	s.logHandOver(ctx, got, agent.UserID, EventAgentReleased, "")
	got.Status = EscalationClosed
	return got, nil
}

// Replied records that the holder answered the buyer, which keeps the
// hold; a reply from anyone else (a hold released meanwhile) is ECONFLICT.
func (s *holds) Replied(ctx context.Context, id int64, agent Agent) error {
	if err := s.store.TouchAgentReply(ctx, id, agent.UserID, s.now().UTC()); err != nil {
		return fmt.Errorf("reply on escalation %d: %w", id, err)
	}
	return nil
}

// Decide applies an agent's verdict to the escalation's case through the
// refund Service, and a decided case ends the escalation. An escalation
// with no case is an EINVALID error.
func (s *holds) Decide(ctx context.Context, e Escalation, agent Agent, v Verdict) (Case, error) {
	if e.CaseID == 0 {
		return Case{}, Errorf(EINVALID, "escalation %d has no case to decide", e.ID)
	}
	c, err := s.cases.Decide(ctx, e.CaseID, ActorAgent(agent.UserID), v)
	if err != nil {
		return Case{}, err
	}
	if err := s.store.CloseEscalation(ctx, e.ID, s.now().UTC()); err != nil {
		return Case{}, fmt.Errorf("close escalation %d: %w", e.ID, err)
	}
	return c, nil
}

// Note adds an agent's internal note to the escalation's case.
func (s *holds) Note(ctx context.Context, e Escalation, agent Agent, note string) (Case, error) {
	if e.CaseID == 0 {
		return Case{}, Errorf(EINVALID, "escalation %d has no case to note on", e.ID)
	}
	return s.cases.Note(ctx, e.CaseID, ActorAgent(agent.UserID), note)
}

// RequeueSilent puts back in the queue every hold whose agent has not
// answered for timeout, and returns them as they were held.
func (s *holds) RequeueSilent(ctx context.Context, timeout time.Duration) ([]Escalation, error) {
	released, err := s.store.ReleaseSilentHolds(ctx, s.now().UTC().Add(-timeout))
	if err != nil {
		return nil, fmt.Errorf("release silent holds: %w", err)
	}
	for _, e := range released {
		s.logHandOver(ctx, e, e.AgentUserID, EventAgentReleased, "no answer within the hold timeout; back in the queue")
	}
	return released, nil
}

// logHandOver puts a hand-over in the case's log. The hand-over itself is
// done by then and the people are told, so a failure here is logged rather
// than undoing it. (Escalations without a case have no log of their own.)
func (s *holds) logHandOver(ctx context.Context, e Escalation, agentUserID int64, what EventType, note string) {
	if e.CaseID == 0 {
		return
	}
	if err := s.cases.logEvent(ctx, e.CaseID, ActorAgent(agentUserID), what, note); err != nil {
		s.logger.ErrorContext(ctx, "log hand-over in the case log", "case", FormatCaseNumber(e.CaseID), "what", what, "err", err)
	}
}

// Next gives the agent the most urgent queued escalation (deadline, then
// age), as Take would; one another agent takes first is skipped. No
// queued escalation is an ENOTFOUND error.
func (s *holds) Next(ctx context.Context, agent Agent) (Escalation, error) {
	open, err := s.open(ctx)
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
func (s *holds) Assign(ctx context.Context, e Escalation, limit int) (agent Agent, ok bool, err error) {
	staff, err := s.agents.Agents(ctx)
	if err != nil {
		return Agent{}, false, fmt.Errorf("agents: %w", err)
	}
	open, err := s.open(ctx)
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
