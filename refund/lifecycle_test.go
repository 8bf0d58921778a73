package refund_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/refundbot/refundbot/refund"
)

// update rewrites the golden files under testdata: go test ./refund -run Lifecycle -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestLifecycleNextStatus(t *testing.T) {
	// The lifecycle as the product describes it, written out independently
	// of caseEvents so that a changed table shows up here.
	type move struct {
		from refund.Status
		ev   refund.CaseEvent
	}
	allowed := map[move]refund.Status{
		{refund.StatusSubmitted, refund.CaseReview}:         refund.StatusAutoReview,
		{refund.StatusAutoReview, refund.CaseApprove}:       refund.StatusApproved,
		{refund.StatusAutoReview, refund.CaseReject}:        refund.StatusRejected,
		{refund.StatusAutoReview, refund.CaseAskInfo}:       refund.StatusNeedsInfo,
		{refund.StatusAutoReview, refund.CaseEscalate}:      refund.StatusHumanReview,
		{refund.StatusNeedsInfo, refund.CaseInfoAdded}:      refund.StatusAutoReview,
		{refund.StatusNeedsInfo, refund.CaseExpire}:         refund.StatusClosed,
		{refund.StatusHumanReview, refund.CaseApprove}:      refund.StatusApproved,
		{refund.StatusHumanReview, refund.CaseReject}:       refund.StatusRejected,
		{refund.StatusHumanReview, refund.CaseAskInfo}:      refund.StatusNeedsInfo,
		{refund.StatusRejected, refund.CaseAppeal}:          refund.StatusAppealed,
		{refund.StatusRejected, refund.CaseExpire}:          refund.StatusClosed,
		{refund.StatusAppealed, refund.CaseEscalate}:        refund.StatusHumanReview,
		{refund.StatusApproved, refund.CaseStartPayout}:     refund.StatusPayoutPending,
		{refund.StatusPayoutFailed, refund.CaseStartPayout}: refund.StatusPayoutPending,
		{refund.StatusPayoutPending, refund.CasePaid}:       refund.StatusRefunded,
		{refund.StatusPayoutPending, refund.CasePayoutFail}: refund.StatusPayoutFailed,
	}
	events := []refund.CaseEvent{refund.CaseReview, refund.CaseApprove, refund.CaseReject, refund.CaseAskInfo,
		refund.CaseEscalate, refund.CaseInfoAdded, refund.CaseExpire, refund.CaseAppeal, refund.CaseStartPayout,
		refund.CasePaid, refund.CasePayoutFail}
	statuses := append(refund.Statuses(), "", "bogus")
	events = append(events, "", "refund_twice")

	seen := 0
	for _, from := range statuses {
		for _, ev := range events {
			want, ok := allowed[move{from, ev}]
			got, err := refund.NextStatus(from, ev)
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("NextStatus(%q, %q) = %q, %v; want %q", from, ev, got, err, want)
			case !ok && (refund.ErrorCode(err) != refund.ECONFLICT || got != ""):
				t.Errorf("NextStatus(%q, %q) = %q, %v; want an %s error", from, ev, got, err, refund.ECONFLICT)
			case ok:
				seen++
			}
		}
	}
	if seen != len(allowed) {
		t.Errorf("%d of the %d allowed moves were tried: is an event or status missing from the lists?", seen, len(allowed))
	}
	// Terminal statuses go nowhere.
	for _, s := range []refund.Status{refund.StatusRefunded, refund.StatusClosed} {
		for _, ev := range events {
			if _, err := refund.NextStatus(s, ev); err == nil {
				t.Errorf("a %s case moved on %s", s, ev)
			}
		}
	}
}

// TestLifecycleNoPayoutBeforeApproval holds the lifecycle to what
// Service.startPayout counts on: once a case has started a payout, it
// never comes back to approved, so an approved case has no payout yet.
func TestLifecycleNoPayoutBeforeApproval(t *testing.T) {
	events := []refund.CaseEvent{refund.CaseReview, refund.CaseApprove, refund.CaseReject, refund.CaseAskInfo,
		refund.CaseEscalate, refund.CaseInfoAdded, refund.CaseExpire, refund.CaseAppeal, refund.CaseStartPayout,
		refund.CasePaid, refund.CasePayoutFail}
	seen := map[refund.Status]bool{refund.StatusPayoutPending: true}
	for todo := []refund.Status{refund.StatusPayoutPending}; len(todo) > 0; {
		from := todo[0]
		todo = todo[1:]
		for _, ev := range events {
			to, err := refund.NextStatus(from, ev)
			if err != nil || seen[to] {
				continue
			}
			if to == refund.StatusApproved {
				t.Errorf("%s -%s-> %s: a case that started a payout can be approved again", from, ev, to)
			}
			seen[to] = true
			todo = append(todo, to)
		}
	}
}

func TestLifecycleDiagram(t *testing.T) {
	got := refund.LifecycleDiagram()
	if refund.LifecycleDiagram() != got {
		t.Fatal("LifecycleDiagram is not deterministic")
	}
	golden := filepath.Join("testdata", "lifecycle.mmd.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./refund -run Lifecycle -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("LifecycleDiagram() differs from %s (run with -update if the change is intended):\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}
