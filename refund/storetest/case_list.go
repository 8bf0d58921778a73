package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// CaseListStore is a store that also lists cases for the shop's back
// office. It is declared here rather than in refund because only the shop
// API and this contract need ListCases.
type CaseListStore interface {
	refund.LifecycleStore
	// ListCases returns a page of cases with their evidence, ordered by
	// (UpdatedAt, ID), as the query selects them.
	ListCases(ctx context.Context, q refund.CaseQuery) ([]refund.Case, error)
}

// RunCaseList runs the case listing's contract against stores made by
// open, one fresh store per subtest. open must register any cleanup with
// t.Cleanup.
func RunCaseList(t *testing.T, open func(t *testing.T) CaseListStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s CaseListStore)
	}{
		{"ListCases pages by (updated_at, id) without duplicates or gaps", testListPages},
		{"ListCases returns cases as Case does, in UTC", testListRoundTrip},
		{"ListCases filters by status and since", testListFilters},
		{"ListCases starts after a position", testListAfter},
		{"a case changed while paging moves to the end and is not lost", testListChangedWhilePaging},
		{"invalid case query is EINVALID naming the field", testListInvalid},
		{"ListCases of an empty store is empty", testListEmpty},
		{"a cancelled context fails ListCases", testListCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// listLimit is a page size larger than the fixture.
const listLimit = 50

// listBase is the fixture's first update time, in a non-UTC zone so that
// a store comparing local wall clocks is caught.
func listBase() time.Time { return time.Date(2030, 3, 1, 10, 0, 0, 0, shanghai()) }

// listFixture holds seven cases whose update order is neither their ID
// order nor the order their updates were made in, with ties on the update
// time (broken by ID) and two updates a microsecond apart, PostgreSQL's
// precision.
type listFixture struct {
	// cases are in creation order, c[0] is the first case created.
	c []refund.Case
}

// id returns the ID of the i-th case created.
func (f listFixture) id(i int) int64 { return f.c[i].ID }

// ids returns the IDs of the cases created i-th, in the order given.
func (f listFixture) ids(is ...int) []int64 {
	out := make([]int64, len(is))
	for k, i := range is {
		out[k] = f.id(i)
	}
	return out
}

// all is every case of the fixture in listing order.
func (f listFixture) all() []int64 { return f.ids(1, 3, 5, 4, 2, 6, 0) }

func newListFixture(t *testing.T, s CaseListStore) listFixture {
	t.Helper()
	base := listBase()
	plan := []struct {
		after  time.Duration
		status refund.Status
	}{
		{2 * time.Hour, refund.StatusNeedsInfo},
		{0, refund.StatusHumanReview},
		{time.Hour, refund.StatusRejected},
		{0, refund.StatusNeedsInfo},
		{time.Microsecond, refund.StatusApproved},
		{0, refund.StatusNeedsInfo},
		{time.Hour, refund.StatusNeedsInfo},
	}
	var f listFixture
	for i := range plan {
		orderID := fmt.Sprintf("KM2030030100%d", i)
		n := sampleCase(orderID, "list-"+orderID)
		if i%2 == 1 {
			n.Evidence = nil
		}
		mustUpsert(t, s, sampleOrder(orderID))
		f.c = append(f.c, mustCreate(t, s, n))
	}
	// Updated last case first, so that a store listing in the order of
	// its writes is caught.
	for i := len(plan) - 1; i >= 0; i-- {
		ch := statusChange(f.id(i), refund.StatusSubmitted, plan[i].status, refund.ActorSystem, "")
		ch.At = base.Add(plan[i].after)
		c, err := s.Apply(t.Context(), ch)
		if err != nil {
			t.Fatalf("Apply(%s): %v", refund.FormatCaseNumber(f.id(i)), err)
		}
		f.c[i] = c
	}
	return f
}

func listIDs(t *testing.T, s CaseListStore, q refund.CaseQuery) []int64 {
	t.Helper()
	cases, err := s.ListCases(t.Context(), q)
	if err != nil {
		t.Fatalf("ListCases(%+v): %v", q, err)
	}
	ids := []int64{}
	for _, c := range cases {
		ids = append(ids, c.ID)
	}
	return ids
}

// pageAll follows positions from q until a short page, checking each
// page's size, and returns every ID seen in order.
func pageAll(t *testing.T, s CaseListStore, q refund.CaseQuery) []int64 {
	t.Helper()
	var ids []int64
	for range 100 {
		cases, err := s.ListCases(t.Context(), q)
		if err != nil {
			t.Fatalf("ListCases(%+v): %v", q, err)
		}
		if len(cases) > q.Limit {
			t.Fatalf("ListCases(%+v) returned %d cases, over the limit", q, len(cases))
		}
		for _, c := range cases {
			ids = append(ids, c.ID)
		}
		if len(cases) < q.Limit {
			return ids
		}
		last := cases[len(cases)-1]
		q.AfterUpdated, q.AfterID = last.UpdatedAt, last.ID
	}
	t.Fatalf("ListCases(%+v) never returned a short page", q)
	return nil
}

func testListPages(t *testing.T, s CaseListStore) {
	f := newListFixture(t, s)
	for limit := 1; limit <= len(f.c)+1; limit++ {
		if got := pageAll(t, s, refund.CaseQuery{Limit: limit}); !slices.Equal(got, f.all()) {
			t.Errorf("pages of %d: %v, want %v", limit, got, f.all())
		}
	}
	if got := listIDs(t, s, refund.CaseQuery{Limit: refund.MaxCaseQueryLimit}); !slices.Equal(got, f.all()) {
		t.Errorf("one page: %v, want %v", got, f.all())
	}
}

func testListRoundTrip(t *testing.T, s CaseListStore) {
	newListFixture(t, s)
	cases, err := s.ListCases(t.Context(), refund.CaseQuery{Limit: listLimit})
	if err != nil {
		t.Fatal(err)
	}
	withEvidence := 0
	for _, got := range cases {
		want, err := s.Case(t.Context(), got.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantUTC(t, "CreatedAt", got.CreatedAt)
		wantUTC(t, "UpdatedAt", got.UpdatedAt)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("listed case\n got %+v\nwant %+v", got, want)
		}
		if len(got.Evidence) > 0 {
			withEvidence++
		}
	}
	if withEvidence != 4 {
		t.Errorf("%d listed cases carry evidence, want 4", withEvidence)
	}
	if !cases[0].UpdatedAt.Equal(listBase()) || !cases[3].UpdatedAt.Equal(listBase().Add(time.Microsecond)) {
		t.Errorf("update times %v, %v; want %v and a microsecond later", cases[0].UpdatedAt, cases[3].UpdatedAt, listBase())
	}
}

func testListFilters(t *testing.T, s CaseListStore) {
	f := newListFixture(t, s)
	base := listBase()
	tests := []struct {
		name string
		q    refund.CaseQuery
		want []int64
	}{
		{"status", refund.CaseQuery{Status: refund.StatusNeedsInfo}, f.ids(3, 5, 6, 0)},
		{"status no case has", refund.CaseQuery{Status: refund.StatusClosed}, []int64{}},
		{"since is inclusive", refund.CaseQuery{Since: base.Add(time.Microsecond)}, f.ids(4, 2, 6, 0)},
		{"since between microseconds", refund.CaseQuery{Since: base.Add(500 * time.Nanosecond)}, f.ids(4, 2, 6, 0)},
		{"since in UTC", refund.CaseQuery{Since: base.Add(time.Hour).UTC()}, f.ids(2, 6, 0)},
		{"since after every case", refund.CaseQuery{Since: base.Add(3 * time.Hour)}, []int64{}},
		{"status and since", refund.CaseQuery{Status: refund.StatusNeedsInfo, Since: base.Add(time.Hour)}, f.ids(6, 0)},
		{"status, since and a position", refund.CaseQuery{Status: refund.StatusNeedsInfo, Since: base,
			AfterUpdated: base, AfterID: f.id(3)}, f.ids(5, 6, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Limit = listLimit
			if got := listIDs(t, s, q); !slices.Equal(got, tt.want) {
				t.Errorf("ListCases(%+v) = %v, want %v", q, got, tt.want)
			}
			// The same selection, a case per page.
			q.Limit = 1
			if got := pageAll(t, s, q); !slices.Equal(got, tt.want) {
				t.Errorf("paging ListCases(%+v) = %v, want %v", q, got, tt.want)
			}
		})
	}
}

func testListAfter(t *testing.T, s CaseListStore) {
	f := newListFixture(t, s)
	base := listBase()
	tests := []struct {
		name    string
		updated time.Time
		id      int64
		want    []int64
	}{
		{"inside a tie", base, f.id(3), f.ids(5, 4, 2, 6, 0)},
		{"last of a tie", base, f.id(5), f.ids(4, 2, 6, 0)},
		{"between cases, given in UTC", base.Add(30 * time.Minute).UTC(), 1, f.ids(2, 6, 0)},
		{"the last case", base.Add(2 * time.Hour), f.id(0), []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := refund.CaseQuery{AfterUpdated: tt.updated, AfterID: tt.id, Limit: listLimit}
			if got := listIDs(t, s, q); !slices.Equal(got, tt.want) {
				t.Errorf("ListCases(%+v) = %v, want %v", q, got, tt.want)
			}
		})
	}
}

func testListChangedWhilePaging(t *testing.T, s CaseListStore) {
	f := newListFixture(t, s)
	first, err := s.ListCases(t.Context(), refund.CaseQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := []int64{first[0].ID, first[1].ID, first[2].ID}; !slices.Equal(got, f.ids(1, 3, 5)) {
		t.Fatalf("first page %v, want %v", got, f.ids(1, 3, 5))
	}
	// The first case listed changes after it was read: it must come
	// again at the end, and no case may be skipped because of it.
	ch := statusChange(f.id(1), refund.StatusHumanReview, refund.StatusApproved, "agent:9017", "")
	ch.At = listBase().Add(3 * time.Hour)
	if _, err := s.Apply(t.Context(), ch); err != nil {
		t.Fatal(err)
	}
	last := first[2]
	rest := pageAll(t, s, refund.CaseQuery{Limit: 3, AfterUpdated: last.UpdatedAt, AfterID: last.ID})
	if want := f.ids(4, 2, 6, 0, 1); !slices.Equal(rest, want) {
		t.Errorf("after the change: %v, want %v", rest, want)
	}
}

func testListInvalid(t *testing.T, s CaseListStore) {
	newListFixture(t, s)
	tests := []struct {
		name  string
		q     refund.CaseQuery
		field string
	}{
		{"unknown status", refund.CaseQuery{Status: "pending", Limit: 10}, "status"},
		{"zero limit", refund.CaseQuery{}, "limit"},
		{"negative limit", refund.CaseQuery{Limit: -1}, "limit"},
		{"limit over the maximum", refund.CaseQuery{Limit: refund.MaxCaseQueryLimit + 1}, "limit"},
		{"position without a time", refund.CaseQuery{Limit: 10, AfterID: 3}, "after"},
		{"position without an id", refund.CaseQuery{Limit: 10, AfterUpdated: listBase()}, "after"},
		{"negative position id", refund.CaseQuery{Limit: 10, AfterUpdated: listBase(), AfterID: -3}, "after"},
		// Beyond what PostgreSQL's timestamptz holds: a forged position
		// must be the caller's error, not a driver's "out of range".
		{"position at the largest time", refund.CaseQuery{Limit: 10, AfterUpdated: time.UnixMicro(math.MaxInt64), AfterID: 3}, "after"},
		{"position at the smallest time", refund.CaseQuery{Limit: 10, AfterUpdated: time.UnixMicro(math.MinInt64), AfterID: 3}, "after"},
		{"position before 1970", refund.CaseQuery{Limit: 10, AfterUpdated: time.Unix(-1, 0), AfterID: 3}, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cases, err := s.ListCases(t.Context(), tt.q)
			wantField(t, err, tt.field)
			if cases != nil {
				t.Errorf("ListCases(%+v) returned %d cases with its error", tt.q, len(cases))
			}
		})
	}
}

func testListEmpty(t *testing.T, s CaseListStore) {
	cases, err := s.ListCases(t.Context(), refund.CaseQuery{Limit: 10})
	if err != nil || len(cases) != 0 {
		t.Errorf("ListCases of an empty store = %v, %v; want no cases and no error", cases, err)
	}
}

func testListCancelledContext(t *testing.T, s CaseListStore) {
	newListFixture(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.ListCases(ctx, refund.CaseQuery{Limit: 10}); !errors.Is(err, context.Canceled) {
		t.Errorf("ListCases with a cancelled context: %v, want context.Canceled", err)
	}
}
