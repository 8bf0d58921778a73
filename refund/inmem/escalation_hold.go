package inmem

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// holds is the Store's part that keeps who holds an escalation: an agent
// takes it, answers in it, hands it back or is found silent, and it is
// closed.
type holds struct{ *state }

// Take gives a queued escalation to an agent, or hands a held one back to
// its holder, keeping the time it was first taken. One held by another
// agent, or closed, is an ECONFLICT error; an unknown one ENOTFOUND.
func (s *holds) Take(ctx context.Context, id, agentUserID int64, at time.Time) (refund.Escalation, error) {
	if agentUserID <= 0 {
		return refund.Escalation{}, refund.FieldError("agent_user_id", "an agent's Telegram user id is required")
	}
	if at.IsZero() {
		return refund.Escalation{}, refund.FieldError("at", "time is required")
	}
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	switch {
	case !ok:
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status == refund.EscalationHeld && e.AgentUserID == agentUserID:
		return e, nil
	case e.Status != refund.EscalationQueued:
		return refund.Escalation{}, refusal(e, "take")
	}
	e.Status, e.AgentUserID, e.TakenAt = refund.EscalationHeld, agentUserID, normTime(at)
	if e.FirstTakenAt.IsZero() {
		e.FirstTakenAt = e.TakenAt
	}
	s.escalations[id] = e
	return e, nil
}

// Release puts a held escalation back in the queue with nothing left of
// the holder. Anyone but the holder, or an escalation not held, is an
// ECONFLICT error; an unknown one ENOTFOUND.
func (s *holds) Release(ctx context.Context, id, agentUserID int64) (refund.Escalation, error) {
	if agentUserID <= 0 {
		return refund.Escalation{}, refund.FieldError("agent_user_id", "an agent's Telegram user id is required")
	}
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	switch {
	case !ok:
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status != refund.EscalationHeld || e.AgentUserID != agentUserID:
		return refund.Escalation{}, refusal(e, "release")
	}
	e.Status, e.AgentUserID = refund.EscalationQueued, 0
	e.TakenAt, e.LastAgentReplyAt = time.Time{}, time.Time{}
	s.escalations[id] = e
	return e, nil
}

// refusal says why an escalation cannot be taken, released or touched, in
// the PostgreSQL store's words.
func refusal(e refund.Escalation, verb string) error {
	if e.Status == refund.EscalationHeld {
		return refund.Errorf(refund.ECONFLICT, "cannot %s escalation %d: held by agent %d", verb, e.ID, e.AgentUserID)
	}
	return refund.Errorf(refund.ECONFLICT, "cannot %s escalation %d: it is %s", verb, e.ID, e.Status)
}

// CloseEscalation ends an escalation, keeping its last holder, or returns
// an ENOTFOUND error. Closing it again keeps the first closing time.
// What the buyer wrote while queued and no agent read goes with it.
func (s *holds) CloseEscalation(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return refund.FieldError("at", "time is required")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	switch {
	case !ok:
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status == refund.EscalationClosed:
		return nil
	}
	e.Status, e.ClosedAt = refund.EscalationClosed, normTime(at)
	s.escalations[id] = e
	delete(s.openByChat, e.BuyerChatID)
	delete(s.waiting, id)
	return nil
}

// TouchAgentReply records that the holder answered the buyer; the time
// only moves forward. A reply by anyone but the holder, or to an
// escalation not held, is an ECONFLICT error and refreshes nothing; an
// unknown escalation is ENOTFOUND.
func (s *holds) TouchAgentReply(ctx context.Context, id, agentUserID int64, at time.Time) error {
	if agentUserID <= 0 {
		return refund.FieldError("agent_user_id", "an agent's Telegram user id is required")
	}
	if at.IsZero() {
		return refund.FieldError("at", "time is required")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	switch {
	case !ok:
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status != refund.EscalationHeld || e.AgentUserID != agentUserID:
		return refusal(e, "touch")
	}
	if at := normTime(at); at.After(e.LastAgentReplyAt) {
		e.LastAgentReplyAt = at
		s.escalations[id] = e
	}
	return nil
}

// ReleaseSilentHolds puts back in the queue every held escalation whose
// holder has said nothing to the buyer since before the given time, and
// returns them as they were held, longest silent first. Finding and
// releasing them is one critical section, so a reply that lands first
// keeps its hold and concurrent calls release each hold once.
func (s *holds) ReleaseSilentHolds(ctx context.Context, before time.Time) ([]refund.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	silentSince := func(e refund.Escalation) time.Time {
		if !e.LastAgentReplyAt.IsZero() {
			return e.LastAgentReplyAt
		}
		return e.TakenAt
	}
	// Compared at the stored precision, as PostgreSQL compares them.
	before = normTime(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var silent []refund.Escalation
	for _, e := range s.openEscalations(refund.EscalationHeld) {
		if silentSince(e).Before(before) {
			silent = append(silent, e)
		}
	}
	slices.SortFunc(silent, func(a, b refund.Escalation) int {
		return cmp.Or(silentSince(a).Compare(silentSince(b)), cmp.Compare(a.ID, b.ID))
	})
	for _, e := range silent {
		e.Status, e.AgentUserID = refund.EscalationQueued, 0
		e.TakenAt, e.LastAgentReplyAt = time.Time{}, time.Time{}
		s.escalations[e.ID] = e
	}
	return silent, nil
}
