package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refundbot/refundbot/refund"
)

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
	COALESCE(agent_user_id, 0), COALESCE(card_message_id, 0), COALESCE(thread_id, 0), evidence_posted, buyer_told, COALESCE(rating, 0), due, created_at,
	taken_at, last_agent_reply_at, closed_at`

// queueOrder is the queue's order: deadline first, escalations without
// one after all that have one, then first come first served.
const queueOrder = `due NULLS LAST, created_at, id`

func scanEscalation(row pgx.Row) (refund.Escalation, error) {
	var (
		e                           refund.Escalation
		reason, status              string
		card, thread                int64
		due, taken, replied, closed *time.Time
	)
	err := row.Scan(&e.ID, &e.CaseID, &e.BuyerChatID, &e.BuyerUserID, &e.Language, &reason, &status,
		&e.AgentUserID, &card, &thread, &e.EvidencePosted, &e.BuyerTold, &e.Rating, &due, &e.CreatedAt, &taken, &replied, &closed)
	if err != nil {
		return refund.Escalation{}, err
	}
	e.Reason, e.Status = refund.EscalationReason(reason), refund.EscalationStatus(status)
	e.CardMessageID, e.ThreadID = int(card), int(thread)
	e.Due, e.CreatedAt, e.TakenAt = fromNull(due), e.CreatedAt.UTC(), fromNull(taken)
	e.LastAgentReplyAt, e.ClosedAt = fromNull(replied), fromNull(closed)
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
func (db *DB) OpenEscalation(ctx context.Context, e refund.Escalation) (refund.Escalation, bool, error) {
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
func (db *DB) Escalation(ctx context.Context, id int64) (refund.Escalation, error) {
	e, err := scanEscalation(db.pool.QueryRow(ctx, `SELECT `+escalationColumns+` FROM escalations WHERE id = $1`, id))
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
func (db *DB) OpenEscalationByChat(ctx context.Context, buyerChatID int64) (refund.Escalation, error) {
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
func (db *DB) LinkMessage(ctx context.Context, escalationID int64, messageID int, card bool) error {
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
func (db *DB) EscalationByMessage(ctx context.Context, messageID int) (refund.Escalation, error) {
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
func (db *DB) SetThread(ctx context.Context, id int64, threadID int) error {
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

// Rate implements refund.EscalationStore in one statement, so that two
// presses at once rate once.
func (db *DB) Rate(ctx context.Context, id, buyerUserID int64, rating int) (refund.Escalation, error) {
	if rating < 1 || rating > 5 {
		return refund.Escalation{}, refund.FieldError("rating", "a rating is 1 to 5")
	}
	e, err := scanEscalation(db.pool.QueryRow(ctx, `UPDATE escalations SET rating = $3, rated_at = now()
		WHERE id = $1 AND buyer_user_id = $2 AND status = 'closed' AND rating IS NULL
		RETURNING `+escalationColumns, id, buyerUserID, rating))
	if errors.Is(err, pgx.ErrNoRows) {
		got, gerr := db.Escalation(ctx, id)
		switch {
		case gerr != nil:
			return refund.Escalation{}, gerr
		case got.BuyerUserID != buyerUserID:
			return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
		case got.Status != refund.EscalationClosed:
			return refund.Escalation{}, refund.Errorf(refund.EINVALID, "escalation %d is still open", id)
		}
		return got, refund.Errorf(refund.ECONFLICT, "escalation %d is rated already", id)
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("rate escalation %d: %w", id, err)
	}
	return e, nil
}

// RecordDelivery implements refund.EscalationStore; GREATEST and OR keep
// a slower, older delivery from winding the progress back.
func (db *DB) RecordDelivery(ctx context.Context, id int64, evidencePosted int, buyerTold bool) error {
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
func (db *DB) EscalationByThread(ctx context.Context, threadID int) (refund.Escalation, error) {
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

// validateHold refuses the arguments of Take and Release that no agent
// could have sent.
func validateHold(agentUserID int64) error {
	if agentUserID <= 0 {
		return refund.FieldError("agent_user_id", "an agent's Telegram user id is required")
	}
	return nil
}

// Take gives a queued escalation to an agent, or hands a held one back to
// its holder, keeping the time it was first taken. The status check and
// the change are one UPDATE, so of agents pressing "take" at once the
// first to lock the row wins and the rest re-read it held by someone else
// and change nothing: an ECONFLICT error. A closed escalation is an
// ECONFLICT error too, and an unknown one ENOTFOUND.
func (db *DB) Take(ctx context.Context, id, agentUserID int64, at time.Time) (refund.Escalation, error) {
	if err := validateHold(agentUserID); err != nil {
		return refund.Escalation{}, err
	}
	if at.IsZero() {
		return refund.Escalation{}, refund.FieldError("at", "time is required")
	}
	e, err := scanEscalation(db.pool.QueryRow(ctx, `
		UPDATE escalations SET
			status        = 'held',
			agent_user_id = $2,
			taken_at      = CASE WHEN status = 'held' THEN taken_at ELSE $3 END
		WHERE id = $1 AND (status = 'queued' OR (status = 'held' AND agent_user_id = $2))
		RETURNING `+escalationColumns, id, agentUserID, at))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Escalation{}, db.refusal(ctx, id, "take")
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("take escalation %d: %w", id, err)
	}
	return e, nil
}

// Release puts a held escalation back in the queue, in the place its due
// time and creation give it, with nothing left of the holder. Only the
// holder may release it: anyone else, or an escalation not held, is an
// ECONFLICT error, and an unknown one ENOTFOUND.
func (db *DB) Release(ctx context.Context, id, agentUserID int64) (refund.Escalation, error) {
	if err := validateHold(agentUserID); err != nil {
		return refund.Escalation{}, err
	}
	e, err := scanEscalation(db.pool.QueryRow(ctx, `
		UPDATE escalations SET status = 'queued', agent_user_id = NULL, taken_at = NULL, last_agent_reply_at = NULL
		WHERE id = $1 AND status = 'held' AND agent_user_id = $2
		RETURNING `+escalationColumns, id, agentUserID))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Escalation{}, db.refusal(ctx, id, "release")
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("release escalation %d: %w", id, err)
	}
	return e, nil
}

// refusal explains why a guarded UPDATE of an escalation changed nothing.
// It reads the row after the fact, so it reports the state that won, which
// is what the caller shows the agent.
func (db *DB) refusal(ctx context.Context, id int64, verb string) error {
	var (
		status string
		holder int64
	)
	err := db.pool.QueryRow(ctx, `SELECT status, COALESCE(agent_user_id, 0) FROM escalations WHERE id = $1`,
		id).Scan(&status, &holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	if err != nil {
		return fmt.Errorf("%s escalation %d: %w", verb, id, err)
	}
	if refund.EscalationStatus(status) == refund.EscalationHeld {
		return refund.Errorf(refund.ECONFLICT, "cannot %s escalation %d: held by agent %d", verb, id, holder)
	}
	return refund.Errorf(refund.ECONFLICT, "cannot %s escalation %d: it is %s", verb, id, status)
}

// CloseEscalation ends an escalation, keeping its last holder for the
// audit log, or returns an ENOTFOUND error. Closing it again keeps the
// first closing time: an agent's "close" and a decision may both close it.
func (db *DB) CloseEscalation(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return refund.FieldError("at", "time is required")
	}
	var found bool
	err := db.pool.QueryRow(ctx, `
		WITH escalation AS (SELECT id FROM escalations WHERE id = $1),
		closed AS (
			UPDATE escalations SET status = 'closed', closed_at = $2
			WHERE id = $1 AND status <> 'closed'
		)
		SELECT EXISTS (SELECT 1 FROM escalation)`, id, at).Scan(&found)
	if err != nil {
		return fmt.Errorf("close escalation %d: %w", id, err)
	}
	if !found {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return nil
}

// TouchAgentReply records that the holder answered the buyer, which
// restarts the hold's timeout. The time only moves forward, so that a
// reply stamped by a replica with a slow clock cannot make the hold look
// staler than it is. A reply by anyone but the holder, or to an
// escalation not held, is an ECONFLICT error and refreshes nothing: the
// hold was released, perhaps by ReleaseSilentHolds, and perhaps taken by
// someone else, whose silence this reply must not excuse. An unknown
// escalation is ENOTFOUND.
func (db *DB) TouchAgentReply(ctx context.Context, id, agentUserID int64, at time.Time) error {
	if err := validateHold(agentUserID); err != nil {
		return err
	}
	if at.IsZero() {
		return refund.FieldError("at", "time is required")
	}
	tag, err := db.pool.Exec(ctx, `
		UPDATE escalations SET last_agent_reply_at = GREATEST(last_agent_reply_at, $3)
		WHERE id = $1 AND status = 'held' AND agent_user_id = $2`, id, agentUserID, at)
	if err != nil {
		return fmt.Errorf("touch escalation %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return db.refusal(ctx, id, "touch")
	}
	return nil
}

// QueuePosition is the escalation's place among queued ones, by due time
// then creation (1 is next); 0 when it is held or closed; an ENOTFOUND
// error when there is no such escalation.
func (db *DB) QueuePosition(ctx context.Context, id int64) (int, error) {
	var pos int64
	err := db.pool.QueryRow(ctx, `
		SELECT COALESCE(q.pos, 0) FROM escalations e
		LEFT JOIN (
			SELECT id, row_number() OVER (ORDER BY `+queueOrder+`) AS pos
			FROM escalations WHERE status = 'queued'
		) q ON q.id = e.id
		WHERE e.id = $1`, id).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	if err != nil {
		return 0, fmt.Errorf("queue position of escalation %d: %w", id, err)
	}
	return int(pos), nil
}

// OpenEscalations lists queued and held escalations in the queue's order.
func (db *DB) OpenEscalations(ctx context.Context) ([]refund.Escalation, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+escalationColumns+` FROM escalations
		WHERE status IN ('queued', 'held') ORDER BY `+queueOrder)
	if err != nil {
		return nil, fmt.Errorf("list open escalations: %w", err)
	}
	es, err := collectEscalations(rows)
	if err != nil {
		return nil, fmt.Errorf("list open escalations: %w", err)
	}
	return es, nil
}

// ReleaseSilentHolds puts back in the queue every held escalation whose
// holder has said nothing to the buyer since before the given time — since
// taking the chat, or since the last reply — and returns them as they were
// held, holder included, longest silent first, for the sweeper to tell
// the agents.
//
// The check and the release are one statement. The CTE locks the silent
// rows in ID order (so that two sweeps cannot deadlock) and, as UPDATE
// does, re-checks a row that a concurrent statement changed once that
// commits: a reply that landed first has moved the row out of the
// condition and keeps its hold, and a row another sweep released is no
// longer held, so each hold is released, and reported, once. The CTE's
// rows are the locked versions, as held, which the UPDATE's RETURNING
// could not give.
func (db *DB) ReleaseSilentHolds(ctx context.Context, before time.Time) ([]refund.Escalation, error) {
	rows, err := db.pool.Query(ctx, `
		WITH silent AS (
			SELECT * FROM escalations
			WHERE status = 'held' AND COALESCE(last_agent_reply_at, taken_at) < $1
			ORDER BY id
			FOR UPDATE
		), released AS (
			UPDATE escalations e SET status = 'queued', agent_user_id = NULL, taken_at = NULL, last_agent_reply_at = NULL
			FROM silent WHERE e.id = silent.id
			RETURNING silent.*
		)
		SELECT `+escalationColumns+` FROM released
		ORDER BY COALESCE(last_agent_reply_at, taken_at), id`, before)
	if err != nil {
		return nil, fmt.Errorf("release holds silent since before %v: %w", before, err)
	}
	es, err := collectEscalations(rows)
	if err != nil {
		return nil, fmt.Errorf("release holds silent since before %v: %w", before, err)
	}
	return es, nil
}

// Board implements refund.EscalationStore; a claim not yet posted is no
// board.
func (db *DB) Board(ctx context.Context, chatID int64) (refund.Board, bool, error) {
	b := refund.Board{ChatID: chatID}
	var id *int64
	err := db.pool.QueryRow(ctx, `SELECT message_id, text FROM desk_boards WHERE chat_id = $1`, chatID).Scan(&id, &b.Text)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && id == nil) {
		return refund.Board{}, false, nil
	}
	if err != nil {
		return refund.Board{}, false, fmt.Errorf("board of chat %d: %w", chatID, err)
	}
	b.MessageID = int(*id)
	return b, true, nil
}

// ClaimBoard implements refund.EscalationStore in one statement.
func (db *DB) ClaimBoard(ctx context.Context, chatID int64, at time.Time, staleAfter time.Duration) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO desk_boards (chat_id, claimed_at) VALUES ($1, $2)
		ON CONFLICT (chat_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at
		WHERE desk_boards.message_id IS NULL AND desk_boards.claimed_at < $3`, chatID, at, at.Add(-staleAfter))
	if err != nil {
		return false, fmt.Errorf("claim the board of chat %d: %w", chatID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SaveBoard implements refund.EscalationStore.
func (db *DB) SaveBoard(ctx context.Context, b refund.Board) error {
	if b.MessageID <= 0 {
		return refund.FieldError("message_id", "a board is a message")
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO desk_boards (chat_id, message_id, text, claimed_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (chat_id) DO UPDATE SET message_id = EXCLUDED.message_id, text = EXCLUDED.text`,
		b.ChatID, b.MessageID, b.Text)
	if err != nil {
		return fmt.Errorf("save the board of chat %d: %w", b.ChatID, err)
	}
	return nil
}
