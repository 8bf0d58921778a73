package refund

import "time"

// MaxCaseQueryLimit bounds the cases one ListCases call may load, evidence
// included. Callers set their own, smaller page sizes; the shop API's is
// 500 and it asks for one case more to learn whether another page follows.
const MaxCaseQueryLimit = 1000

// CaseQuery selects a page of cases for the shop's back office, ordered by
// (UpdatedAt, ID) ascending. Ordering by the last change rather than by
// creation lets a back office page through what changed since it last
// looked; the ID breaks ties between cases changed at the same instant, so
// that the order is total and a page boundary never falls inside a tie.
type CaseQuery struct {
	// Status, when set, keeps only cases in this status.
	Status Status
	// Since, when set, keeps only cases updated at or after it.
	Since time.Time
	// AfterUpdated and AfterID, when set, start the page after the case
	// at this position (the last case of the previous page): keyset
	// pagination, which neither skips nor repeats a case when others are
	// added meanwhile, as an offset would. Both are set or neither.
	AfterUpdated time.Time
	AfterID      int64
	// Limit is the most cases returned, 1 to MaxCaseQueryLimit.
	Limit int
}

// Validate checks a query before a store runs it. Errors are EINVALID
// naming the offending field: status, limit or after.
func (q CaseQuery) Validate() error {
	switch {
	case q.Status != "" && !q.Status.Valid():
		return FieldError("status", "unknown status %q", q.Status)
	case q.Limit < 1 || q.Limit > MaxCaseQueryLimit:
		return FieldError("limit", "limit must be 1-%d", MaxCaseQueryLimit)
	case q.AfterID < 0:
		return FieldError("after", "the position's case id must be positive")
	case (q.AfterID == 0) != q.AfterUpdated.IsZero():
		return FieldError("after", "a position needs both an update time and a case id")
	case q.HasAfter() && !ValidPositionTime(q.AfterUpdated):
		return FieldError("after", "the position's update time must be in the years 1970-9999")
	}
	return nil
}

// ValidPositionTime reports whether t could be a case's update time in a
// query's position: from 1970 through 9999. Every real case was changed
// in that span, and every store can compare with any time in it, whereas
// a position forged from arbitrary microseconds could lie beyond what
// PostgreSQL's timestamptz holds (a driver error, not the caller's
// mistake, is what the caller would then get).
func ValidPositionTime(t time.Time) bool {
	return !t.Before(time.Unix(0, 0)) && t.UTC().Year() <= 9999
}

// HasAfter reports whether the query starts after a position rather than
// at the beginning.
func (q CaseQuery) HasAfter() bool { return q.AfterID != 0 }
