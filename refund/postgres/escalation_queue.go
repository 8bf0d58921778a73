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

// queue is the DB's part that reads the queue of open escalations, keeps
// the board that shows it, and reads how long buyers waited lately, which
// a queued buyer's estimate is made from.
type queue struct{ pool *pgxpool.Pool }

// queueOrder is the queue's order: deadline first, escalations without
// one after all that have one, then first come first served.
const queueOrder = `due NULLS LAST, created_at, id`

// QueuePosition is the escalation's place among queued ones, by due time
// then creation (1 is next); 0 when it is held or closed; an ENOTFOUND
// error when there is no such escalation.
func (db *queue) QueuePosition(ctx context.Context, id int64) (int, error) {
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
func (db *queue) OpenEscalations(ctx context.Context) ([]refund.Escalation, error) {
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

// Board implements refund.EscalationStore; a claim not yet posted is no
// board.
func (db *queue) Board(ctx context.Context, chatID int64) (refund.Board, bool, error) {
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
func (db *queue) ClaimBoard(ctx context.Context, chatID int64, at time.Time, staleAfter time.Duration) (bool, error) {
	tag, err := db.pool.Exec(ctx, `INSERT INTO desk_boards (chat_id, claimed_at) VALUES ($1, $2)
		ON CONFLICT (chat_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at
		WHERE desk_boards.message_id IS NULL AND desk_boards.claimed_at < $3`, chatID, at, at.Add(-staleAfter))
	if err != nil {
		return false, fmt.Errorf("claim the board of chat %d: %w", chatID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SaveBoard implements refund.EscalationStore.
func (db *queue) SaveBoard(ctx context.Context, b refund.Board) error {
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

// RecentWaits implements refund.EscalationStore.
func (db *queue) RecentWaits(ctx context.Context, since time.Time, limit int) ([]refund.QueueWait, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT created_at, first_taken_at FROM escalations
		WHERE first_taken_at >= $1 ORDER BY first_taken_at DESC, id DESC LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("queue waits since %v: %w", since, err)
	}
	defer rows.Close()
	var out []refund.QueueWait
	for rows.Next() {
		var w refund.QueueWait
		if err := rows.Scan(&w.CreatedAt, &w.TakenAt); err != nil {
			return nil, fmt.Errorf("queue waits since %v: %w", since, err)
		}
		w.CreatedAt, w.TakenAt = w.CreatedAt.UTC(), w.TakenAt.UTC()
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue waits since %v: %w", since, err)
	}
	return out, nil
}
