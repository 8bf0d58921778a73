package inmem

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// agents is the Store's part that keeps the desk's staff
// (refund.AgentStore).
type agents struct{ *state }

// PutAgent adds an agent or updates one, making it active. Active and
// AddedAt are the store's: AddedAt is when the agent was first put, kept
// through updates and removals, as the PostgreSQL store keeps it. A staff
// number or username held by another active agent is an ECONFLICT error
// naming the field.
func (s *agents) PutAgent(ctx context.Context, a refund.Agent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.agents {
		if other.UserID == a.UserID || !other.Active {
			continue
		}
		if other.StaffNumber == a.StaffNumber {
			return &refund.Error{Code: refund.ECONFLICT, Field: "staff_number",
				Message: fmt.Sprintf("staff number %s belongs to another agent", a.StaffNumber)}
		}
		if a.Username != "" && other.Username == a.Username {
			return &refund.Error{Code: refund.ECONFLICT, Field: "username",
				Message: fmt.Sprintf("username @%s belongs to another agent", a.Username)}
		}
	}
	a.Active, a.AddedAt = true, s.clock()
	a.TelegramFirstName, a.TelegramLastName, a.ProfileAt, a.LeftTeam = "", "", time.Time{}, false
	if old, ok := s.agents[a.UserID]; ok {
		// What Telegram reported stays: it is not the admin's to set.
		a.AddedAt = old.AddedAt
		a.TelegramFirstName, a.TelegramLastName, a.ProfileAt, a.LeftTeam = old.TelegramFirstName,
			old.TelegramLastName, old.ProfileAt, old.LeftTeam
		a.Online = old.Online
	}
	s.agents[a.UserID] = a
	return nil
}

// RecordProfile records what Telegram reported of an active agent and
// returns the record before and after; a username now reported for this
// agent is cleared from any other agent's record. An unknown or removed
// agent is an ENOTFOUND error.
func (s *agents) RecordProfile(ctx context.Context, userID int64, p refund.AgentProfile) (refund.ProfileChange, error) {
	if err := ctx.Err(); err != nil {
		return refund.ProfileChange{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before, ok := s.agents[userID]
	if !ok || !before.Active {
		return refund.ProfileChange{}, refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
	}
	after := before.WithProfile(p)
	if after.Username != "" && after.Username != before.Username {
		for id, other := range s.agents {
			if id != userID && other.Active && other.Username == after.Username {
				other.Username = ""
				s.agents[id] = other
			}
		}
	}
	s.agents[userID] = after
	return refund.ProfileChange{Before: before, After: after}, nil
}

// RemoveAgent deactivates an agent, or returns an ENOTFOUND error for a
// user who was never one. Removing an agent twice is not an error.
func (s *agents) RemoveAgent(ctx context.Context, userID int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[userID]
	if !ok {
		return refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
	}
	a.Active = false
	s.agents[userID] = a
	return nil
}

// Agent returns an active agent, or an ENOTFOUND error.
func (s *agents) Agent(ctx context.Context, userID int64) (refund.Agent, error) {
	if err := ctx.Err(); err != nil {
		return refund.Agent{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.agents[userID]
	if !ok || !a.Active {
		return refund.Agent{}, refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
	}
	return a, nil
}

// AgentByUsername returns the active agent with this username, given in
// any case and with or without @, or an ENOTFOUND error. An empty
// username finds nobody, though agents without one exist.
func (s *agents) AgentByUsername(ctx context.Context, username string) (refund.Agent, error) {
	if err := ctx.Err(); err != nil {
		return refund.Agent{}, err
	}
	name := refund.NormalizeUsername(username)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, a := range s.agents {
		if name != "" && a.Active && a.Username == name {
			return a, nil
		}
	}
	return refund.Agent{}, refund.Errorf(refund.ENOTFOUND, "agent @%s not found", name)
}

// Agents lists active agents by staff number, compared byte by byte as
// the PostgreSQL store's "C" collation does.
func (s *agents) Agents(ctx context.Context) ([]refund.Agent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var agents []refund.Agent
	for _, a := range s.agents {
		if a.Active {
			agents = append(agents, a)
		}
	}
	slices.SortFunc(agents, func(a, b refund.Agent) int {
		return cmp.Or(cmp.Compare(a.StaffNumber, b.StaffNumber), cmp.Compare(a.UserID, b.UserID))
	})
	return agents, nil
}

// SetOnline implements refund.AgentStore.
func (s *agents) SetOnline(ctx context.Context, userID int64, online bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[userID]
	if !ok || !a.Active {
		return refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
	}
	a.Online = online
	s.agents[userID] = a
	return nil
}
