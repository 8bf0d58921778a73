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

// buyerWords is the DB's part that keeps what buyers tell the desk outside
// a held chat: messages while they wait in the queue, and their rating
// with its comment.
type buyerWords struct{ pool *pgxpool.Pool }

// constraintRatingComment bounds a comment's length (010_desk_place.sql).
const constraintRatingComment = "escalations_rating_comment_check"

// KeepWaiting implements refund.EscalationStore. The escalation's row is
// locked first, so that the count the limit is checked against is read
// after any other keep of the same chat committed.
func (db *buyerWords) KeepWaiting(ctx context.Context, id int64, text string, at time.Time, limit int) (bool, error) {
	if text == "" {
		return false, refund.FieldError("text", "nothing to keep")
	}
	if at.IsZero() {
		return false, refund.FieldError("at", "time is required")
	}
	kept := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM escalations WHERE id = $1 FOR UPDATE`, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
		}
		if err != nil {
			return fmt.Errorf("lock escalation: %w", err)
		}
		if refund.EscalationStatus(status) != refund.EscalationQueued {
			return nil
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM escalation_waiting WHERE escalation_id = $1`, id).Scan(&n); err != nil {
			return fmt.Errorf("count waiting messages: %w", err)
		}
		if n >= limit {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO escalation_waiting (escalation_id, text, at) VALUES ($1, $2, $3)`,
			id, text, at); err != nil {
			return fmt.Errorf("insert waiting message: %w", err)
		}
		kept = true
		return nil
	})
	var appErr *refund.Error
	if errors.As(err, &appErr) {
		return false, appErr
	}
	if err != nil {
		return false, fmt.Errorf("keep a waiting message of escalation %d: %w", id, err)
	}
	return kept, nil
}

// WaitingMessages implements refund.EscalationStore.
func (db *buyerWords) WaitingMessages(ctx context.Context, id int64) ([]refund.WaitingMessage, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, text, at FROM escalation_waiting WHERE escalation_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("waiting messages of escalation %d: %w", id, err)
	}
	ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.WaitingMessage, error) {
		var m refund.WaitingMessage
		err := row.Scan(&m.Seq, &m.Text, &m.At)
		m.At = m.At.UTC()
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("waiting messages of escalation %d: %w", id, err)
	}
	return ms, nil
}

// ClearWaiting implements refund.EscalationStore.
func (db *buyerWords) ClearWaiting(ctx context.Context, id int64, throughSeq int64) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM escalation_waiting WHERE escalation_id = $1 AND seq <= $2`,
		id, throughSeq); err != nil {
		return fmt.Errorf("clear waiting messages of escalation %d: %w", id, err)
	}
	return nil
}

// Rate implements refund.EscalationStore in one statement, so that two
// presses at once rate once.
func (db *buyerWords) Rate(ctx context.Context, id, buyerUserID int64, rating int) (refund.Escalation, error) {
	if rating < 1 || rating > 5 {
		return refund.Escalation{}, refund.FieldError("rating", "a rating is 1 to 5")
	}
	e, err := scanEscalation(db.pool.QueryRow(ctx, `UPDATE escalations SET rating = $3, rated_at = now()
		WHERE id = $1 AND buyer_user_id = $2 AND status = 'closed' AND rating IS NULL
		RETURNING `+escalationColumns, id, buyerUserID, rating))
	if errors.Is(err, pgx.ErrNoRows) {
		got, gerr := db.buyersEscalation(ctx, id, buyerUserID)
		switch {
		case gerr != nil:
			return refund.Escalation{}, gerr
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

// CommentRating implements refund.EscalationStore in one statement, so
// that two comments at once record one.
func (db *buyerWords) CommentRating(ctx context.Context, id, buyerUserID int64, comment string) (refund.Escalation, error) {
	if err := refund.CheckRatingComment(comment); err != nil {
		return refund.Escalation{}, err
	}
	e, err := scanEscalation(db.pool.QueryRow(ctx, `UPDATE escalations SET rating_comment = $3
		WHERE id = $1 AND buyer_user_id = $2 AND rating IS NOT NULL AND rating_comment IS NULL
		RETURNING `+escalationColumns, id, buyerUserID, comment))
	if pe, ok := pgError(err, checkViolation); ok && pe.ConstraintName == constraintRatingComment {
		// Behind CheckRatingComment, which counts characters as the
		// database does: only a change to one of the two bounds gets here.
		return refund.Escalation{}, refund.FieldError("comment", "the comment does not fit %s", constraintRatingComment)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		got, gerr := db.buyersEscalation(ctx, id, buyerUserID)
		switch {
		case gerr != nil:
			return refund.Escalation{}, gerr
		case got.Rating == 0:
			return refund.Escalation{}, refund.Errorf(refund.EINVALID, "escalation %d is not rated", id)
		}
		return got, refund.Errorf(refund.ECONFLICT, "the rating of escalation %d has a comment already", id)
	}
	if err != nil {
		return refund.Escalation{}, fmt.Errorf("comment on the rating of escalation %d: %w", id, err)
	}
	return e, nil
}

// buyersEscalation reads an escalation for its buyer: another buyer's is
// as unknown to them as a missing one (ENOTFOUND).
func (db *buyerWords) buyersEscalation(ctx context.Context, id, buyerUserID int64) (refund.Escalation, error) {
	e, err := loadEscalation(ctx, db.pool, id)
	if err == nil && e.BuyerUserID != buyerUserID {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return e, err
}
