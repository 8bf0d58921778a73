package inmem

import (
	"context"

	"github.com/refundbot/refundbot/refund"
)

// escalations is the Store's part that opens escalations (buyer chats
// waiting for or held by an agent) and finds them by ID, chat, message
// and thread, and keeps what links them to the agents' chat: card,
// messages, topic, and the buyer's place message (escalation_place.go).
type escalations struct{ *state }

// OpenEscalation queues an escalation for a buyer chat, or returns the
// chat's open one (created false) unchanged but for a missing case ID,
// which it fills in. The store sets the status, holder and times; a zero
// CreatedAt means now. An unknown case is an ENOTFOUND error, checked only
// when the case would be stored, as the PostgreSQL foreign key is.
func (s *escalations) OpenEscalation(ctx context.Context, e refund.Escalation) (refund.Escalation, bool, error) {
	if err := e.ValidateNew(); err != nil {
		return refund.Escalation{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.openByChat[e.BuyerChatID]; ok {
		open := s.escalations[id]
		if open.CaseID == 0 && e.CaseID != 0 {
			if _, ok := s.cases[e.CaseID]; !ok {
				return refund.Escalation{}, false, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(e.CaseID))
			}
			open.CaseID = e.CaseID
			s.escalations[id] = open
		}
		return open, false, nil
	}
	if _, ok := s.cases[e.CaseID]; e.CaseID != 0 && !ok {
		return refund.Escalation{}, false, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(e.CaseID))
	}
	s.lastEscalationID++
	created := refund.Escalation{
		ID:          s.lastEscalationID,
		CaseID:      e.CaseID,
		BuyerChatID: e.BuyerChatID,
		BuyerUserID: e.BuyerUserID,
		Language:    e.Language,
		Reason:      e.Reason,
		Status:      refund.EscalationQueued,
		Due:         normTime(e.Due),
		CreatedAt:   normTime(e.CreatedAt),
	}
	if created.CreatedAt.IsZero() {
		created.CreatedAt = s.clock()
	}
	s.escalations[created.ID] = created
	s.openByChat[created.BuyerChatID] = created.ID
	return created, true, nil
}

// Escalation returns an escalation by ID, or an ENOTFOUND error.
func (s *escalations) Escalation(ctx context.Context, id int64) (refund.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.escalations[id]
	if !ok {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return e, nil
}

// OpenEscalationByChat returns a buyer chat's open escalation, or an
// ENOTFOUND error.
func (s *escalations) OpenEscalationByChat(ctx context.Context, buyerChatID int64) (refund.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.openByChat[buyerChatID]
	if !ok {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "chat %d has no open escalation", buyerChatID)
	}
	return s.escalations[id], nil
}

// LinkMessage records that a message in the agents' chat belongs to an
// escalation; with card set it also becomes the escalation's card.
// Linking a message again is a no-op; a message already linked to another
// escalation is an ECONFLICT error, checked before the escalation's
// existence as the PostgreSQL store meets them.
func (s *escalations) LinkMessage(ctx context.Context, escalationID int64, messageID int, card bool) error {
	if messageID <= 0 {
		return refund.FieldError("message_id", "message id must be positive")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner, ok := s.messages[messageID]; ok && owner != escalationID {
		return refund.Errorf(refund.ECONFLICT, "message %d belongs to escalation %d", messageID, owner)
	}
	e, ok := s.escalations[escalationID]
	if !ok {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", escalationID)
	}
	s.messages[messageID] = escalationID
	if card {
		e.CardMessageID = messageID
		s.escalations[escalationID] = e
	}
	return nil
}

// EscalationByMessage finds the escalation a message in the agents' chat
// belongs to, or returns an ENOTFOUND error.
func (s *escalations) EscalationByMessage(ctx context.Context, messageID int) (refund.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.messages[messageID]
	if !ok {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "message %d belongs to no escalation", messageID)
	}
	return s.escalations[id], nil
}

// SetThread records the escalation's forum topic. Setting the same topic
// again is a no-op; a new topic replaces the old one, which then finds
// nothing. An unknown escalation is an ENOTFOUND error, checked before a
// topic given to another escalation (ECONFLICT), as the PostgreSQL store
// meets them.
func (s *escalations) SetThread(ctx context.Context, id int64, threadID int) error {
	if threadID <= 0 {
		return refund.FieldError("thread_id", "thread id must be positive")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	if !ok {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	if owner, ok := s.threads[threadID]; ok && owner != id {
		return refund.Errorf(refund.ECONFLICT, "thread %d belongs to another escalation", threadID)
	}
	if e.ThreadID != 0 && e.ThreadID != threadID {
		delete(s.threads, e.ThreadID)
	}
	e.ThreadID = threadID
	s.escalations[id] = e
	s.threads[threadID] = id
	return nil
}

// RecordDelivery implements refund.EscalationStore.
func (s *escalations) RecordDelivery(ctx context.Context, id int64, evidencePosted int, buyerTold bool) error {
	if evidencePosted < 0 {
		return refund.FieldError("evidence_posted", "evidence count must not be negative")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	if !ok {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	e.EvidencePosted = max(e.EvidencePosted, evidencePosted)
	e.BuyerTold = e.BuyerTold || buyerTold
	s.escalations[id] = e
	return nil
}

// EscalationByThread finds the escalation of a forum topic, closed or
// not, or returns an ENOTFOUND error.
func (s *escalations) EscalationByThread(ctx context.Context, threadID int) (refund.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.threads[threadID]
	if !ok {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "thread %d belongs to no escalation", threadID)
	}
	return s.escalations[id], nil
}
