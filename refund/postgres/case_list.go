package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/refundbot/refundbot/refund"
)

// ListCases returns a page of cases with their evidence, ordered by
// (updated_at, id), as q selects them. An invalid query is an EINVALID
// error naming the field.
//
// The statement names only the conditions q uses, rather than one
// statement with "$n IS NULL OR ..." for every filter, so that each shape
// gets a plan that walks cases_updated_at_id_idx (or, with a status,
// cases_status_updated_at_id_idx) from the position and stops after the
// limit; a catch-all statement's generic plan could not use the row
// comparison as an index bound.
func (db *cases) ListCases(ctx context.Context, q refund.CaseQuery) ([]refund.Case, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Status != "" {
		where = append(where, "status = "+arg(string(q.Status)))
	}
	if !q.Since.IsZero() {
		where = append(where, "updated_at >= "+arg(ceilMicrosecond(q.Since)))
	}
	if q.HasAfter() {
		where = append(where, "(updated_at, id) > ("+arg(q.AfterUpdated)+"::timestamptz, "+arg(q.AfterID)+"::bigint)")
	}
	sql := `SELECT ` + caseColumns + ` FROM cases`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	sql += ` ORDER BY updated_at, id LIMIT ` + arg(q.Limit)

	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	cases, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Case, error) { return scanCase(row) })
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	if err := attachEvidence(ctx, db.pool, cases); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return cases, nil
}

// ceilMicrosecond rounds t up to PostgreSQL's precision. The driver
// truncates, which would turn "at or after 12:00:00.0000005" into "at or
// after 12:00:00", admitting a case updated half a microsecond too early;
// rounding up keeps the comparison exact, as the in-memory store's is.
func ceilMicrosecond(t time.Time) time.Time {
	if d := t.Truncate(time.Microsecond); !d.Equal(t) {
		return d.Add(time.Microsecond)
	}
	return t
}
