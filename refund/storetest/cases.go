package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

func testCreateCaseRoundTrip(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	created := mustCreate(t, s, n)
	if created.ID <= 0 {
		t.Fatalf("ID = %d, want > 0", created.ID)
	}
	if created.Status != refund.StatusSubmitted {
		t.Errorf("Status = %q, want %q", created.Status, refund.StatusSubmitted)
	}
	wantCase(t, created, n)
	got, err := s.Case(t.Context(), created.ID)
	if err != nil {
		t.Fatalf("Case(%d): %v", created.ID, err)
	}
	if !reflect.DeepEqual(got, created) {
		t.Errorf("Case() differs from CreateCase()\n got %+v\nwant %+v", got, created)
	}
	events, err := s.Events(t.Context(), created.ID)
	if err != nil {
		t.Fatalf("Events(%d): %v", created.ID, err)
	}
	want := []refund.Event{{CaseID: created.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: created.CreatedAt}}
	if len(events) == 1 {
		wantUTC(t, "Event.At", events[0].At)
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events\n got %+v\nwant %+v", events, want)
	}
}

func testCreateCaseWithoutEvidence(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	n.Reason, n.Evidence, n.ChatID, n.Language = refund.ReasonDuplicateCharge, nil, 0, ""
	c := mustCreate(t, s, n)
	wantCase(t, c, n)
	got, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCase(t, got, n)
}

func testCreateCaseDue(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	at := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
	n.Due = refund.Due{Kind: refund.DueFirstReview, At: at}
	c := mustCreate(t, s, n)
	if c.Due.Kind != refund.DueFirstReview || !c.Due.At.Equal(at) {
		t.Fatalf("created case due %+v, want first_review at %v", c.Due, at)
	}
	if due, err := s.DueCases(t.Context(), at.Add(-time.Second), 10); err != nil || len(due) != 0 {
		t.Fatalf("due before its time: %d cases, %v", len(due), err)
	}
	due, err := s.DueCases(t.Context(), at, 10)
	if err != nil || len(due) != 1 || due[0].ID != c.ID {
		t.Fatalf("DueCases at the deadline = %+v, %v", due, err)
	}
}

func testInvalidCase(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	tests := []struct {
		field  string
		change func(n *refund.NewCase)
	}{
		{"order_id", func(n *refund.NewCase) { n.OrderID = "" }},
		{"buyer_user_id", func(n *refund.NewCase) { n.BuyerUserID = 0 }},
		{"reason", func(n *refund.NewCase) { n.Reason = "" }},
		{"statement", func(n *refund.NewCase) { n.Statement = "  " }},
		{"requested_amount", func(n *refund.NewCase) { n.RequestedAmount = -1 }},
		{"currency", func(n *refund.NewCase) { n.Currency = "" }},
		{"currency", func(n *refund.NewCase) { n.Currency = "YUAN" }},
		{"submission_key", func(n *refund.NewCase) { n.SubmissionKey = "" }},
		{"evidence", func(n *refund.NewCase) { n.Evidence[1].FileUniqueID = "" }},
		{"evidence", func(n *refund.NewCase) { n.Evidence[0].Kind = "video" }},
		{"due", func(n *refund.NewCase) { n.Due = refund.Due{Kind: refund.DueFirstReview} }},
		{"due", func(n *refund.NewCase) { n.Due = refund.Due{At: time.Now()} }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			n := sampleCase("KM20261120001", "key-"+tt.field)
			tt.change(&n)
			_, err := s.CreateCase(t.Context(), n)
			wantField(t, err, tt.field)
		})
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 0 {
		t.Errorf("invalid submissions stored %d cases", len(cases))
	}
}

func testCaseForUnknownOrder(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	_, err := s.CreateCase(t.Context(), sampleCase("KM20261120009", "key-1"))
	wantCode(t, err, refund.ENOTFOUND)
}

func testCasesNewestFirst(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	mustChange(t, s, first.ID, refund.StatusSubmitted, refund.StatusClosed)
	second := mustCreate(t, s, sampleCase("KM20261120001", "key-2"))
	mustChange(t, s, second.ID, refund.StatusSubmitted, refund.StatusRefunded)
	third := mustCreate(t, s, sampleCase("KM20261120001", "key-3"))
	orderWithCase(t, s, "KM20261120002", "other-order")

	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for i, c := range cases {
		got = append(got, c.ID)
		if len(c.Evidence) != 3 {
			t.Errorf("case %s has %d files, want 3", c.Number(), len(c.Evidence))
		}
		if i > 0 && c.CreatedAt.After(cases[i-1].CreatedAt) {
			t.Errorf("case %s created after %s but listed later", c.Number(), cases[i-1].Number())
		}
	}
	want := []int64{third.ID, second.ID, first.ID}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("case IDs %v, want %v", got, want)
	}
	if len(cases) == 3 && (cases[1].Status != refund.StatusRefunded || cases[2].Status != refund.StatusClosed) {
		t.Errorf("statuses %s, %s; want the ones set", cases[1].Status, cases[2].Status)
	}
}

func testNoCases(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	for _, id := range []string{"KM20261120001", "KM20261120009"} {
		cases, err := s.CasesByOrder(t.Context(), id)
		if err != nil {
			t.Errorf("CasesByOrder(%s): %v", id, err)
		}
		if len(cases) != 0 {
			t.Errorf("CasesByOrder(%s) = %d cases, want none", id, len(cases))
		}
	}
}

func testEventsOldestFirst(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	steps := []struct {
		to    refund.Status
		actor string
		note  string
	}{
		{refund.StatusAutoReview, refund.ActorSystem, ""},
		{refund.StatusHumanReview, refund.ActorSystem, "amount above auto-approval limit"},
		{refund.StatusApproved, "agent:42", "code confirmed used before delivery"},
	}
	want := []refund.Event{{CaseID: c.ID, Seq: 1, Type: refund.EventSubmitted, Actor: refund.ActorBuyer,
		Status: refund.StatusSubmitted, At: c.CreatedAt}}
	from := refund.StatusSubmitted
	for _, st := range steps {
		ch := statusChange(c.ID, from, st.to, st.actor, st.note)
		got, err := s.Apply(t.Context(), ch)
		if err != nil {
			t.Fatalf("Apply(%s -> %s): %v", from, st.to, err)
		}
		wantUTC(t, "Case.UpdatedAt", got.UpdatedAt)
		want = append(want, refund.Event{CaseID: c.ID, Seq: len(want) + 1, Type: refund.EventStatusChanged,
			Actor: st.actor, Status: st.to, Note: st.note, At: ch.At.UTC().Truncate(time.Microsecond)})
		from = st.to
	}
	events, err := s.Events(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events\n got %+v\nwant %+v", events, want)
	}
	got, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := want[len(want)-1]; got.Status != last.Status || !got.UpdatedAt.Equal(last.At) {
		t.Errorf("case status %s updated %v; want %s at %v", got.Status, got.UpdatedAt, last.Status, last.At)
	}
}

func testUnknownCase(t *testing.T, s refund.LifecycleStore) {
	c := orderWithCase(t, s, "KM20261120001", "key-1")
	_, err := s.Case(t.Context(), c.ID+1)
	wantCode(t, err, refund.ENOTFOUND)
	_, err = s.Events(t.Context(), c.ID+1)
	wantCode(t, err, refund.ENOTFOUND)
}

func testCaseNumbers(t *testing.T, s refund.LifecycleStore) {
	first := orderWithCase(t, s, "KM20261120001", "key-1")
	second := orderWithCase(t, s, "KM20261120002", "key-2")
	for _, tt := range []struct {
		c    refund.Case
		want string
	}{{first, "R-000001"}, {second, "R-000002"}} {
		if got := tt.c.Number(); got != tt.want {
			t.Errorf("case number %s, want %s", got, tt.want)
		}
		if id, ok := refund.ParseCaseNumber(tt.want); !ok || id != tt.c.ID {
			t.Errorf("ParseCaseNumber(%s) = %d, %v; want %d", tt.want, id, ok, tt.c.ID)
		}
	}
}

// testNoAliasing matters for the in-memory store, which could otherwise
// hand out its own slices.
func testNoAliasing(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	n := sampleCase("KM20261120001", "key-1")
	c := mustCreate(t, s, n)
	n.Evidence[0].FileID = "changed by the submitter"
	c.Evidence[1].FileID = "changed by the caller"
	loaded, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Evidence[2].FileID = "changed by a reader"
	byOrder, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	byOrder[0].Evidence[0].FileID = "changed by a lister"
	events, err := s.Events(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	events[0].Note = "changed by a reader"

	got, err := s.Case(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantCase(t, got, sampleCase("KM20261120001", "key-1"))
	events, err = s.Events(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if events[0].Note != "" {
		t.Errorf("stored event changed through a returned slice: note %q", events[0].Note)
	}
}

func testCancelledContext(t *testing.T, s refund.LifecycleStore) {
	mustUpsert(t, s, sampleOrder("KM20261120001"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Order(ctx, "KM20261120001"); !errors.Is(err, context.Canceled) {
		t.Errorf("Order with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.CreateCase(ctx, sampleCase("KM20261120001", "key-1")); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateCase with a cancelled context: %v, want context.Canceled", err)
	}
	cases, err := s.CasesByOrder(t.Context(), "KM20261120001")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 0 {
		t.Errorf("a cancelled CreateCase stored %d cases", len(cases))
	}
}
