package refund

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
)

// plan is a Change being built: each step checks the lifecycle. Its steps
// are here, and the outcomes they plan are in the files of what decides
// them: the review's (assess, approved, rejected, askedInfo, escalated in
// review.go) and the payout's (startPayout in payout.go).
type plan struct {
	s      *Service
	c      Case
	order  Order
	status Status
	ch     Change
	notice *Notice
	// agentNotice, when set, goes to the agents' outbox as well.
	agentNotice *Notice
}

func (s *Service) plan(c Case, o Order, actor string) *plan {
	return s.planAt(c, o, actor, s.now().UTC())
}

// planAt is plan for a change decided at a time already taken.
func (s *Service) planAt(c Case, o Order, actor string, at time.Time) *plan {
	return &plan{s: s, c: c, order: o, status: c.Status,
		ch: Change{CaseID: c.ID, From: c.Status, Actor: actor, At: at}}
}

// move fires a lifecycle event and records it.
func (p *plan) move(ev CaseEvent, e EventDraft) error {
	to, err := NextStatus(p.status, ev)
	if err != nil {
		return err
	}
	p.status = to
	e.Type, e.Status = EventStatusChanged, to
	p.ch.Events = append(p.ch.Events, e)
	return nil
}

// note records an event that does not change the status.
func (p *plan) note(t EventType, e EventDraft) {
	e.Type, e.Status = t, p.status
	p.ch.Events = append(p.ch.Events, e)
}

func (p *plan) due(kind DueKind, at time.Time) { p.ch.Due = &Due{Kind: kind, At: at.UTC()} }

func (p *plan) clearDue() { p.ch.Due = &Due{} }

// tell sets the notice the buyer gets for this change.
func (p *plan) tell(kind NoticeKind) *Notice {
	p.notice = p.newNotice(kind)
	return p.notice
}

// tellAgents sets the notice the agents get for this change.
func (p *plan) tellAgents(kind NoticeKind) *Notice {
	p.agentNotice = p.newNotice(kind)
	return p.agentNotice
}

// newNotice describes the change as planned so far.
func (p *plan) newNotice(kind NoticeKind) *Notice {
	o, c := p.order, p.c
	amounts := c.Decided
	if p.ch.Decided != nil {
		amounts = *p.ch.Decided
	}
	n := &Notice{Kind: kind, CaseID: c.ID, OrderID: c.OrderID, ChatID: c.ChatID, UserID: c.BuyerUserID,
		Language: c.Language, Status: p.status, Amount: amounts.Refund, Fee: amounts.Fee,
		Deduction: amounts.Deduction, Paid: o.AmountPaid, Currency: c.Currency, Method: o.PaymentMethod,
		PayoutDays: p.s.policy.PayoutDays[o.PaymentMethod], Routes: p.s.policy.Routes(o), At: p.ch.At}
	if len(p.ch.Events) > 0 {
		n.Rules = p.ch.Events[len(p.ch.Events)-1].Rules
	}
	return n
}

// apply writes the change with its notices and wakes the outboxes.
func (p *plan) apply(ctx context.Context) (Case, error) {
	p.ch.To = p.status
	for _, n := range []struct {
		notice *Notice
		kind   OutboxKind
	}{{p.notice, OutboxNotice}, {p.agentNotice, OutboxAgent}} {
		if n.notice == nil {
			continue
		}
		payload, err := json.Marshal(n.notice)
		if err != nil {
			return Case{}, fmt.Errorf("encode notice of case %d: %w", p.c.ID, err)
		}
		// The change itself is applied at most once (the store checks
		// From), so the key only has to be unique: a random part keeps two
		// changes within one clock tick apart.
		p.ch.Outbox = append(p.ch.Outbox, OutboxMessage{Kind: n.kind,
			Key: fmt.Sprintf("%d:%s:%s:%s", p.c.ID, n.notice.Kind, p.status, rand.Text()), Payload: payload})
	}
	kicks := map[OutboxKind]bool{}
	for _, m := range p.ch.Outbox {
		kicks[m.Kind] = true
	}
	c, err := p.s.store.Apply(ctx, p.ch)
	if err != nil {
		return Case{}, fmt.Errorf("case %s %s -> %s: %w", p.c.Number(), p.ch.From, p.ch.To, err)
	}
	for k := range kicks {
		p.s.kick(k)
	}
	return c, nil
}
