package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund"
)

// outbox is the DB's part that hands the outbox items Apply wrote to their
// workers (refund.Outbox): claimed under a lease, then completed or
// retried.
type outbox struct{ pool *pgxpool.Pool }

// ClaimOutbox leases up to limit undelivered items of a kind that are
// available at now, oldest first, until now+lease, counting an attempt on
// each. Rows another worker is claiming at the same moment are skipped
// rather than waited for, so concurrent workers never get the same item;
// an item whose worker died comes back once its lease has passed.
func (db *outbox) ClaimOutbox(ctx context.Context, kind refund.OutboxKind, now time.Time, lease time.Duration, limit int) ([]refund.OutboxItem, error) {
	if err := refund.ValidateClaim(kind, now, lease, limit); err != nil {
		return nil, err
	}
	// One statement, so the row locks SKIP LOCKED respects are held until
	// the new available_at is committed. A claimer that read a row before
	// another's commit re-checks available_at when it locks it, and drops it.
	rows, err := db.pool.Query(ctx, `
		WITH due AS (
			SELECT id FROM outbox
			WHERE kind = $1 AND delivered_at IS NULL AND available_at <= $2
			ORDER BY id
			LIMIT $4
			FOR UPDATE SKIP LOCKED
		)
		UPDATE outbox o SET available_at = $3, attempts = o.attempts + 1
		FROM due WHERE o.id = due.id
		RETURNING o.id, o.kind, o.key, o.payload, o.attempts, o.created_at`,
		string(kind), now, now.Add(lease), limit)
	if err != nil {
		return nil, fmt.Errorf("claim %s outbox: %w", kind, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.OutboxItem, error) {
		var (
			it refund.OutboxItem
			k  string
		)
		err := row.Scan(&it.ID, &k, &it.Key, &it.Payload, &it.Attempts, &it.CreatedAt)
		it.Kind, it.CreatedAt = refund.OutboxKind(k), it.CreatedAt.UTC()
		if len(it.Payload) == 0 {
			it.Payload = nil
		}
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim %s outbox: %w", kind, err)
	}
	// RETURNING follows no ORDER BY.
	slices.SortFunc(items, func(a, b refund.OutboxItem) int { return cmp.Compare(a.ID, b.ID) })
	return items, nil
}

// CompleteOutbox marks an item delivered, or returns an ENOTFOUND error.
// Completing it again keeps the first delivery time: with at-least-once
// delivery, two workers may both finish the same item.
func (db *outbox) CompleteOutbox(ctx context.Context, id int64) error {
	tag, err := db.pool.Exec(ctx, `UPDATE outbox SET delivered_at = COALESCE(delivered_at, now()) WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("complete outbox item %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return refund.Errorf(refund.ENOTFOUND, "outbox item %d not found", id)
	}
	return nil
}

// RetryOutbox makes an undelivered item available again at next, noting
// why this attempt failed, or returns an ENOTFOUND error. A delivered item
// stays delivered: the failing worker's lease had run out and another
// worker got through.
func (db *outbox) RetryOutbox(ctx context.Context, id int64, next time.Time, lastErr string) error {
	if next.IsZero() {
		return refund.FieldError("next", "retry time is required")
	}
	var found bool
	err := db.pool.QueryRow(ctx, `
		WITH item AS (SELECT id FROM outbox WHERE id = $1),
		retried AS (
			UPDATE outbox SET available_at = $2, last_error = $3
			WHERE id = $1 AND delivered_at IS NULL
		)
		SELECT EXISTS (SELECT 1 FROM item)`, id, next, lastErr).Scan(&found)
	if err != nil {
		return fmt.Errorf("retry outbox item %d: %w", id, err)
	}
	if !found {
		return refund.Errorf(refund.ENOTFOUND, "outbox item %d not found", id)
	}
	return nil
}
