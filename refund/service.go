package refund

import (
	"context"
	"fmt"
	"time"
)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Store  LifecycleStore
	Policy Policy
	// Location is the shop's time zone, where business days are counted.
	Location *time.Location
	Now      func() time.Time
	// Kick, when set, is told which outbox just got work, so that its
	// worker need not wait for its next poll.
	Kick func(OutboxKind)
}

// Service is the refund core: it reviews cases, takes decisions, moves
// money and keeps deadlines, always through the lifecycle and one atomic
// Change at a time.
type Service struct {
	store  LifecycleStore
	policy Policy
	loc    *time.Location
	now    func() time.Time
	kick   func(OutboxKind)
}

// NewService returns a Service; the policy must be valid.
func NewService(cfg ServiceConfig) (*Service, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("refund policy: %w", err)
	}
	s := &Service{store: cfg.Store, policy: cfg.Policy, loc: cfg.Location, now: cfg.Now, kick: cfg.Kick}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.kick == nil {
		s.kick = func(OutboxKind) {}
	}
	return s, nil
}

// Policy returns the rulebook the service applies.
func (s *Service) Policy() Policy { return s.policy }

// load returns a case and its order. A case of another buyer is reported
// exactly like a missing one, when buyer is not 0.
func (s *Service) load(ctx context.Context, caseID, buyer int64) (Case, Order, error) {
	c, o, err := s.store.CaseWithOrder(ctx, caseID)
	if err != nil {
		return Case{}, Order{}, fmt.Errorf("load case %d with its order: %w", caseID, err)
	}
	if buyer != 0 && c.BuyerUserID != buyer {
		return Case{}, Order{}, Errorf(ENOTFOUND, "case %s not found", FormatCaseNumber(caseID))
	}
	return c, o, nil
}

// Case returns a case with its evidence, or an ENOTFOUND error: the
// dialogs read cases through the service, their one door to the domain.
func (s *Service) Case(ctx context.Context, id int64) (Case, error) { return s.store.Case(ctx, id) }

// Order returns an order, or an ENOTFOUND error.
func (s *Service) Order(ctx context.Context, id string) (Order, error) { return s.store.Order(ctx, id) }

// CasesByOrder returns an order's cases, newest first.
func (s *Service) CasesByOrder(ctx context.Context, orderID string) ([]Case, error) {
	return s.store.CasesByOrder(ctx, orderID)
}

// Events returns a case's history, oldest first.
func (s *Service) Events(ctx context.Context, caseID int64) ([]Event, error) {
	return s.store.Events(ctx, caseID)
}
