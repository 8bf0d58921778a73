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
type EscalationService struct {
	store  EscalationStore
	agents AgentStore
	cases  *Service
	logger *slog.Logger
	now    func() time.Time
}

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
	return &EscalationService{store: cfg.Escalations, agents: cfg.Agents, cases: cfg.Cases, logger: cfg.Logger,
		now: cfg.Now}, nil
}

// Escalate queues a buyer's chat for a person, or returns its open
// escalation (created false), filling in the case if it had none.
func (s *EscalationService) Escalate(ctx context.Context, e Escalation) (got Escalation, created bool, err error) {
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
func (s *EscalationService) Escalation(ctx context.Context, id int64) (Escalation, error) {
	e, err := s.store.Escalation(ctx, id)
	if err != nil {
		return Escalation{}, fmt.Errorf("escalation %d: %w", id, err)
	}
	return e, nil
}

// OpenByChat returns a buyer chat's open escalation, or an ENOTFOUND error.
func (s *EscalationService) OpenByChat(ctx context.Context, buyerChatID int64) (Escalation, error) {
	e, err := s.store.OpenEscalationByChat(ctx, buyerChatID)
	if err != nil {
		return Escalation{}, fmt.Errorf("open escalation of chat %d: %w", buyerChatID, err)
	}
	return e, nil
}

// ByMessage finds the escalation a team-chat message belongs to, or an
// ENOTFOUND error.
func (s *EscalationService) ByMessage(ctx context.Context, messageID int) (Escalation, error) {
	e, err := s.store.EscalationByMessage(ctx, messageID)
	if err != nil {
		return Escalation{}, fmt.Errorf("escalation of message %d: %w", messageID, err)
	}
	return e, nil
}

// ByThread finds the escalation of a forum topic, or an ENOTFOUND error.
func (s *EscalationService) ByThread(ctx context.Context, threadID int) (Escalation, error) {
	e, err := s.store.EscalationByThread(ctx, threadID)
	if err != nil {
		return Escalation{}, fmt.Errorf("escalation of topic %d: %w", threadID, err)
	}
	return e, nil
}

// Link records that a team-chat message belongs to an escalation, so that
// a reply to it finds the buyer; card marks the case card.
func (s *EscalationService) Link(ctx context.Context, id int64, messageID int, card bool) error {
	if err := s.store.LinkMessage(ctx, id, messageID, card); err != nil {
		return fmt.Errorf("link message %d to escalation %d: %w", messageID, id, err)
	}
	return nil
}

// RecordDelivery records how far an escalation's card went out: the
// evidence files posted under it and whether the buyer was told their
// place. A retried delivery reads it back to go on where it stopped.
func (s *EscalationService) RecordDelivery(ctx context.Context, id int64, evidencePosted int, buyerTold bool) error {
	if err := s.store.RecordDelivery(ctx, id, evidencePosted, buyerTold); err != nil {
		return fmt.Errorf("record delivery of escalation %d: %w", id, err)
	}
	return nil
}

// SetThread records an escalation's forum topic.
func (s *EscalationService) SetThread(ctx context.Context, id int64, threadID int) error {
	if err := s.store.SetThread(ctx, id, threadID); err != nil {
		return fmt.Errorf("record topic %d of escalation %d: %w", threadID, id, err)
	}
	return nil
}

// QueuePosition is an escalation's place in the queue (1 is next), 0 when
// it is not queued.
func (s *EscalationService) QueuePosition(ctx context.Context, id int64) (int, error) {
	n, err := s.store.QueuePosition(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("queue position of escalation %d: %w", id, err)
	}
	return n, nil
}

// Open lists the open escalations, by deadline then age.
func (s *EscalationService) Open(ctx context.Context) ([]Escalation, error) {
	open, err := s.store.OpenEscalations(ctx)
	if err != nil {
		return nil, fmt.Errorf("open escalations: %w", err)
	}
	return open, nil
}

// Agent returns an active agent, or an ENOTFOUND error: only they may act
// on escalations.
func (s *EscalationService) Agent(ctx context.Context, userID int64) (Agent, error) {
	a, err := s.agents.Agent(ctx, userID)
	if err != nil {
		return Agent{}, fmt.Errorf("agent %d: %w", userID, err)
	}
	return a, nil
}

// Staff lists the active agents, by staff number.
func (s *EscalationService) Staff(ctx context.Context) ([]Agent, error) {
	agents, err := s.agents.Agents(ctx)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return agents, nil
}

// RecordProfile keeps what Telegram reported of an agent (a zero At means
// now) and returns the record before and after, so that the caller can
// tell the team of an agent who is first seen out of the team chat.
func (s *EscalationService) RecordProfile(ctx context.Context, userID int64, p AgentProfile) (ProfileChange, error) {
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

// Take gives a queued escalation to an agent. One held by another agent,
// or closed, is an ECONFLICT error; taking one's own again succeeds. An
// agent Telegram reports out of the team chat is an EFORBIDDEN error:
// someone who left the team (or whose account was thrown out of it) must
// not start talking to buyers in the platform's name.
func (s *EscalationService) Take(ctx context.Context, id int64, agent Agent) (Escalation, error) {
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
func (s *EscalationService) Release(ctx context.Context, id int64, agent Agent) (Escalation, error) {
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
func (s *EscalationService) Replied(ctx context.Context, id int64, agent Agent) error {
	if err := s.store.TouchAgentReply(ctx, id, agent.UserID, s.now().UTC()); err != nil {
		return fmt.Errorf("reply on escalation %d: %w", id, err)
	}
	return nil
}

// Decide applies an agent's verdict to the escalation's case through the
// refund Service, and a decided case ends the escalation. An escalation
// with no case is an EINVALID error.
func (s *EscalationService) Decide(ctx context.Context, e Escalation, agent Agent, v Verdict) (Case, error) {
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
func (s *EscalationService) Note(ctx context.Context, e Escalation, agent Agent, note string) (Case, error) {
	if e.CaseID == 0 {
		return Case{}, Errorf(EINVALID, "escalation %d has no case to note on", e.ID)
	}
	return s.cases.Note(ctx, e.CaseID, ActorAgent(agent.UserID), note)
}

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

// SetOnline records an agent's /online or /offline.
func (s *EscalationService) SetOnline(ctx context.Context, agent Agent, online bool) error {
	if err := s.agents.SetOnline(ctx, agent.UserID, online); err != nil {
		return fmt.Errorf("set agent %d online %v: %w", agent.UserID, online, err)
	}
	return nil
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

// Rate records the buyer's 1-5 for a closed escalation, once, in the
// case's history too.
func (s *EscalationService) Rate(ctx context.Context, id, buyerUserID int64, rating int) (Escalation, error) {
	e, err := s.store.Rate(ctx, id, buyerUserID, rating)
	if err != nil {
		return e, fmt.Errorf("rate escalation %d: %w", id, err)
	}
	if e.CaseID != 0 {
		if err := s.cases.logEvent(ctx, e.CaseID, ActorBuyer, EventRated, fmt.Sprintf("%d/5", rating)); err != nil {
			s.logger.ErrorContext(ctx, "log rating in the case log", "case", FormatCaseNumber(e.CaseID), "err", err)
		}
	}
	return e, nil
}

// RequeueSilent puts back in the queue every hold whose agent has not
// answered for timeout, and returns them as they were held.
func (s *EscalationService) RequeueSilent(ctx context.Context, timeout time.Duration) ([]Escalation, error) {
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
func (s *EscalationService) logHandOver(ctx context.Context, e Escalation, agentUserID int64, what EventType, note string) {
	if e.CaseID == 0 {
		return
	}
	if err := s.cases.logEvent(ctx, e.CaseID, ActorAgent(agentUserID), what, note); err != nil {
		s.logger.ErrorContext(ctx, "log hand-over in the case log", "case", FormatCaseNumber(e.CaseID), "what", what, "err", err)
	}
}
