package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refundbot/refundbot/refund"
)

// Apply makes a change in one transaction. The case row is locked from
// the status check to the commit, so two processes deciding on the same
// case are serialized and the loser sees the case no longer in ch.From
// (ECONFLICT) and changes nothing. A payout the money invariants refuse —
// more than the order's amount paid, or a second live payout for the case
// — is an ECONFLICT error too, and rolls back the whole change. It
// returns the case as the change left it.
func (db *DB) Apply(ctx context.Context, ch refund.Change) (refund.Case, error) {
	if err := ch.Validate(); err != nil {
		return refund.Case{}, err
	}
	var c refund.Case
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		c, err = applyChange(ctx, tx, ch)
		return err
	})
	var appErr *refund.Error
	if errors.As(err, &appErr) {
		return refund.Case{}, appErr
	}
	if err != nil {
		return refund.Case{}, fmt.Errorf("apply %s -> %s to case %s: %w", ch.From, ch.To, refund.FormatCaseNumber(ch.CaseID), err)
	}
	return c, nil
}

// lockedCase is what Apply reads from the locked case row.
type lockedCase struct {
	status   refund.Status
	orderID  string
	buyer    int64
	currency string
	// files is how many evidence files the case has; they sit at
	// positions 1 to files.
	files int
}

// applyChange does Apply's work inside its transaction, in an order that
// matters: the case row is locked first, so every other step runs for a
// case nobody else is changing; a settlement runs before a new payout, so
// that a failed payout's reservation and live slot are freed for it.
func applyChange(ctx context.Context, tx pgx.Tx, ch refund.Change) (refund.Case, error) {
	number := refund.FormatCaseNumber(ch.CaseID)
	var (
		lc     lockedCase
		status string
	)
	err := tx.QueryRow(ctx, `
		SELECT status, order_id, buyer_user_id, currency,
			COALESCE((SELECT max(position) FROM case_evidence e WHERE e.case_id = cases.id), 0)
		FROM cases WHERE id = $1 FOR UPDATE`, ch.CaseID,
	).Scan(&status, &lc.orderID, &lc.buyer, &lc.currency, &lc.files)
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", number)
	}
	if err != nil {
		return refund.Case{}, fmt.Errorf("lock case: %w", err)
	}
	lc.status = refund.Status(status)
	if lc.status != ch.From {
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "case %s is %s, not %s", number, lc.status, ch.From)
	}
	if lc.files+len(ch.Evidence) > refund.MaxEvidence {
		return refund.Case{}, refund.FieldError("evidence", "at most %d files per case", refund.MaxEvidence)
	}
	var payout refund.Payout
	if ch.Payout != nil {
		if payout, err = newPayout(*ch.Payout, ch, lc); err != nil {
			return refund.Case{}, err
		}
	}

	if err := updateCase(ctx, tx, ch); err != nil {
		return refund.Case{}, err
	}
	if err := insertEvents(ctx, tx, ch); err != nil {
		return refund.Case{}, err
	}
	if err := insertEvidence(ctx, tx, ch.CaseID, lc.files, ch.Evidence); err != nil {
		return refund.Case{}, err
	}
	if ch.Settle != nil {
		if err := settlePayout(ctx, tx, ch); err != nil {
			return refund.Case{}, err
		}
	}
	if ch.Payout != nil {
		if err := insertPayout(ctx, tx, payout); err != nil {
			return refund.Case{}, err
		}
	}
	if ch.Credit > 0 {
		if err := credit(ctx, tx, ch, lc); err != nil {
			return refund.Case{}, err
		}
	}
	for _, m := range ch.Outbox {
		if err := insertOutbox(ctx, tx, m, ch.At); err != nil {
			return refund.Case{}, err
		}
	}
	return loadCase(ctx, tx, ch.CaseID)
}

// newPayout completes a change's payout from its case. The case is the
// authority on whose money it is; a payout that says otherwise is a bug
// in the caller, refused rather than silently corrected.
func newPayout(p refund.Payout, ch refund.Change, lc lockedCase) (refund.Payout, error) {
	switch {
	case p.CaseID != 0 && p.CaseID != ch.CaseID,
		p.OrderID != "" && p.OrderID != lc.orderID,
		p.BuyerUserID != 0 && p.BuyerUserID != lc.buyer,
		p.Currency != "" && p.Currency != lc.currency:
		return refund.Payout{}, refund.FieldError("payout", "payout %s does not match case %s", p.ID, refund.FormatCaseNumber(ch.CaseID))
	}
	p.CaseID, p.OrderID, p.BuyerUserID, p.Currency = ch.CaseID, lc.orderID, lc.buyer, lc.currency
	p.CreatedAt, p.Error, p.SettledAt = ch.At, "", time.Time{}
	if p.Status == refund.PayoutConfirmed {
		p.SettledAt = ch.At
	} else {
		p.Status = refund.PayoutPending
	}
	return p, nil
}

func updateCase(ctx context.Context, tx pgx.Tx, ch refund.Change) error {
	// NULL keeps the stored amounts when the change decides none.
	var refundCents, feeCents, deductionCents *int64
	if d := ch.Decided; d != nil {
		r, f, k := int64(d.Refund), int64(d.Fee), int64(d.Deduction)
		refundCents, feeCents, deductionCents = &r, &f, &k
	}
	var due refund.Due
	if ch.Due != nil {
		due = *ch.Due
	}
	appeal := 0
	if ch.Appeal {
		appeal = 1
	}
	_, err := tx.Exec(ctx, `
		UPDATE cases SET
			status                  = $2,
			updated_at              = $3,
			decided_refund_cents    = COALESCE($4::bigint, decided_refund_cents),
			decided_fee_cents       = COALESCE($5::bigint, decided_fee_cents),
			decided_deduction_cents = COALESCE($6::bigint, decided_deduction_cents),
			route                   = COALESCE(NULLIF($7::text, ''), route),
			due_kind                = CASE WHEN $8::boolean THEN NULLIF($9::text, '') ELSE due_kind END,
			due_at                  = CASE WHEN $8::boolean THEN $10::timestamptz ELSE due_at END,
			appeals                 = appeals + $11::int,
			review_overdue          = review_overdue OR $12::boolean
		WHERE id = $1`,
		ch.CaseID, string(ch.To), ch.At, refundCents, feeCents, deductionCents, string(ch.Route),
		ch.Due != nil, string(due.Kind), nullTime(due.At), appeal, ch.ReviewOverdue)
	if pe, ok := pgError(err, uniqueViolation); ok && pe.ConstraintName == constraintOpenCase {
		return refund.Errorf(refund.ECONFLICT, "case %s cannot reopen: its order has another open case", refund.FormatCaseNumber(ch.CaseID))
	}
	if err != nil {
		return fmt.Errorf("update case: %w", err)
	}
	return nil
}

// insertEvents numbers the change's events on from the case's last. The
// case row lock keeps anyone else from taking the same numbers.
func insertEvents(ctx context.Context, tx pgx.Tx, ch refund.Change) error {
	var last int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM case_events WHERE case_id = $1`,
		ch.CaseID).Scan(&last); err != nil {
		return fmt.Errorf("number events: %w", err)
	}
	batch := &pgx.Batch{}
	for i, ev := range ch.Events {
		batch.Queue(`
			INSERT INTO case_events (case_id, seq, type, actor, status, rules, amount_cents, note, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			ch.CaseID, last+i+1, string(ev.Type), ch.Actor, string(ev.Status), fromRules(ev.Rules),
			int64(ev.Amount), ev.Note, ch.At)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

// settlePayout records the shop's answer. Only a pending payout of the
// case being changed can be settled: a payout answered twice, or an answer
// routed to the wrong case, must not move money again.
func settlePayout(ctx context.Context, tx pgx.Tx, ch refund.Change) error {
	s := ch.Settle
	var (
		caseID        int64
		status, order string
		amount        int64
	)
	// No row lock needed: a payout changes only in an Apply of its own
	// case, and this transaction holds that case's lock when they match.
	err := tx.QueryRow(ctx, `SELECT case_id, status, order_id, amount_cents FROM payouts WHERE id = $1`,
		s.PayoutID).Scan(&caseID, &status, &order, &amount)
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Errorf(refund.ENOTFOUND, "payout %s not found", s.PayoutID)
	}
	if err != nil {
		return fmt.Errorf("load payout %s: %w", s.PayoutID, err)
	}
	switch {
	case caseID != ch.CaseID:
		return refund.Errorf(refund.ECONFLICT, "payout %s belongs to case %s, not %s", s.PayoutID,
			refund.FormatCaseNumber(caseID), refund.FormatCaseNumber(ch.CaseID))
	case refund.PayoutStatus(status) != refund.PayoutPending:
		return refund.Errorf(refund.ECONFLICT, "payout %s is already %s", s.PayoutID, status)
	}
	if s.OK {
		if _, err := tx.Exec(ctx, `UPDATE payouts SET status = 'confirmed', settled_at = $2 WHERE id = $1`,
			s.PayoutID, ch.At); err != nil {
			return fmt.Errorf("confirm payout %s: %w", s.PayoutID, err)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE payouts SET status = 'failed', error = $2, settled_at = $3 WHERE id = $1`,
		s.PayoutID, s.Error, ch.At); err != nil {
		return fmt.Errorf("fail payout %s: %w", s.PayoutID, err)
	}
	// The money never left, so the order may be refunded it again.
	if _, err := tx.Exec(ctx, `UPDATE orders SET refunded_cents = refunded_cents - $2 WHERE id = $1`,
		order, amount); err != nil {
		return fmt.Errorf("release payout %s: %w", s.PayoutID, err)
	}
	return nil
}

// insertPayout reserves the payout's amount on its order, then records it.
// The reservation is what makes "refunded <= paid" hold across cases: the
// order row's CHECK refuses the sum, and its row lock orders concurrent
// payouts of one order.
func insertPayout(ctx context.Context, tx pgx.Tx, p refund.Payout) error {
	_, err := tx.Exec(ctx, `UPDATE orders SET refunded_cents = refunded_cents + $2 WHERE id = $1`,
		p.OrderID, int64(p.Amount))
	if pe, ok := pgError(err, checkViolation); ok && pe.ConstraintName == constraintRefundedWithinPaid {
		return refund.Errorf(refund.ECONFLICT, "payout %s of %s would refund order %s more than was paid",
			p.ID, p.Amount, p.OrderID)
	}
	if err != nil {
		return fmt.Errorf("reserve payout %s: %w", p.ID, err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO payouts (id, case_id, order_id, buyer_user_id, route, method, amount_cents, currency,
			account, status, error, created_at, settled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.ID, p.CaseID, p.OrderID, p.BuyerUserID, string(p.Route), string(p.Method), int64(p.Amount), p.Currency,
		p.Account, string(p.Status), p.Error, p.CreatedAt, nullTime(p.SettledAt))
	if pe, ok := pgError(err, uniqueViolation); ok {
		if pe.ConstraintName == constraintLivePayout {
			return refund.Errorf(refund.ECONFLICT, "case %s already has a payout on its way or paid",
				refund.FormatCaseNumber(p.CaseID))
		}
		return refund.Errorf(refund.ECONFLICT, "payout id %s is already used", p.ID)
	}
	if err != nil {
		return fmt.Errorf("insert payout %s: %w", p.ID, err)
	}
	return nil
}

// credit adds to the buyer's balance. The entry names the payout it pays,
// if the change has one, and the ledger's unique indexes keep one credit
// per payout (or per case, without one), so a replayed approval cannot
// credit twice.
func credit(ctx context.Context, tx pgx.Tx, ch refund.Change, lc lockedCase) error {
	var payoutID *string
	switch {
	case ch.Payout != nil:
		payoutID = &ch.Payout.ID
	case ch.Settle != nil:
		payoutID = &ch.Settle.PayoutID
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO balance_ledger (user_id, currency, amount_cents, case_id, payout_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		lc.buyer, lc.currency, int64(ch.Credit), ch.CaseID, payoutID, ch.At)
	if _, ok := pgError(err, uniqueViolation); ok {
		return refund.Errorf(refund.ECONFLICT, "case %s was already credited", refund.FormatCaseNumber(ch.CaseID))
	}
	if err != nil {
		return fmt.Errorf("credit balance: %w", err)
	}
	return nil
}

// insertOutbox keeps the first message written with a key: a change
// retried after a lost commit acknowledgement announces itself once.
func insertOutbox(ctx context.Context, tx pgx.Tx, m refund.OutboxMessage, at time.Time) error {
	payload := m.Payload
	if payload == nil {
		// pgx sends a nil slice as NULL, which the column refuses.
		payload = []byte{}
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO outbox (kind, key, payload, available_at, created_at)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (kind, key) DO NOTHING`,
		string(m.Kind), m.Key, payload, at); err != nil {
		return fmt.Errorf("insert outbox %s %s: %w", m.Kind, m.Key, err)
	}
	return nil
}

// Facts returns what the first review needs around a case. It reads the
// case as given — its ID, order, buyer and files — rather than as stored,
// so that files a change is about to add are checked for reuse before
// they are. RefundedBefore counts payouts still live, pending or
// confirmed, because a pending payout's money is already promised.
func (db *DB) Facts(ctx context.Context, c refund.Case, since time.Time) (refund.CaseFacts, error) {
	var (
		f                    refund.CaseFacts
		refunded             int64
		buyerRefunds, reused int64
	)
	uniqueIDs := make([]string, 0, len(c.Evidence))
	for _, e := range c.Evidence {
		uniqueIDs = append(uniqueIDs, e.FileUniqueID)
	}
	err := db.pool.QueryRow(ctx, `
		SELECT
			(SELECT COALESCE(sum(amount_cents), 0)::bigint FROM payouts
				WHERE order_id = $2 AND case_id <> $1 AND status IN ('pending', 'confirmed')),
			(SELECT count(*) FROM cases
				WHERE buyer_user_id = $3 AND id <> $1 AND status = 'refunded' AND updated_at >= $4),
			(SELECT count(DISTINCT file_unique_id) FROM case_evidence
				WHERE file_unique_id = ANY($5::text[]) AND case_id <> $1)`,
		c.ID, c.OrderID, c.BuyerUserID, since, uniqueIDs,
	).Scan(&refunded, &buyerRefunds, &reused)
	if err != nil {
		return refund.CaseFacts{}, fmt.Errorf("facts of case %s: %w", refund.FormatCaseNumber(c.ID), err)
	}
	f.RefundedBefore, f.BuyerRefunds, f.ReusedEvidence = refund.Money(refunded), int(buyerRefunds), int(reused)
	return f, nil
}

// DueCases returns up to limit open cases whose deadline is at or before
// now, earliest first. A closed or refunded case's leftover deadline is
// ignored: nothing is left to do for it.
func (db *DB) DueCases(ctx context.Context, now time.Time, limit int) ([]refund.Case, error) {
	if limit <= 0 {
		return nil, refund.FieldError("limit", "limit must be positive")
	}
	rows, err := db.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases
		WHERE due_at <= $1 AND status NOT IN ('refunded', 'closed')
		ORDER BY due_at, id LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("load due cases: %w", err)
	}
	cases, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Case, error) { return scanCase(row) })
	if err != nil {
		return nil, fmt.Errorf("load due cases: %w", err)
	}
	if err := attachEvidence(ctx, db.pool, cases); err != nil {
		return nil, fmt.Errorf("load due cases: %w", err)
	}
	return cases, nil
}

const payoutColumns = `id, case_id, order_id, buyer_user_id, route, method, amount_cents, currency,
	account, status, error, created_at, settled_at`

func scanPayout(row pgx.Row) (refund.Payout, error) {
	var (
		p                     refund.Payout
		route, method, status string
		amount                int64
		settledAt             *time.Time
	)
	err := row.Scan(&p.ID, &p.CaseID, &p.OrderID, &p.BuyerUserID, &route, &method, &amount, &p.Currency,
		&p.Account, &status, &p.Error, &p.CreatedAt, &settledAt)
	p.Route, p.Method, p.Status = refund.PayoutRoute(route), refund.PaymentMethod(method), refund.PayoutStatus(status)
	p.Amount, p.CreatedAt, p.SettledAt = refund.Money(amount), p.CreatedAt.UTC(), fromNull(settledAt)
	return p, err
}

// Payout returns a payout by ID, or an ENOTFOUND error.
func (db *DB) Payout(ctx context.Context, id string) (refund.Payout, error) {
	p, err := scanPayout(db.pool.QueryRow(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Payout{}, refund.Errorf(refund.ENOTFOUND, "payout %s not found", id)
	}
	if err != nil {
		return refund.Payout{}, fmt.Errorf("load payout %s: %w", id, err)
	}
	return p, nil
}

// PayoutsByCase returns a case's payouts, oldest first. A case without
// payouts, known or not, has an empty list.
func (db *DB) PayoutsByCase(ctx context.Context, caseID int64) ([]refund.Payout, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE case_id = $1
		ORDER BY created_at, seq`, caseID)
	if err != nil {
		return nil, fmt.Errorf("load payouts of case %s: %w", refund.FormatCaseNumber(caseID), err)
	}
	payouts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Payout, error) { return scanPayout(row) })
	if err != nil {
		return nil, fmt.Errorf("load payouts of case %s: %w", refund.FormatCaseNumber(caseID), err)
	}
	return payouts, nil
}

// Balance returns a user's platform balance in a currency: the sum of the
// ledger, 0 for a user it never mentions.
func (db *DB) Balance(ctx context.Context, userID int64, currency string) (refund.Money, error) {
	var sum int64
	if err := db.pool.QueryRow(ctx, `SELECT COALESCE(sum(amount_cents), 0)::bigint FROM balance_ledger
		WHERE user_id = $1 AND currency = $2`, userID, currency).Scan(&sum); err != nil {
		return 0, fmt.Errorf("balance of user %d in %s: %w", userID, currency, err)
	}
	return refund.Money(sum), nil
}

// fromRules gives the column a non-nil array: pgx sends a nil slice as
// NULL, which the column refuses.
func fromRules(rules []refund.Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = string(r)
	}
	return out
}

// toRules returns nil for no rules, as an event written without any was.
func toRules(rules []string) []refund.Rule {
	if len(rules) == 0 {
		return nil
	}
	out := make([]refund.Rule, len(rules))
	for i, r := range rules {
		out[i] = refund.Rule(r)
	}
	return out
}
