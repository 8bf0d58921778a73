package refund

import (
	"context"
	"fmt"
)

// team is the EscalationService's part that sees the staff: who is an
// agent, what Telegram last said of them, and who is online for assigned
// work.
type team struct{ escalationDeps }

// Agent returns an active agent, or an ENOTFOUND error: only they may act
// on escalations.
func (s *team) Agent(ctx context.Context, userID int64) (Agent, error) {
	a, err := s.agents.Agent(ctx, userID)
	if err != nil {
		return Agent{}, fmt.Errorf("agent %d: %w", userID, err)
	}
	return a, nil
}

// Staff lists the active agents, by staff number.
func (s *team) Staff(ctx context.Context) ([]Agent, error) {
	agents, err := s.agents.Agents(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return agents, nil
}

// RecordProfile keeps what Telegram reported of an agent (a zero At means
// now) and returns the record before and after, so that the caller can
// tell the team of an agent who is first seen out of the team chat.
func (s *team) RecordProfile(ctx context.Context, userID int64, p AgentProfile) (ProfileChange, error) {
	if p.At.IsZero() {
		p.At = s.now()
	}
	p.At = p.At.UTC()
	ch, err := s.agents.RecordProfile(ctx, userID, p)
	if err != nil {
		return ProfileChange{}, fmt.Errorf("record profile of agent %d: %w", userID, err)
	}
	return ch, nil
}

// SetOnline records an agent's /online or /offline.
func (s *team) SetOnline(ctx context.Context, agent Agent, online bool) error {
	if err := s.agents.SetOnline(ctx, agent.UserID, online); err != nil {
		return fmt.Errorf("set agent %d online %v: %w", agent.UserID, online, err)
	}
	return nil
}
