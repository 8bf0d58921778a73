package storetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/refundbot/refundbot/refund"
)

// One case per submission key, and one open case per order, also when
// submissions race.

func testIdempotentSubmission(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	retry := sampleCase("KM20261120001", "key-1")
	retry.Statement, retry.Evidence = "a different text sent on retry", nil
	again := mustCreate(t, s, retry)
	if !reflect.DeepEqual(again, first) {
		t.Errorf("retry returned\n %+v\nwant the first case\n %+v", again, first)
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.Events(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || len(events) != 1 {
		t.Errorf("after a retry: %d cases, %d events; want 1 and 1", len(cases), len(events))
	}
}

func testSubmissionKeyReused(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	mustUpsert(t, s, sampleOrder("KM20261120002"))
	tests := []struct {
		name   string
		change func(n *refund.NewCase)
	}{
		{"another buyer", func(n *refund.NewCase) { n.BuyerUserID++ }},
		{"another order", func(n *refund.NewCase) { n.OrderID = "KM20261120002" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := sampleCase("KM20261120001", first.SubmissionKey)
			tt.change(&n)
			c, err := s.CreateCase(t.Context(), n)
			wantCode(t, err, refund.ECONFLICT)
			if c.ID != 0 {
				t.Errorf("returned case %s to a caller who did not submit it", c.Number())
			}
		})
	}
}

func testConcurrentSameKey(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	const n = 10
	ids := make([]int64, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		c, err := s.CreateCase(t.Context(), sampleCase("KM20261120001", "key-1"))
		ids[i], errs[i] = c.ID, err
	})
	for i := range n {
		if errs[i] != nil {
			t.Errorf("submission %d: %v", i, errs[i])
		} else if ids[i] != ids[0] {
			t.Errorf("submission %d got case %d, submission 0 got %d", i, ids[i], ids[0])
		}
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 {
		t.Errorf("%d cases stored, want 1", len(cases))
	}
}

func testSecondOpenCase(t *testing.T, s refund.LifecycleStore) {
	orderWithCase(t, s, "KM20261120001", "key-1")
	_, err := s.CreateCase(t.Context(), sampleCase("KM20261120001", "key-2"))
	wantCode(t, err, refund.ECONFLICT)
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 {
		t.Errorf("%d cases stored, want 1", len(cases))
	}
}

func testConcurrentDifferentKeys(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	const n = 10
	errs := make([]error, n)
	concurrently(n, func(i int) {
		_, errs[i] = s.CreateCase(t.Context(), sampleCase("KM20261120001", fmt.Sprintf("key-%d", i)))
	})
	wins := 0
	for i, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			wins++
		case refund.ECONFLICT:
		default:
			t.Errorf("submission %d: %v, want success or ECONFLICT", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d submissions succeeded, want exactly 1", wins)
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 {
		t.Errorf("%d cases stored, want 1", len(cases))
	}
}

// testOpenStatuses walks every status, so that a status added to the
// domain without updating a store's idea of "open" is caught.
func testOpenStatuses(t *testing.T, s refund.LifecycleStore) {
	for _, status := range refund.Statuses() {
		t.Run(string(status), func(t *testing.T) {
			orderID := "KM-" + string(status)
			c := orderWithCase(t, s, orderID, "first-"+string(status))
			if status != refund.StatusSubmitted {
				mustChange(t, s, c.ID, refund.StatusSubmitted, status)
			}
			_, err := s.CreateCase(t.Context(), sampleCase(orderID, "second-"+string(status)))
			if status.Open() {
				wantCode(t, err, refund.ECONFLICT)
			} else if err != nil {
				t.Errorf("new case next to a %s one: %v", status, err)
			}
		})
	}
}

func testReopen(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	mustChange(t, s, first.ID, refund.StatusSubmitted, refund.StatusClosed)
	second := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	_, err := s.Apply(t.Context(), statusChange(first.ID, refund.StatusClosed, refund.StatusAppealed, refund.ActorBuyer, ""))
	wantCode(t, err, refund.ECONFLICT)
	mustChange(t, s, second.ID, refund.StatusSubmitted, refund.StatusRefunded)
	mustChange(t, s, first.ID, refund.StatusClosed, refund.StatusAppealed)
}
