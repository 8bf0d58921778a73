package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund"
)

// escalations is the DB's part that opens escalations and finds them by
// ID, chat, message and thread, and keeps what links them to the agents'
// chat: card, messages, topic, and the buyer's place message
// (escalation_place.go).
type escalations struct{ pool *pgxpool.Pool }

// Constraint names from 003_agents.sql that carry a domain meaning.
const (
	constraintEscalationCase    = "escalations_case_id_fkey"
	constraintMessageEscalation = "escalation_messages_escalation_id_fkey"
)

// indexEscalationThread is the unique index of 004_escalation_threads.sql
// that gives a forum topic to one escalation.
const indexEscalationThread = "escalations_thread_id_key"

// openAttempts bounds OpenEscalation's insert-or-find loop. Each lap
// needs the chat's open escalation to close between two statements, so a
// third lap means something is wrong rather than unlucky.
const openAttempts = 3

const escalationColumns = `id, COALESCE(case_id, 0), buyer_chat_id, buyer_user_id, language, reason, status,
	COALESCE(agent_user_id, 0), COALESCE(card_message_id, 0), COALESCE(thread_id, 0), evidence_posted, buyer_told, COALESCE(rating, 0),
	COALESCE(rating_comment, ''), COALESCE(place_message_id, 0), place_text, place_edited_at, due, created_at,
	taken_at, last_agent_reply_at, closed_at, first_taken_at`

func scanEscalation(row pgx.Row) (refund.Escalation, error) {
	var (
		e                                               refund.Escalation
		reason, status                                  string
		card, thread, place                             int64
		due, taken, replied, closed, edited, firstTaken *time.Time
	)
	err := row.Scan(&e.ID, &e.CaseID, &e.BuyerChatID, &e.BuyerUserID, &e.Language, &reason, &status,
		&e.AgentUserID, &card, &thread, &e.EvidencePosted, &e.BuyerTold, &e.Rating,
		&e.RatingComment, &place, &e.PlaceText, &edited, &due, &e.CreatedAt, &taken, &replied, &closed, &firstTaken)
	if err != nil {
		return refund.Escalation{}, err
	}
	e.Reason, e.Status = refund.EscalationReason(reason), refund.EscalationStatus(status)
	e.CardMessageID, e.ThreadID, e.PlaceMessageID = int(card), int(thread), int(place)
	e.Due, e.CreatedAt, e.TakenAt = fromNull(due), e.CreatedAt.UTC(), fromNull(taken)
	e.LastAgentReplyAt, e.ClosedAt = fromNull(replied), fromNull(closed)
	e.PlaceEditedAt, e.FirstTakenAt = fromNull(edited), fromNull(firstTaken)
	return e, nil
}

func collectEscalations(rows pgx.Rows) ([]refund.Escalation, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Escalation, error) { return scanEscalation(row) })
}

// OpenEscalation queues an escalation for a buyer chat, or returns the
// chat's open one (created false) unchanged but for a missing case ID,
// which it fills in. The store sets the status, holder and times; a zero
// CreatedAt means now. An unknown case is an ENOTFOUND error.
//
// Two replicas escalating one chat at once both try the insert; the
// partial unique index lets one in and turns the other's into a no-op,
// after which it finds the winner's row. ON CONFLICT DO NOTHING waits for
// the winner to commit, so the row is there to be found — unless it was
// closed in between, in which case the loop tries the insert again.
func (db *escalations) OpenEscalation(ctx context.Context, e refund.Escalation) (refund.Escalation, bool, error) {
	if err := e.ValidateNew(); err != nil {
		return refund.Escalation{}, false, err
	}
	for range openAttempts {
		got, err := scanEscalation(db.pool.QueryRow(ctx, `
			INSERT INTO escalations (case_id, buyer_chat_id, buyer_user_id, language, reason, status, due, created_at)
			VALUES (NULLIF($1::bigint, 0), $2, $3, $4, $5, 'queued', $6, COALESCE($7::timestamptz, now()))
			ON CONFLICT (buyer_chat_id) WHERE status IN ('queued', 'held') DO NOTHING
			RETURNING `+escalationColumns,
			e.CaseID, e.BuyerChatID, e.BuyerUserID, e.Language, string(e.Reason), nullTime(e.Due), nullTime(e.CreatedAt)))
		if err == nil {
			return got, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return refund.Escalation{}, false, openEscalationError(e, err)
		}
		// Setting case_id to itself changes no key, so PostgreSQL skips
		// the foreign key check: only a filled-in case must exist.
		got, err = scanEscalation(db.pool.QueryRow(ctx, `
			UPDATE escalations SET case_id = COALESCE(case_id, NULLIF($2::bigint, 0))
			WHERE buyer_chat_id = $1 AND status IN ('queued', 'held')
			RETURNING `+escalationColumns, e.BuyerChatID, e.CaseID))
		if err == nil {
			return got, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return refund.Escalation{}, false, openEscalationError(e, err)
		}
	}
	return refund.Escalation{}, false, fmt.Errorf("escalate chat %d: its open escalation kept closing under us", e.BuyerChatID)
}

func openEscalationError(e refund.Escalation, err error) error {
	if pe, ok := pgError(err, foreignKeyViolation); ok && pe.ConstraintName == constraintEscalationCase {
		return refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(e.CaseID))
	}
	return fmt.Errorf("escalate chat %d: %w", e.BuyerChatID, err)
}

// Escalation returns an escalation by ID, or an ENOTFOUND error.
func (db *escalations) Escalation(ctx context.Context, id int64) (refund.Escalation, error) {
	return loadEscalation(ctx, db.pool, id)
}

// loadEscalation is Escalation for every part that reads one.
func loadEscalation(ctx context.Context, q querier, id int64) (refund.Escalation, error) {
	e, err := scanEscalation(q.QueryRow(ctx, `SELECT `+escalationColumns+` FROM escalations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("load escalation %d: %w", id, err)
	}
	return e, nil
}

// OpenEscalationByChat returns a buyer chat's open escalation, or an
// ENOTFOUND error.
func (db *escalations) OpenEscalationByChat(ctx context.Context, buyerChatID int64) (refund.Escalation, error) {
	e, err := scanEscalation(db.pool.QueryRow(ctx, `SELECT `+escalationColumns+` FROM escalations
		WHERE buyer_chat_id = $1 AND status IN ('queued', 'held')`, buyerChatID))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "chat %d has no open escalation", buyerChatID)
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("open escalation of chat %d: %w", buyerChatID, err)
	}
	return e, nil
}

// LinkMessage records that a message in the agents' chat belongs to an
// escalation; with card set it also becomes the escalation's card, so a
// reposted card replaces the old one. Linking a message again is a no-op,
// since a retried post links it twice; a message already linked to
// another escalation is an ECONFLICT error, and an unknown escalation an
// ENOTFOUND error.
func (db *escalations) LinkMessage(ctx context.Context, escalationID int64, messageID int, card bool) error {
	if messageID <= 0 {
		return refund.FieldError("message_id", "message id must be positive")
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// The no-op update makes RETURNING give the existing link's
		// escalation, which DO NOTHING would not.
		var owner int64
		err := tx.QueryRow(ctx, `
			INSERT INTO escalation_messages (message_id, escalation_id) VALUES ($1, $2)
			ON CONFLICT (message_id) DO UPDATE SET escalation_id = escalation_messages.escalation_id
			RETURNING escalation_id`, messageID, escalationID).Scan(&owner)
		if pe, ok := pgError(err, foreignKeyViolation); ok && pe.ConstraintName == constraintMessageEscalation {
			return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", escalationID)
		}
		if err != nil {
			return fmt.Errorf("insert link: %w", err)
		}
		if owner != escalationID {
			return refund.Errorf(refund.ECONFLICT, "message %d belongs to escalation %d", messageID, owner)
		}
		if !card {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE escalations SET card_message_id = $2 WHERE id = $1`,
			escalationID, messageID); err != nil {
			return fmt.Errorf("set card: %w", err)
		}
		return nil
	})
	var appErr *refund.Error
	if errors.As(err, &appErr) {
		return appErr
	}
	if err != nil {
		return fmt.Errorf("link message %d to escalation %d: %w", messageID, escalationID, err)
	}
	return nil
}

// EscalationByMessage finds the escalation a message in the agents' chat
// belongs to, or returns an ENOTFOUND error.
func (db *escalations) EscalationByMessage(ctx context.Context, messageID int) (refund.Escalation, error) {
	e, err := scanEscalation(db.pool.QueryRow(ctx, `SELECT `+escalationColumns+` FROM escalations
		WHERE id = (SELECT escalation_id FROM escalation_messages WHERE message_id = $1)`, messageID))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "message %d belongs to no escalation", messageID)
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("escalation of message %d: %w", messageID, err)
	}
	return e, nil
}

// SetThread records the escalation's forum topic. Setting the same topic
// again is a no-op, since a retried topic creation sets it twice; a new
// topic replaces the old one, which then finds nothing. A topic already
// given to another escalation, closed or not, is an ECONFLICT error, and
// an unknown escalation an ENOTFOUND error.
func (db *escalations) SetThread(ctx context.Context, id int64, threadID int) error {
	if threadID <= 0 {
		return refund.FieldError("thread_id", "thread id must be positive")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE escalations SET thread_id = $2 WHERE id = $1`, id, threadID)
	if pe, ok := pgError(err, uniqueViolation); ok && pe.ConstraintName == indexEscalationThread {
		return refund.Errorf(refund.ECONFLICT, "thread %d belongs to another escalation", threadID)
	}
	if err != nil {
		return fmt.Errorf("set thread %d of escalation %d: %w", threadID, id, err)
	}
	if tag.RowsAffected() == 0 {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return nil
}

// RecordDelivery implements refund.EscalationStore; GREATEST and OR keep
// a slower, older delivery from winding the progress back.
func (db *escalations) RecordDelivery(ctx context.Context, id int64, evidencePosted int, buyerTold bool) error {
	if evidencePosted < 0 {
		return refund.FieldError("evidence_posted", "evidence count must not be negative")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE escalations SET evidence_posted = GREATEST(evidence_posted, $2),
		buyer_told = buyer_told OR $3 WHERE id = $1`, id, evidencePosted, buyerTold)
	if err != nil {
		return fmt.Errorf("record delivery of escalation %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return nil
}

// EscalationByThread finds the escalation of a forum topic, closed or
// not, or returns an ENOTFOUND error.
func (db *escalations) EscalationByThread(ctx context.Context, threadID int) (refund.Escalation, error) {
	e, err := scanEscalation(db.pool.QueryRow(ctx, `SELECT `+escalationColumns+` FROM escalations
		WHERE thread_id = $1`, threadID))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "thread %d belongs to no escalation", threadID)
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("escalation of thread %d: %w", threadID, err)
	}
	return e, nil
}
