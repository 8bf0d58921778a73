package buyer

import (
	"context"
	"errors"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestDiagramGolden keeps docs/dialog.mmd-style documentation of the
// dialog in step with the transition table.
func TestDiagramGolden(t *testing.T) {
	got, err := Diagram()
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/dialog.mmd.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./flows -run Diagram -update)", err)
	}
	if got != string(want) {
		t.Fatalf("dialog diagram changed; run go test ./flows -run Diagram -update and review:\n%s", got)
	}
}

func TestTransitions(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		from State
		ev   Event
		want State
		err  bool
	}{
		{StateIdle, EventStart, StateAwaitingOrder, false},
		{StateConfirming, EventStart, StateAwaitingOrder, false},
		{StateAwaitingOrder, EventOrderNeedsProof, StateAwaitingPhone, false},
		{StateAwaitingPhone, EventPhoneFailed, StateAwaitingOrder, false},
		{StateChoosingReason, EventBack, StateAwaitingOrder, false},
		{StateConfirming, EventBack, StateCollectingEvidence, false},
		{StateConfirming, EventSubmitted, StateIdle, false},
		{StateWritingStatement, EventCancel, StateIdle, false},
		{StateIdle, EventCancel, StateIdle, true},
		{StateIdle, EventSubmitted, StateIdle, true},
		{StateChoosingReason, EventEvidenceDone, StateChoosingReason, true},
		{StateAwaitingOrder, EventBack, StateAwaitingOrder, true},
		{StateIdle, EventAskComment, StateRatingComment, false},
		{StateRatingComment, EventCommentDone, StateIdle, false},
		// A half-filled request is never given up for a comment.
		{StateWritingStatement, EventAskComment, StateWritingStatement, true},
		{StateRatingComment, EventStart, StateRatingComment, true},
	}
	for _, tt := range tests {
		got, err := fire(ctx, tt.from, tt.ev)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("fire(%s, %s) = %s, %v; want %s, err %v", tt.from, tt.ev, got, err, tt.want, tt.err)
		}
		if tt.err && !errors.Is(err, errIllegalMove) {
			t.Errorf("fire(%s, %s) error %v is not errIllegalMove", tt.from, tt.ev, err)
		}
	}
}
