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

// cases is the DB's part that creates and reads cases with their evidence
// and events (refund.CaseStore), lists them for the shop's API
// (case_list.go) and reads the facts their first review needs (facts.go).
// What changes a case is lifecycle's.
type cases struct{ pool *pgxpool.Pool }

// CreateCase stores a new case with its evidence and a "submitted" event in
// one transaction. A retry with the same SubmissionKey returns the case the
// first call created, even when both calls race; a key already used by
// another buyer or for another order is an ECONFLICT error, so that a case
// is never handed to someone else. Another open case for the order is an
// ECONFLICT error and an unknown order an ENOTFOUND error.
func (db *cases) CreateCase(ctx context.Context, n refund.NewCase) (refund.Case, error) {
	if err := n.Validate(); err != nil {
		return refund.Case{}, err
	}
	c, inserted, err := db.insertCase(ctx, n)
	if err == nil && inserted {
		return c, nil
	}
	var id int64
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
	if id == 0 {
		// The key was taken before this call: DO NOTHING waited for the
		// insert holding it to commit or abort, so when no row came back
		// the other case is committed and visible now.
		existing, found, err := caseIDBySubmissionKey(ctx, db.pool, n.SubmissionKey)
		if err == nil && !found {
			err = fmt.Errorf("submission key %q conflicted but no case has it", n.SubmissionKey)
		}
		if err != nil {
			return refund.Case{}, fmt.Errorf("create case for order %s: %w", n.OrderID, err)
		}
		id = existing
	}
	c, err = db.Case(ctx, id)
	if err != nil {
		return refund.Case{}, fmt.Errorf("create case for order %s: %w", n.OrderID, err)
	}
	if c.OrderID != n.OrderID || c.BuyerUserID != n.BuyerUserID {
		return refund.Case{}, refund.Errorf(refund.ECONFLICT, "submission key already used for case %s", c.Number())
	}
	return c, nil
}

// insertCase inserts the case, its evidence and its first event in one
// statement, which is one round trip and its own transaction, and returns
// the case as stored. inserted is false, with no error, when the
// submission key is already taken: then nothing was written.
func (db *cases) insertCase(ctx context.Context, n refund.NewCase) (c refund.Case, inserted bool, err error) {
	ev := evidenceParams(n.Evidence)
	// Data-modifying CTEs all run, or none does; the evidence and event
	// rows take the new case's ID from the case CTE, so a key conflict
	// (no case row) writes none of them. now() is the transaction's start,
	// so the event is stamped with exactly the case's created_at. The
	// evidence comes back from what its CTE wrote, not from n.
	row := db.pool.QueryRow(ctx, `
		WITH c AS (
			INSERT INTO cases (order_id, buyer_user_id, chat_id, reason, statement, requested_amount_cents,
				currency, status, language, submission_key, due_kind, due_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''), $12, now(), now())
			ON CONFLICT (submission_key) DO NOTHING
			RETURNING `+caseColumns+`
		), evidence AS (
			INSERT INTO case_evidence (case_id, position, kind, file_id, file_unique_id, size, mime_type, file_name, caption)
			SELECT c.id, e.position, e.kind, e.file_id, e.file_unique_id, e.size, e.mime_type, e.file_name, e.caption
			FROM c, unnest($13::text[], $14::text[], $15::text[], $16::bigint[], $17::text[], $18::text[], $19::text[])
				WITH ORDINALITY AS e(kind, file_id, file_unique_id, size, mime_type, file_name, caption, position)
			RETURNING *
		), submitted AS (
			INSERT INTO case_events (case_id, seq, type, actor, status, note, at)
			SELECT c.id, 1, $20::text, $21::text, $8, '', now() FROM c
		)
		SELECT c.*, files.* FROM c
		CROSS JOIN LATERAL (`+evidenceAggregate+` FROM evidence) files`,
		n.OrderID, n.BuyerUserID, n.ChatID, string(n.Reason), n.Statement, int64(n.RequestedAmount),
		n.Currency, string(refund.StatusSubmitted), n.Language, n.SubmissionKey,
		string(n.Due.Kind), nullTime(n.Due.At),
		ev.kinds, ev.fileIDs, ev.uniqueIDs, ev.sizes, ev.mimeTypes, ev.fileNames, ev.captions,
		string(refund.EventSubmitted), refund.ActorBuyer)
	c, err = scanCaseWithEvidence(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Case{}, false, nil
	}
	if err != nil {
		return refund.Case{}, false, fmt.Errorf("insert case: %w", err)
	}
	return c, true, nil
}

// evidenceColumns are files as parallel arrays, the shape in which one
// statement writes many of them and one row reads them back.
type evidenceColumns struct {
	kinds, fileIDs, uniqueIDs, mimeTypes, fileNames, captions []string
	sizes                                                     []int64
}

func evidenceParams(evidence []refund.Evidence) evidenceColumns {
	// Empty arrays rather than nil ones, which pgx would send as NULL.
	ev := evidenceColumns{kinds: []string{}, fileIDs: []string{}, uniqueIDs: []string{}, mimeTypes: []string{},
		fileNames: []string{}, captions: []string{}, sizes: []int64{}}
	for _, e := range evidence {
		ev.kinds = append(ev.kinds, string(e.Kind))
		ev.fileIDs = append(ev.fileIDs, e.FileID)
		ev.uniqueIDs = append(ev.uniqueIDs, e.FileUniqueID)
		ev.sizes = append(ev.sizes, e.Size)
		ev.mimeTypes = append(ev.mimeTypes, e.MIMEType)
		ev.fileNames = append(ev.fileNames, e.FileName)
		ev.captions = append(ev.captions, e.Caption)
	}
	return ev
}

// evidenceAggregate, followed by a FROM over case_evidence rows of one
// case, selects them as the arrays scanCaseWithEvidence reads, in upload
// order; no rows gives NULL arrays, which read as no files.
const evidenceAggregate = `SELECT array_agg(kind ORDER BY position) AS file_kinds,
	array_agg(file_id ORDER BY position) AS file_ids, array_agg(file_unique_id ORDER BY position) AS file_unique_ids,
	array_agg(size ORDER BY position) AS file_sizes, array_agg(mime_type ORDER BY position) AS file_mime_types,
	array_agg(file_name ORDER BY position) AS file_names, array_agg(caption ORDER BY position) AS file_captions`

// queueEvidence queues the insert of files after the ones the case already
// has, numbered on in the order the buyer sent them. The case row is
// locked, so nobody else takes the same positions.
func queueEvidence(p *pipeline, caseID int64, evidence []refund.Evidence) {
	ev := evidenceParams(evidence)
	p.exec("insert evidence", nil, `
		INSERT INTO case_evidence (case_id, position, kind, file_id, file_unique_id, size, mime_type, file_name, caption)
		SELECT $1, last.position + e.position, e.kind, e.file_id, e.file_unique_id, e.size, e.mime_type, e.file_name, e.caption
		FROM (SELECT COALESCE(max(position), 0) AS position FROM case_evidence WHERE case_id = $1) last,
			unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[])
			WITH ORDINALITY AS e(kind, file_id, file_unique_id, size, mime_type, file_name, caption, position)`,
		caseID, ev.kinds, ev.fileIDs, ev.uniqueIDs, ev.sizes, ev.mimeTypes, ev.fileNames, ev.captions)
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

// caseRow is a case row being scanned from caseColumns.
type caseRow struct {
	c                            refund.Case
	reason, status, route, due   string
	amount, decided, fee, deduct int64
	dueAt                        *time.Time
}

// dest lists where caseColumns go, in their order.
func (r *caseRow) dest() []any {
	c := &r.c
	return []any{&c.ID, &c.OrderID, &c.BuyerUserID, &c.ChatID, &r.reason, &c.Statement, &r.amount,
		&c.Currency, &r.status, &c.Language, &c.SubmissionKey, &r.decided, &r.fee,
		&r.deduct, &r.route, &r.due, &r.dueAt, &c.Appeals, &c.ReviewOverdue,
		&c.CreatedAt, &c.UpdatedAt}
}

func (r *caseRow) result() refund.Case {
	c := r.c
	c.Reason, c.Status, c.RequestedAmount = refund.Reason(r.reason), refund.Status(r.status), refund.Money(r.amount)
	c.Decided = refund.Amounts{Refund: refund.Money(r.decided), Fee: refund.Money(r.fee), Deduction: refund.Money(r.deduct)}
	c.Route, c.Due = refund.PayoutRoute(r.route), refund.Due{Kind: refund.DueKind(r.due), At: fromNull(r.dueAt)}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c
}

func scanCase(row pgx.Row) (refund.Case, error) {
	var r caseRow
	if err := row.Scan(r.dest()...); err != nil {
		return refund.Case{}, err
	}
	return r.result(), nil
}

// dest lists where evidenceAggregate's arrays go, in their order.
func (ev *evidenceColumns) dest() []any {
	return []any{&ev.kinds, &ev.fileIDs, &ev.uniqueIDs, &ev.sizes, &ev.mimeTypes, &ev.fileNames, &ev.captions}
}

// files returns the files the arrays hold, nil for none, as
// attachEvidence leaves a case without files.
func (ev *evidenceColumns) files() ([]refund.Evidence, error) {
	n := len(ev.kinds)
	for _, l := range []int{len(ev.fileIDs), len(ev.uniqueIDs), len(ev.sizes), len(ev.mimeTypes), len(ev.fileNames), len(ev.captions)} {
		if l != n {
			return nil, fmt.Errorf("evidence arrays of different lengths %d and %d", n, l)
		}
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]refund.Evidence, n)
	for i := range out {
		out[i] = refund.Evidence{Kind: refund.EvidenceKind(ev.kinds[i]), FileID: ev.fileIDs[i], FileUniqueID: ev.uniqueIDs[i],
			Size: ev.sizes[i], MIMEType: ev.mimeTypes[i], FileName: ev.fileNames[i], Caption: ev.captions[i]}
	}
	return out, nil
}

// scanCaseWithEvidence reads caseColumns followed by evidenceAggregate's
// arrays: a case and its files from one row.
func scanCaseWithEvidence(row pgx.Row, more ...any) (refund.Case, error) {
	var (
		r  caseRow
		ev evidenceColumns
	)
	if err := row.Scan(append(append(r.dest(), ev.dest()...), more...)...); err != nil {
		return refund.Case{}, err
	}
	c := r.result()
	files, err := ev.files()
	if err != nil {
		return refund.Case{}, err
	}
	c.Evidence = files
	return c, nil
}

// caseWithEvidence selects the case $1 with its files as one row:
// caseColumns, then evidenceAggregate's arrays.
const caseWithEvidence = `SELECT c.*, files.* FROM (SELECT ` + caseColumns + ` FROM cases WHERE id = $1) c
	CROSS JOIN LATERAL (` + evidenceAggregate + ` FROM case_evidence WHERE case_id = c.id) files`

// Case returns a case with its evidence in upload order, or an ENOTFOUND
// error.
func (db *cases) Case(ctx context.Context, id int64) (refund.Case, error) {
	return loadCase(ctx, db.pool, id)
}

// loadCase is Case on a pool or in a transaction. One query reads the
// case and its files.
func loadCase(ctx context.Context, q querier, id int64) (refund.Case, error) {
	c, err := scanCaseWithEvidence(q.QueryRow(ctx, caseWithEvidence, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Case{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(id))
	}
	if err != nil {
		return refund.Case{}, fmt.Errorf("load case %s: %w", refund.FormatCaseNumber(id), err)
	}
	return c, nil
}

// CaseWithOrder returns a case with its evidence and the order it is
// about, read in one query, or an ENOTFOUND error for an unknown case.
func (db *cases) CaseWithOrder(ctx context.Context, id int64) (refund.Case, refund.Order, error) {
	var o orderRow
	row := db.pool.QueryRow(ctx, `SELECT cf.*, o.* FROM (`+caseWithEvidence+`) cf
		JOIN LATERAL (SELECT `+orderColumns+` FROM orders WHERE id = cf.order_id) o ON true`, id)
	c, err := scanCaseWithEvidence(row, o.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Case{}, refund.Order{}, refund.Errorf(refund.ENOTFOUND, "case %s not found", refund.FormatCaseNumber(id))
	}
	if err != nil {
		return refund.Case{}, refund.Order{}, fmt.Errorf("load case %s with its order: %w", refund.FormatCaseNumber(id), err)
	}
	return c, o.result(), nil
}

// CasesByOrder returns the order's cases with their evidence, newest first.
// An order without cases, known or not, has an empty list.
func (db *cases) CasesByOrder(ctx context.Context, orderID string) ([]refund.Case, error) {
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
func (db *cases) Events(ctx context.Context, caseID int64) ([]refund.Event, error) {
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
