package inmem

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The escalations: buyer chats waiting for or held by an agent.

// OpenEscalation queues an escalation for a buyer chat, or returns the
// chat's open one (created false) unchanged but for a missing case ID,
// which it fills in. The store sets the status, holder and times; a zero
// CreatedAt means now. An unknown case is an ENOTFOUND error, checked only
// when the case would be stored, as the PostgreSQL foreign key is.
func (s *Store) OpenEscalation(ctx context.Context, e refund.Escalation) (refund.Escalation, bool, error) {
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
func (s *Store) Escalation(ctx context.Context, id int64) (refund.Escalation, error) {
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
func (s *Store) OpenEscalationByChat(ctx context.Context, buyerChatID int64) (refund.Escalation, error) {
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
func (s *Store) LinkMessage(ctx context.Context, escalationID int64, messageID int, card bool) error {
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
func (s *Store) EscalationByMessage(ctx context.Context, messageID int) (refund.Escalation, error) {
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
func (s *Store) SetThread(ctx context.Context, id int64, threadID int) error {
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
func (s *Store) RecordDelivery(ctx context.Context, id int64, evidencePosted int, buyerTold bool) error {
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
func (s *Store) EscalationByThread(ctx context.Context, threadID int) (refund.Escalation, error) {
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

// Take gives a queued escalation to an agent, or hands a held one back to
// its holder, keeping the time it was first taken. One held by another
// agent, or closed, is an ECONFLICT error; an unknown one ENOTFOUND.
func (s *Store) Take(ctx context.Context, id, agentUserID int64, at time.Time) (refund.Escalation, error) {
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
	s.escalations[id] = e
	return e, nil
}

// Release puts a held escalation back in the queue with nothing left of
// the holder. Anyone but the holder, or an escalation not held, is an
// ECONFLICT error; an unknown one ENOTFOUND.
func (s *Store) Release(ctx context.Context, id, agentUserID int64) (refund.Escalation, error) {
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
func (s *Store) CloseEscalation(ctx context.Context, id int64, at time.Time) error {
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
	return nil
}

// TouchAgentReply records that the holder answered the buyer; the time
// only moves forward. A reply by anyone but the holder, or to an
// escalation not held, is an ECONFLICT error and refreshes nothing; an
// unknown escalation is ENOTFOUND.
func (s *Store) TouchAgentReply(ctx context.Context, id, agentUserID int64, at time.Time) error {
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

// queueOrder is the PostgreSQL store's "due NULLS LAST, created_at, id".
func queueOrder(a, b refund.Escalation) int {
	if a.Due.IsZero() != b.Due.IsZero() {
		if a.Due.IsZero() {
			return 1
		}
		return -1
	}
	return cmp.Or(a.Due.Compare(b.Due), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
}

// openEscalations returns the open escalations with a status in statuses,
// in queue order. The caller holds the lock.
func (s *Store) openEscalations(statuses ...refund.EscalationStatus) []refund.Escalation {
	var es []refund.Escalation
	for _, id := range s.openByChat {
		if e := s.escalations[id]; slices.Contains(statuses, e.Status) {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, queueOrder)
	return es
}

// QueuePosition is the escalation's place among queued ones, by due time
// then creation (1 is next); 0 when it is held or closed; an ENOTFOUND
// error when there is no such escalation.
func (s *Store) QueuePosition(ctx context.Context, id int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.escalations[id]
	switch {
	case !ok:
		return 0, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status != refund.EscalationQueued:
		return 0, nil
	}
	queue := s.openEscalations(refund.EscalationQueued)
	return slices.IndexFunc(queue, func(q refund.Escalation) bool { return q.ID == id }) + 1, nil
}

// OpenEscalations lists queued and held escalations in the queue's order.
func (s *Store) OpenEscalations(ctx context.Context) ([]refund.Escalation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.openEscalations(refund.EscalationQueued, refund.EscalationHeld), nil
}

// ReleaseSilentHolds puts back in the queue every held escalation whose
// holder has said nothing to the buyer since before the given time, and
// returns them as they were held, longest silent first. Finding and
// releasing them is one critical section, so a reply that lands first
// keeps its hold and concurrent calls release each hold once.
func (s *Store) ReleaseSilentHolds(ctx context.Context, before time.Time) ([]refund.Escalation, error) {
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

// Rate implements refund.EscalationStore.
func (s *Store) Rate(ctx context.Context, id, buyerUserID int64, rating int) (refund.Escalation, error) {
	if rating < 1 || rating > 5 {
		return refund.Escalation{}, refund.FieldError("rating", "a rating is 1 to 5")
	}
	if err := ctx.Err(); err != nil {
		return refund.Escalation{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.escalations[id]
	switch {
	case !ok || e.BuyerUserID != buyerUserID:
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	case e.Status != refund.EscalationClosed:
		return refund.Escalation{}, refund.Errorf(refund.EINVALID, "escalation %d is still open", id)
	case e.Rating != 0:
		return e, refund.Errorf(refund.ECONFLICT, "escalation %d is rated already", id)
	}
	e.Rating = rating
	s.escalations[id] = e
	return e, nil
}

// boardClaim is a team chat's board, or a claim to post it.
type boardClaim struct {
	board     refund.Board
	claimedAt time.Time
}

// Board implements refund.EscalationStore.
func (s *Store) Board(ctx context.Context, chatID int64) (refund.Board, bool, error) {
	if err := ctx.Err(); err != nil {
		return refund.Board{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.boards[chatID]
	if !ok || c.board.MessageID == 0 {
		return refund.Board{}, false, nil
	}
	return c.board, true, nil
}

// ClaimBoard implements refund.EscalationStore.
func (s *Store) ClaimBoard(ctx context.Context, chatID int64, at time.Time, staleAfter time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.boards[chatID]; ok && (c.board.MessageID != 0 || !c.claimedAt.Before(at.Add(-staleAfter))) {
		return false, nil
	}
	s.boards[chatID] = boardClaim{board: refund.Board{ChatID: chatID}, claimedAt: at}
	return true, nil
}

// SaveBoard implements refund.EscalationStore.
func (s *Store) SaveBoard(ctx context.Context, b refund.Board) error {
	if b.MessageID <= 0 {
		return refund.FieldError("message_id", "a board is a message")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boards[b.ChatID] = boardClaim{board: b, claimedAt: s.boards[b.ChatID].claimedAt}
	return nil
}
