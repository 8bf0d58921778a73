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

// orders is the DB's part that keeps the shop's orders (refund.OrderStore).
type orders struct{ pool *pgxpool.Pool }

// UpsertOrder inserts or replaces an order. UpdatedAt is set to the time of
// the write: it records when refundbot last heard about the order, which
// the shop's data does not carry. An amount paid below what refunds
// already took back from the order is an ECONFLICT error: the money is
// gone, and the order must not claim otherwise.
func (db *orders) UpsertOrder(ctx context.Context, o refund.Order) (created bool, err error) {
	if err := o.Validate(); err != nil {
		return false, err
	}
	// xmax is 0 only on a row version that no transaction has replaced,
	// which after ON CONFLICT DO UPDATE means the row was just inserted.
	err = db.pool.QueryRow(ctx, `
		INSERT INTO orders (id, buyer_telegram_id, contact_phone, product, category, amount_paid_cents,
			list_price_cents, currency, payment_method, purchased_at, delivered_at, used,
			usage_term_days, usage_activated_at, usage_consumed_cents, usage_progress_percent,
			gift_value_cents, gift_returned, updated_at)
		VALUES ($1, NULLIF($2::bigint, 0), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, now())
		ON CONFLICT (id) DO UPDATE SET
			buyer_telegram_id      = EXCLUDED.buyer_telegram_id,
			contact_phone          = EXCLUDED.contact_phone,
			product                = EXCLUDED.product,
			category               = EXCLUDED.category,
			amount_paid_cents      = EXCLUDED.amount_paid_cents,
			list_price_cents       = EXCLUDED.list_price_cents,
			currency               = EXCLUDED.currency,
			payment_method         = EXCLUDED.payment_method,
			purchased_at           = EXCLUDED.purchased_at,
			delivered_at           = EXCLUDED.delivered_at,
			used                   = EXCLUDED.used,
			usage_term_days        = EXCLUDED.usage_term_days,
			usage_activated_at     = EXCLUDED.usage_activated_at,
			usage_consumed_cents   = EXCLUDED.usage_consumed_cents,
			usage_progress_percent = EXCLUDED.usage_progress_percent,
			gift_value_cents       = EXCLUDED.gift_value_cents,
			gift_returned          = EXCLUDED.gift_returned,
			updated_at             = EXCLUDED.updated_at
		RETURNING (xmax = 0)`,
		o.ID, o.BuyerTelegramID, o.ContactPhone, o.Product, string(o.Category), int64(o.AmountPaid),
		int64(o.ListPrice), o.Currency, string(o.PaymentMethod), o.PurchasedAt, nullTime(o.DeliveredAt), o.Used,
		o.Usage.TermDays, nullTime(o.Usage.ActivatedAt), int64(o.Usage.ConsumedValue), o.Usage.ProgressPercent,
		int64(o.GiftValue), o.GiftReturned,
	).Scan(&created)
	if pe, ok := pgError(err, checkViolation); ok && pe.ConstraintName == constraintRefundedWithinPaid {
		return false, refund.Errorf(refund.ECONFLICT, "order %s: amount paid %s is less than already refunded", o.ID, o.AmountPaid)
	}
	if err != nil {
		return false, fmt.Errorf("upsert order %s: %w", o.ID, err)
	}
	return created, nil
}

// Order returns the order with this ID, or an ENOTFOUND error.
func (db *orders) Order(ctx context.Context, id string) (refund.Order, error) {
	var r orderRow
	err := db.pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = $1`, id).Scan(r.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Order{}, refund.Errorf(refund.ENOTFOUND, "order %s not found", id)
	}
	if err != nil {
		return refund.Order{}, fmt.Errorf("load order %s: %w", id, err)
	}
	return r.result(), nil
}

const orderColumns = `id, COALESCE(buyer_telegram_id, 0), contact_phone, product, category, amount_paid_cents,
	list_price_cents, currency, payment_method, purchased_at, delivered_at, used,
	usage_term_days, usage_activated_at, usage_consumed_cents, usage_progress_percent,
	gift_value_cents, gift_returned, updated_at`

// orderRow is an order row being scanned from orderColumns.
type orderRow struct {
	o                        refund.Order
	category, method         string
	amountPaid, listPrice    int64
	consumed, gift           int64
	deliveredAt, activatedAt *time.Time
}

// dest lists where orderColumns go, in their order.
func (r *orderRow) dest() []any {
	o := &r.o
	return []any{&o.ID, &o.BuyerTelegramID, &o.ContactPhone, &o.Product, &r.category, &r.amountPaid,
		&r.listPrice, &o.Currency, &r.method, &o.PurchasedAt, &r.deliveredAt, &o.Used,
		&o.Usage.TermDays, &r.activatedAt, &r.consumed, &o.Usage.ProgressPercent,
		&r.gift, &o.GiftReturned, &o.UpdatedAt}
}

func (r *orderRow) result() refund.Order {
	o := r.o
	o.Category, o.PaymentMethod = refund.Category(r.category), refund.PaymentMethod(r.method)
	o.AmountPaid, o.ListPrice = refund.Money(r.amountPaid), refund.Money(r.listPrice)
	o.Usage.ConsumedValue, o.GiftValue = refund.Money(r.consumed), refund.Money(r.gift)
	o.PurchasedAt, o.UpdatedAt = o.PurchasedAt.UTC(), o.UpdatedAt.UTC()
	o.DeliveredAt, o.Usage.ActivatedAt = fromNull(r.deliveredAt), fromNull(r.activatedAt)
	return o
}

// nullTime maps the domain's "zero time means none" to SQL NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNull maps SQL NULL back to the zero time, and any other time to UTC.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
