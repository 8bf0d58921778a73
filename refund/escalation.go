package refund

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// EscalationService owns the life of an escalation, a buyer's chat
// waiting for or held by a person: it is opened, taken by an agent,
// released, closed by a decision, or put back in the queue when its holder
// goes silent. Every hand-over of a chat about a case goes into that
// case's log, as any change of the case does; an agent's decision goes
// through the refund Service with its rules and notices. The desk calls
// this service only, never the store.
//
// Its methods are its parts', one a file, each embedded so that its
// methods are the service's; all of them work with the same stores.
type EscalationService struct {
	escalations // this file
	queue       // escalation_queue.go
	holds       // escalation_hold.go
	places      // escalation_place.go
	buyerWords  // escalation_words.go
	team        // escalation_agents.go
}

// escalationDeps is what every part of the EscalationService works with.
type escalationDeps struct {
	store  EscalationStore
	agents AgentStore
	cases  *Service
	logger *slog.Logger
	now    func() time.Time
}

// open is Open, for every part that reads the queue.
func (s *escalationDeps) open(ctx context.Context) ([]Escalation, error) {
	open, err := s.store.OpenEscalations(ctx)
	if err != nil {
		return nil, fmt.Errorf("open escalations: %w", err)
	}
	return open, nil
}

// escalations is the EscalationService's part that opens escalations,
// finds them, and records what links them to the team chat: messages,
// card delivery, topic.
type escalations struct{ escalationDeps }

// EscalationServiceConfig wires an EscalationService.
type EscalationServiceConfig struct {
	Escalations EscalationStore
	Agents      AgentStore
	// Cases decides and notes cases for the agents.
	Cases  *Service
	Logger *slog.Logger
	Now    func() time.Time
}

// NewEscalationService checks cfg and returns the service; a missing
// part is named.
func NewEscalationService(cfg EscalationServiceConfig) (*EscalationService, error) {
	switch {
	case cfg.Escalations == nil:
		return nil, errors.New("refund: the escalation service needs an EscalationStore")
	case cfg.Agents == nil:
		return nil, errors.New("refund: the escalation service needs an AgentStore")
	case cfg.Cases == nil:
		return nil, errors.New("refund: the escalation service needs the case Service")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := escalationDeps{store: cfg.Escalations, agents: cfg.Agents, cases: cfg.Cases, logger: cfg.Logger, now: cfg.Now}
	return &EscalationService{escalations: escalations{d}, queue: queue{d}, holds: holds{d}, places: places{d},
		buyerWords: buyerWords{d}, team: team{d}}, nil
}

// Escalate queues a buyer's chat for a person, or returns its open
// escalation (created false), filling in the case if it had none.
func (s *escalations) Escalate(ctx context.Context, e Escalation) (got Escalation, created bool, err error) {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now().UTC()
	}
	e.Status = EscalationQueued
	if err := e.ValidateNew(); err != nil {
		return Escalation{}, false, err
	}
	got, created, err = s.store.OpenEscalation(ctx, e)
	if err != nil {
		return Escalation{}, false, fmt.Errorf("escalate chat %d: %w", e.BuyerChatID, err)
	}
	return got, created, nil
}

// Escalation returns an escalation, or an ENOTFOUND error.
func (s *escalations) Escalation(ctx context.Context, id int64) (Escalation, error) {
	e, err := s.store.Escalation(ctx, id)
	if err != nil {
		return Escalation{}, fmt.Errorf("escalation %d: %w", id, err)
	}
	return e, nil
}

// OpenByChat returns a buyer chat's open escalation, or an ENOTFOUND error.
func (s *escalations) OpenByChat(ctx context.Context, buyerChatID int64) (Escalation, error) {
	e, err := s.store.OpenEscalationByChat(ctx, buyerChatID)
	if err != nil {
		return Escalation{}, fmt.Errorf("open escalation of chat %d: %w", buyerChatID, err)
	}
	return e, nil
}

// ByMessage finds the escalation a team-chat message belongs to, or an
// ENOTFOUND error.
func (s *escalations) ByMessage(ctx context.Context, messageID int) (Escalation, error) {
	e, err := s.store.EscalationByMessage(ctx, messageID)
	if err != nil {
		return Escalation{}, fmt.Errorf("escalation of message %d: %w", messageID, err)
	}
	return e, nil
}

// ByThread finds the escalation of a forum topic, or an ENOTFOUND error.
func (s *escalations) ByThread(ctx context.Context, threadID int) (Escalation, error) {
	e, err := s.store.EscalationByThread(ctx, threadID)
	if err != nil {
		return Escalation{}, fmt.Errorf("escalation of topic %d: %w", threadID, err)
	}
	return e, nil
}

// Link records that a team-chat message belongs to an escalation, so that
// a reply to it finds the buyer; card marks the case card.
func (s *escalations) Link(ctx context.Context, id int64, messageID int, card bool) error {
	if err := s.store.LinkMessage(ctx, id, messageID, card); err != nil {
		return fmt.Errorf("link message %d to escalation %d: %w", messageID, id, err)
	}
	return nil
}

// RecordDelivery records how far an escalation's card went out: the
// evidence files posted under it and whether the buyer was told their
// place. A retried delivery reads it back to go on where it stopped.
func (s *escalations) RecordDelivery(ctx context.Context, id int64, evidencePosted int, buyerTold bool) error {
	if err := s.store.RecordDelivery(ctx, id, evidencePosted, buyerTold); err != nil {
		return fmt.Errorf("record delivery of escalation %d: %w", id, err)
	}
	return nil
}

// SetThread records an escalation's forum topic.
func (s *escalations) SetThread(ctx context.Context, id int64, threadID int) error {
	if err := s.store.SetThread(ctx, id, threadID); err != nil {
		return fmt.Errorf("record topic %d of escalation %d: %w", threadID, id, err)
	}
	return nil
}
