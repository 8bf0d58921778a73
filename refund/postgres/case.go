package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refundbot/refundbot/refund"
)

// CreateCase stores a new case with its evidence and a "submitted" event in
// one transaction. A retry with the same SubmissionKey returns the case the
// first call created, even when both calls race; a key already used by
// another buyer or for another order is an ECONFLICT error, so that a case
// is never handed to someone else. Another open case for the order is an
// ECONFLICT error and an unknown order an ENOTFOUND error.
func (db *DB) CreateCase(ctx context.Context, n refund.NewCase) (refund.Case, error) {
	if err := n.Validate(); err != nil {
		return refund.Case{}, err
	}
	id, err := db.insertCase(ctx, n)
	if pe, ok := pgError(err, foreignKeyViolation); ok && pe.ConstraintName == constraintCaseOrder {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "order %s not found", n.OrderID)
	}
	if pe, ok := pgError(err, uniqueViolation); ok {
		// Two submissions with the same key can both pass the key check and
		// then meet on the open-case index, where the loser gets an error
		// instead of the ON CONFLICT path. If the key is taken now, the
		// loser is a retry and gets the winner's case.
		existing, found, lerr := caseIDBySubmissionKey(ctx, db.pool, n.SubmissionKey)
		switch {
		case lerr != nil:
			return refund.Case{}, fmt.Errorf("create case for order %s: %w (after %w)", n.OrderID, lerr, err)
		case found:
			id, err = existing, nil
		case pe.ConstraintName == constraintOpenCase:
			return refund.Case{}, refund.Errorf(refund.ECONFLICT, "order %s already has an open case", n.OrderID)
		}
	}
	if err != nil {
		return refund.Case{}, fmt.Errorf("create case for order %s: %w", n.OrderID, err)
	}
	c, err := db.Case(ctx, id)
	if err != nil {
		return refund.Case{}, fmt.Errorf("create case for order %s: %w", n.OrderID, err)
	}
	if c.OrderID != n.OrderID || c.BuyerUserID != n.BuyerUserID {
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "submission key already used for case %s", c.Number())
	}
	return c, nil
}

// insertCase inserts the case, its evidence and its first event, or finds
// the case an earlier call with the same submission key inserted, and
// returns its ID.
func (db *DB) insertCase(ctx context.Context, n refund.NewCase) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// DO NOTHING waits for a concurrent insert of the same key to
		// commit or abort, so when no row comes back the other case is
		// committed and visible to the next statement.
		err := tx.QueryRow(ctx, `
			INSERT INTO cases (order_id, buyer_user_id, chat_id, reason, statement, requested_amount_cents,
				currency, status, language, submission_key, due_kind, due_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''), $12, now(), now())
			ON CONFLICT (submission_key) DO NOTHING
			RETURNING id`,
			n.OrderID, n.BuyerUserID, n.ChatID, string(n.Reason), n.Statement, int64(n.RequestedAmount),
			n.Currency, string(refund.StatusSubmitted), n.Language, n.SubmissionKey,
			string(n.Due.Kind), nullTime(n.Due.At),
		).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			existing, found, err := caseIDBySubmissionKey(ctx, tx, n.SubmissionKey)
			if err == nil && !found {
				err = fmt.Errorf("submission key %q conflicted but no case has it", n.SubmissionKey)
			}
			id = existing
			return err
		}
		if err != nil {
			return fmt.Errorf("insert case: %w", err)
		}
		if err := insertEvidence(ctx, tx, id, 0, n.Evidence); err != nil {
			return err
		}
		// now() is the transaction's start, so the event is stamped with
		// exactly the case's created_at.
		if _, err := tx.Exec(ctx, `
			INSERT INTO case_events (case_id, seq, type, actor, status, note, at)
			VALUES ($1, 1, $2, $3, $4, '', now())`,
			id, string(refund.EventSubmitted), refund.ActorBuyer, string(refund.StatusSubmitted),
		); err != nil {
			return fmt.Errorf("insert submitted event: %w", err)
		}
		return nil
	})
	return id, err
}

// insertEvidence stores the files in one statement, numbering them on from
// after, the last position already taken, in the order the buyer sent them.
func insertEvidence(ctx context.Context, tx pgx.Tx, caseID int64, after int, evidence []refund.Evidence) error {
	if len(evidence) == 0 {
		return nil
	}
	var kinds, fileIDs, uniqueIDs, mimeTypes, fileNames, captions []string
	var sizes []int64
	for _, e := range evidence {
		kinds = append(kinds, string(e.Kind))
		fileIDs = append(fileIDs, e.FileID)
		uniqueIDs = append(uniqueIDs, e.FileUniqueID)
		sizes = append(sizes, e.Size)
		mimeTypes = append(mimeTypes, e.MIMEType)
		fileNames = append(fileNames, e.FileName)
		captions = append(captions, e.Caption)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO case_evidence (case_id, position, kind, file_id, file_unique_id, size, mime_type, file_name, caption)
		SELECT $1, $9 + e.position, e.kind, e.file_id, e.file_unique_id, e.size, e.mime_type, e.file_name, e.caption
		FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
			WITH ORDINALITY AS e(kind, file_id, file_unique_id, size, mime_type, file_name, caption, position)`,
		caseID, kinds, fileIDs, uniqueIDs, sizes, mimeTypes, fileNames, captions, after)
	if err != nil {
		return fmt.Errorf("insert evidence: %w", err)
	}
	return nil
}

// querier is what both the pool and a transaction offer, so that a lookup
// can run inside or outside one.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func caseIDBySubmissionKey(ctx context.Context, q querier, key string) (id int64, found bool, err error) {
	err = q.QueryRow(ctx, `SELECT id FROM cases WHERE submission_key = $1`, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up submission key: %w", err)
	}
	return id, true, nil
}

const caseColumns = `id, order_id, buyer_user_id, chat_id, reason, statement, requested_amount_cents,
	currency, status, language, submission_key, decided_refund_cents, decided_fee_cents,
	decided_deduction_cents, route, COALESCE(due_kind, ''), due_at, appeals, review_overdue,
	created_at, updated_at`

func scanCase(row pgx.Row) (refund.Case, error) {
	var (
		c                            refund.Case
		reason, status, route, due   string
		amount, decided, fee, deduct int64
		dueAt                        *time.Time
	)
	err := row.Scan(&c.ID, &c.OrderID, &c.BuyerUserID, &c.ChatID, &reason, &c.Statement, &amount,
		&c.Currency, &status, &c.Language, &c.SubmissionKey, &decided, &fee,
		&deduct, &route, &due, &dueAt, &c.Appeals, &c.ReviewOverdue,
		&c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return refund.Case{}, err
	}
	c.Reason, c.Status, c.RequestedAmount = refund.Reason(reason), refund.Status(status), refund.Money(amount)
	c.Decided = refund.Amounts{Refund: refund.Money(decided), Fee: refund.Money(fee), Deduction: refund.Money(deduct)}
	c.Route, c.Due = refund.PayoutRoute(route), refund.Due{Kind: refund.DueKind(due), At: fromNull(dueAt)}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// Case returns a case with its evidence in upload order, or an ENOTFOUND
// error.
func (db *DB) Case(ctx context.Context, id int64) (refund.Case, error) {
	return loadCase(ctx, db.pool, id)
}

// loadCase is Case on a pool or in a transaction, so that Apply can return
// the case exactly as its own change left it.
func loadCase(ctx context.Context, q querier, id int64) (refund.Case, error) {
	c, err := scanCase(q.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(id))
	}
	if err != nil {
		return refund.Case{}, fmt.Errorf("load case %s: %w", refund.FormatCaseNumber(id), err)
	}
	cases := []refund.Case{c}
	if err := attachEvidence(ctx, q, cases); err != nil {
		return refund.Case{}, fmt.Errorf("load case %s: %w", refund.FormatCaseNumber(id), err)
	}
	return cases[0], nil
}

// CasesByOrder returns the order's cases with their evidence, newest first.
// An order without cases, known or not, has an empty list.
func (db *DB) CasesByOrder(ctx context.Context, orderID string) ([]refund.Case, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases WHERE order_id = $1
		ORDER BY created_at DESC, id DESC`, orderID)
	if err != nil {
		return nil, fmt.Errorf("load cases of order %s: %w", orderID, err)
	}
	cases, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Case, error) { return scanCase(row) })
	if err != nil {
		return nil, fmt.Errorf("load cases of order %s: %w", orderID, err)
	}
	if err := attachEvidence(ctx, db.pool, cases); err != nil {
		return nil, fmt.Errorf("load cases of order %s: %w", orderID, err)
	}
	return cases, nil
}

// attachEvidence loads the evidence of all cases in one query.
func attachEvidence(ctx context.Context, q querier, cases []refund.Case) error {
	if len(cases) == 0 {
		return nil
	}
	ids := make([]int64, len(cases))
	index := make(map[int64]int, len(cases))
	for i, c := range cases {
		ids[i] = c.ID
		index[c.ID] = i
	}
	rows, err := q.Query(ctx, `
		SELECT case_id, kind, file_id, file_unique_id, size, mime_type, file_name, caption
		FROM case_evidence WHERE case_id = ANY($1) ORDER BY case_id, position`, ids)
	if err != nil {
		return fmt.Errorf("load evidence: %w", err)
	}
	for rows.Next() {
		var (
			caseID int64
			kind   string
			e      refund.Evidence
		)
		if err := rows.Scan(&caseID, &kind, &e.FileID, &e.FileUniqueID, &e.Size, &e.MIMEType, &e.FileName, &e.Caption); err != nil {
			rows.Close()
			return fmt.Errorf("load evidence: %w", err)
		}
		e.Kind = refund.EvidenceKind(kind)
		i := index[caseID]
		cases[i].Evidence = append(cases[i].Evidence, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load evidence: %w", err)
	}
	return nil
}

// Events returns a case's history, oldest first, or an ENOTFOUND error.
func (db *DB) Events(ctx context.Context, caseID int64) ([]refund.Event, error) {
	rows, err := db.pool.Query(ctx, `SELECT case_id, seq, type, actor, status, rules, amount_cents, note, at
		FROM case_events WHERE case_id = $1 ORDER BY seq`, caseID)
	if err != nil {
		return nil, fmt.Errorf("load events of case %s: %w", refund.FormatCaseNumber(caseID), err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Event, error) {
		var (
			ev          refund.Event
			typ, status string
			rules       []string
			amount      int64
		)
		err := row.Scan(&ev.CaseID, &ev.Seq, &typ, &ev.Actor, &status, &rules, &amount, &ev.Note, &ev.At)
		ev.Type, ev.Status, ev.At = refund.EventType(typ), refund.Status(status), ev.At.UTC()
		ev.Rules, ev.Amount = toRules(rules), refund.Money(amount)
		return ev, err
	})
	if err != nil {
		return nil, fmt.Errorf("load events of case %s: %w", refund.FormatCaseNumber(caseID), err)
	}
	if len(events) == 0 {
		// Every case is created with its submitted event, so no events
		// means no case; the lookup only makes sure before saying so.
		var exists bool
		if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cases WHERE id = $1)`, caseID).Scan(&exists); err != nil {
			return nil, fmt.Errorf("load events of case %s: %w", refund.FormatCaseNumber(caseID), err)
		}
		if !exists {
			return nil, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(caseID))
		}
	}
	return events, nil
}
