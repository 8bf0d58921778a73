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

// holds is the DB's part that keeps who holds an escalation: an agent
// takes it, answers in it, hands it back or is found silent, and it is
// closed.
type holds struct{ pool *pgxpool.Pool }

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
func (db *holds) Take(ctx context.Context, id, agentUserID int64, at time.Time) (refund.Escalation, error) {
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
			taken_at      = CASE WHEN status = 'held' THEN taken_at ELSE $3 END,
			first_taken_at = COALESCE(first_taken_at, $3)
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
func (db *holds) Release(ctx context.Context, id, agentUserID int64) (refund.Escalation, error) {
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
func (db *holds) refusal(ctx context.Context, id int64, verb string) error {
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
// What the buyer wrote while queued and no agent read goes with it.
func (db *holds) CloseEscalation(ctx context.Context, id int64, at time.Time) error {
	if at.IsZero() {
		return refund.FieldError("at", "time is required")
	}
	var found bool
	err := db.pool.QueryRow(ctx, `
		WITH escalation AS (SELECT id FROM escalations WHERE id = $1),
		closed AS (
			UPDATE escalations SET status = 'closed', closed_at = $2
			WHERE id = $1 AND status <> 'closed'
		),
		forgotten AS (DELETE FROM escalation_waiting WHERE escalation_id = $1)
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
func (db *holds) TouchAgentReply(ctx context.Context, id, agentUserID int64, at time.Time) error {
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
func (db *holds) ReleaseSilentHolds(ctx context.Context, before time.Time) ([]refund.Escalation, error) {
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
