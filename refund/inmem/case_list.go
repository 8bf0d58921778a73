package inmem

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// ListCases returns a page of cases with their evidence, ordered by
// (UpdatedAt, ID), as q selects them; an invalid query is an EINVALID error
// naming the field. It scans every case, which is fine for the sandbox's
// handful; the PostgreSQL store walks an index instead.
func (s *cases) ListCases(ctx context.Context, q refund.CaseQuery) ([]refund.Case, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var cases []refund.Case
	for _, c := range s.cases {
		switch {
		case q.Status != "" && c.Status != q.Status,
			!q.Since.IsZero() && c.UpdatedAt.Before(q.Since),
			q.HasAfter() && compareListPosition(c, q.AfterUpdated, q.AfterID) <= 0:
			continue
		}
		cases = append(cases, c)
	}
	slices.SortFunc(cases, func(a, b refund.Case) int { return compareListPosition(a, b.UpdatedAt, b.ID) })
	if len(cases) > q.Limit {
		cases = cases[:q.Limit]
	}
	// Copied only once cut to the page, so that a listing of a few cases
	// does not copy every case's evidence.
	for i := range cases {
		cases[i] = copyCase(cases[i])
	}
	return cases, nil
}

// compareListPosition orders a case against the position (updated, id) as
// the PostgreSQL store's ORDER BY updated_at, id does.
func compareListPosition(c refund.Case, updated time.Time, id int64) int {
	return cmp.Or(c.UpdatedAt.Compare(updated), cmp.Compare(c.ID, id))
}
