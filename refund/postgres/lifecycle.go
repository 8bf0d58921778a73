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

// lifecycle is the DB's part that moves cases through their lifecycle:
// Apply makes a planned refund.Change in one transaction, and DueCases
// finds the cases whose deadline passed.
type lifecycle struct{ pool *pgxpool.Pool }

// Apply makes a change in one transaction. The case row is locked from
// the status check to the commit, so two processes deciding on the same
// case are serialized and the loser sees the case no longer in ch.From
// (ECONFLICT) and changes nothing. A payout the money invariants refuse —
// more than the order's amount paid, or a second live payout for the case
// — is an ECONFLICT error too, and rolls back the whole change. It
// returns the case as the change left it.
func (db *lifecycle) Apply(ctx context.Context, ch refund.Change) (refund.Case, error) {
	if err := ch.Validate(); err != nil {
		return refund.Case{}, err
	}
	c, err := db.applyChange(ctx, ch)
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

// applyChange sends the whole change in one batch that also begins the
// transaction, checks every result, and only then commits: two round
// trips, the batch and the COMMIT, whatever the change holds. The server
// runs the statements in the order queued, and that order matters: the
// case row is locked first, so every later statement runs for a case
// nobody else is changing; a settlement runs before a new payout, so that
// a failed payout's reservation and live slot are freed for it.
//
// The batch is on its way before the lock's answer is known, so the later
// statements run even when the case has left ch.From. Nothing is
// committed then: the lock's answer is read first, refuses the change,
// and everything is rolled back. So the statements take what they need
// from the case row itself rather than from the lock's answer.
func (db *lifecycle) applyChange(ctx context.Context, ch refund.Change) (refund.Case, error) {
	number := refund.FormatCaseNumber(ch.CaseID)
	var (
		p  pipeline
		lc lockedCase
		c  refund.Case
	)
	// The BEGIN is the batch's first statement, and its result the first.
	p.batch.BeginTx(pgx.TxOptions{})
	p.reads = append(p.reads, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		return nil
	})
	p.queue(func(br pgx.BatchResults) error {
		var status string
		err := br.QueryRow().Scan(&status, &lc.orderID, &lc.buyer, &lc.currency, &lc.files)
		if errors.Is(err, pgx.ErrNoRows) {
			return refund.Errorf(refund.ENOTFOUND, "case %s not found", number)
		}
		if err != nil {
			return fmt.Errorf("lock case: %w", err)
		}
		lc.status = refund.Status(status)
		if lc.status != ch.From {
			return refund.Errorf(refund.ECONFLICT, "case %s is %s, not %s", number, lc.status, ch.From)
		}
		if lc.files+len(ch.Evidence) > refund.MaxEvidence {
			return refund.FieldError("evidence", "at most %d files per case", refund.MaxEvidence)
		}
		if ch.Payout != nil {
			return checkPayout(*ch.Payout, ch, lc)
		}
		return nil
	}, `
		SELECT status, order_id, buyer_user_id, currency,
			COALESCE((SELECT max(position) FROM case_evidence e WHERE e.case_id = cases.id), 0)
		FROM cases WHERE id = $1 FOR UPDATE`, ch.CaseID)

	if len(ch.Evidence) > 0 {
		queueEvidence(&p, ch.CaseID, ch.Evidence)
	}
	// After the evidence, so that the case it returns has the new files.
	queueUpdateCase(&p, ch, &c)
	queueEvents(&p, ch)
	if ch.Settle != nil {
		queueSettlement(&p, ch)
	}
	if ch.Payout != nil {
		queuePayout(&p, ch, &lc)
	}
	if ch.Credit > 0 {
		queueCredit(&p, ch)
	}
	for _, m := range ch.Outbox {
		queueOutbox(&p, m, ch.At)
	}

	br := db.pool.SendBatch(ctx, &p.batch)
	tx := br.Tx()
	var err error
	for _, read := range p.reads {
		if err = read(br); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("send change: %w", cerr)
	}
	if err != nil {
		// The connection goes back to the pool with the rollback; an
		// error of the rollback itself closes the connection instead.
		_ = tx.Rollback(ctx)
		return refund.Case{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return refund.Case{}, fmt.Errorf("commit: %w", err)
	}
	return c, nil
}

// checkPayout refuses a change's payout that names another case's money.
// The case is the authority on whose money it is, and the stored payout
// takes case, order, buyer and currency from the case row; a payout that
// says otherwise is a bug in the caller, refused rather than silently
// corrected.
func checkPayout(p refund.Payout, ch refund.Change, lc lockedCase) error {
	switch {
	case p.CaseID != 0 && p.CaseID != ch.CaseID,
		p.OrderID != "" && p.OrderID != lc.orderID,
		p.BuyerUserID != 0 && p.BuyerUserID != lc.buyer,
		p.Currency != "" && p.Currency != lc.currency:
		return refund.FieldError("payout", "payout %s does not match case %s", p.ID, refund.FormatCaseNumber(ch.CaseID))
	}
	return nil
}

// queueUpdateCase queues the case row's update, which returns the case as
// the change leaves it, with its files, into c.
func queueUpdateCase(p *pipeline, ch refund.Change, c *refund.Case) {
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
	p.queue(func(br pgx.BatchResults) error {
		var err error
		*c, err = scanCaseWithEvidence(br.QueryRow())
		if pe, ok := pgError(err, uniqueViolation); ok && pe.ConstraintName == constraintOpenCase {
			return refund.Errorf(refund.ECONFLICT, "case %s cannot reopen: its order has another open case", refund.FormatCaseNumber(ch.CaseID))
		}
		if err != nil {
			return fmt.Errorf("update case: %w", err)
		}
		return nil
	}, `
		WITH u AS (
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
			WHERE id = $1
			RETURNING `+caseColumns+`
		)
		SELECT u.*, files.* FROM u
		CROSS JOIN LATERAL (`+evidenceAggregate+` FROM case_evidence WHERE case_id = u.id) files`,
		ch.CaseID, string(ch.To), ch.At, refundCents, feeCents, deductionCents, string(ch.Route),
		ch.Due != nil, string(due.Kind), nullTime(due.At), appeal, ch.ReviewOverdue)
}

// queueEvents numbers the change's events on from the case's last, each
// in its own INSERT, which sees the ones before it. The case row lock
// keeps anyone else from taking the same numbers.
func queueEvents(p *pipeline, ch refund.Change) {
	for _, ev := range ch.Events {
		p.exec("insert events", nil, `
			INSERT INTO case_events (case_id, seq, type, actor, status, rules, amount_cents, note, at)
			SELECT $1, COALESCE(max(seq), 0) + 1, $2::text, $3::text, $4::text, $5::text[], $6::bigint, $7::text, $8::timestamptz
			FROM case_events WHERE case_id = $1`,
			ch.CaseID, string(ev.Type), ch.Actor, string(ev.Status), fromRules(ev.Rules),
			int64(ev.Amount), ev.Note, ch.At)
	}
}

// queueSettlement records the shop's answer. Only a pending payout of the
// case being changed can be settled: a payout answered twice, or an answer
// routed to the wrong case, must not move money again. The payout is read
// before it is changed and checked then; the updates repeat the check, so
// that they change nothing where it fails.
func queueSettlement(p *pipeline, ch refund.Change) {
	s := ch.Settle
	// No row lock needed: a payout changes only in an Apply of its own
	// case, and this transaction holds that case's lock when they match.
	p.queue(func(br pgx.BatchResults) error {
		var (
			caseID int64
			status string
		)
		err := br.QueryRow().Scan(&caseID, &status)
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
		return nil
	}, `SELECT case_id, status FROM payouts WHERE id = $1`, s.PayoutID)
	if s.OK {
		p.exec(fmt.Sprintf("confirm payout %s", s.PayoutID), nil, `
			UPDATE payouts SET status = 'confirmed', settled_at = $2
			WHERE id = $1 AND case_id = $3 AND status = 'pending'`,
			s.PayoutID, ch.At, ch.CaseID)
		return
	}
	// The money never left, so the order may be refunded it again.
	p.exec(fmt.Sprintf("fail payout %s", s.PayoutID), nil, `
		WITH failed AS (
			UPDATE payouts SET status = 'failed', error = $2, settled_at = $3
			WHERE id = $1 AND case_id = $4 AND status = 'pending'
			RETURNING order_id, amount_cents
		)
		UPDATE orders SET refunded_cents = refunded_cents - failed.amount_cents
		FROM failed WHERE orders.id = failed.order_id`,
		s.PayoutID, s.Error, ch.At, ch.CaseID)
}

// queuePayout reserves the payout's amount on its order, then records it.
// The reservation is what makes "refunded <= paid" hold across cases: the
// order row's CHECK refuses the sum, and its row lock orders concurrent
// payouts of one order. lc is the locked case, read before these results.
func queuePayout(p *pipeline, ch refund.Change, lc *lockedCase) {
	pay := *ch.Payout
	status, settledAt := refund.PayoutPending, time.Time{}
	if pay.Status == refund.PayoutConfirmed {
		status, settledAt = refund.PayoutConfirmed, ch.At
	}
	p.exec(fmt.Sprintf("reserve payout %s", pay.ID), func(err error) error {
		if pe, ok := pgError(err, checkViolation); ok && pe.ConstraintName == constraintRefundedWithinPaid {
			return refund.Errorf(refund.ECONFLICT, "payout %s of %s would refund order %s more than was paid",
				pay.ID, pay.Amount, lc.orderID)
		}
		return nil
	}, `UPDATE orders SET refunded_cents = refunded_cents + $2 WHERE id = (SELECT order_id FROM cases WHERE id = $1)`,
		ch.CaseID, int64(pay.Amount))
	p.exec(fmt.Sprintf("insert payout %s", pay.ID), func(err error) error {
		pe, ok := pgError(err, uniqueViolation)
		switch {
		case !ok:
			return nil
		case pe.ConstraintName == constraintLivePayout:
			return refund.Errorf(refund.ECONFLICT, "case %s already has a payout on its way or paid",
				refund.FormatCaseNumber(ch.CaseID))
		default:
			return refund.Errorf(refund.ECONFLICT, "payout id %s is already used", pay.ID)
		}
	}, `
		INSERT INTO payouts (id, case_id, order_id, buyer_user_id, route, method, amount_cents, currency,
			account, status, error, created_at, settled_at)
		SELECT $1::text, id, order_id, buyer_user_id, $3::text, $4::text, $5::bigint, currency, $6::text, $7::text, '',
			$8::timestamptz, $9::timestamptz
		FROM cases WHERE id = $2`,
		pay.ID, ch.CaseID, string(pay.Route), string(pay.Method), int64(pay.Amount),
		pay.Account, string(status), ch.At, nullTime(settledAt))
}

// queueCredit adds to the buyer's balance. The entry names the payout it
// pays, if the change has one, and the ledger's unique indexes keep one
// credit per payout (or per case, without one), so a replayed approval
// cannot credit twice.
func queueCredit(p *pipeline, ch refund.Change) {
	var payoutID *string
	switch {
	case ch.Payout != nil:
		payoutID = &ch.Payout.ID
	case ch.Settle != nil:
		payoutID = &ch.Settle.PayoutID
	}
	p.exec("credit balance", func(err error) error {
		if _, ok := pgError(err, uniqueViolation); ok {
			return refund.Errorf(refund.ECONFLICT, "case %s was already credited", refund.FormatCaseNumber(ch.CaseID))
		}
		return nil
	}, `
		INSERT INTO balance_ledger (user_id, currency, amount_cents, case_id, payout_id, created_at)
		SELECT buyer_user_id, currency, $2::bigint, id, $3::text, $4::timestamptz FROM cases WHERE id = $1`,
		ch.CaseID, int64(ch.Credit), payoutID, ch.At)
}

// queueOutbox keeps the first message written with a key: a change
// retried after a lost commit acknowledgement announces itself once.
func queueOutbox(p *pipeline, m refund.OutboxMessage, at time.Time) {
	payload := m.Payload
	if payload == nil {
		// pgx sends a nil slice as NULL, which the column refuses.
		payload = []byte{}
	}
	p.exec(fmt.Sprintf("insert outbox %s %s", m.Kind, m.Key), nil, `
		INSERT INTO outbox (kind, key, payload, available_at, created_at)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (kind, key) DO NOTHING`,
		string(m.Kind), m.Key, payload, at)
}

// DueCases returns up to limit open cases whose deadline is at or before
// now, earliest first. A closed or refunded case's leftover deadline is
// ignored: nothing is left to do for it.
func (db *lifecycle) DueCases(ctx context.Context, now time.Time, limit int) ([]refund.Case, error) {
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
