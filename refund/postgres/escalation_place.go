package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The buyer's place in the queue: the message that tells it. The history
// of waits its estimate is made from is the queue's (RecentWaits).

// RecordPlace implements refund.EscalationStore.
func (db *escalations) RecordPlace(ctx context.Context, id int64, text string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE escalations SET place_text = $2 WHERE id = $1`, id, text)
	if err != nil {
		return fmt.Errorf("record place text of escalation %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return nil
}

// LinkPlace implements refund.EscalationStore.
func (db *escalations) LinkPlace(ctx context.Context, id int64, messageID int) error {
	if messageID <= 0 {
		return refund.FieldError("message_id", "message id must be positive")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE escalations SET place_message_id = $2 WHERE id = $1`, id, messageID)
	if err != nil {
		return fmt.Errorf("link place message %d to escalation %d: %w", messageID, id, err)
	}
	if tag.RowsAffected() == 0 {
		return refund.Errorf(refund.ENOTFOUND, "escalation %d not found", id)
	}
	return nil
}

// SwapPlace implements refund.EscalationStore in one statement, so that
// of sweeps racing to the same edit one wins.
func (db *escalations) SwapPlace(ctx context.Context, id int64, from, to string, editedAt time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE escalations SET place_text = $3,
			place_edited_at = COALESCE($4::timestamptz, place_edited_at)
		WHERE id = $1 AND place_text = $2 AND status = 'queued' AND place_message_id IS NOT NULL`,
		id, from, to, nullTime(editedAt))
	if err != nil {
		return false, fmt.Errorf("swap place text of escalation %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}
