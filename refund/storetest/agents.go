package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// AgentEscalationStore is what the agents' side of the bot needs of a
// store. It is declared here rather than in refund because only the
// contract needs the two together.
type AgentEscalationStore interface {
	refund.AgentStore
	refund.EscalationStore
}

// RunAgents runs the agents' and escalations' contract against stores made
// by open, one fresh store per subtest. open must register any cleanup
// with t.Cleanup. Escalations refer to cases, so the store must also be a
// refund.Store, for the tests that need a real case.
func RunAgents(t *testing.T, open func(t *testing.T) AgentEscalationStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s AgentEscalationStore)
	}{
		{"PutAgent and Agent round-trip", testAgentRoundTrip},
		{"PutAgent updates an agent and keeps when it was added", testAgentUpdate},
		{"invalid agent is EINVALID naming the field", testInvalidAgent},
		{"RemoveAgent hides the agent everywhere", testRemoveAgent},
		{"AgentByUsername takes @ and any case", testAgentByUsername},
		{"staff number or username of another active agent is ECONFLICT", testAgentConflicts},
		{"concurrent agents with one staff number: exactly one wins", testConcurrentAgents},
		{"Agents lists active agents by staff number, byte-wise", testAgentsOrder},
		{"RecordProfile round-trips Telegram's profile; PutAgent keeps it", testRecordProfileRoundTrip},
		{"RecordProfile: a username Telegram no longer shows stops verifying", testRecordProfileUsernameGone},
		{"RecordProfile takes the username from another agent's record", testRecordProfileTakesUsername},
		{"RecordProfile: leaving and returning are seen once each", testRecordProfileMembership},
		{"RecordProfile ignores a profile older than the recorded one", testRecordProfileOlder},
		{"RecordProfile of an unknown or removed agent is ENOTFOUND", testRecordProfileUnknown},
		{"concurrent RecordProfile: exactly one sees the agent leave", testConcurrentRecordProfile},

		{"OpenEscalation round-trips and queues", testEscalationRoundTrip},
		{"OpenEscalation returns the chat's open escalation unchanged", testOpenEscalationIdempotent},
		{"OpenEscalation fills in a missing case, and only a known one", testOpenEscalationFillsCase},
		{"invalid escalation is EINVALID naming the field", testInvalidEscalation},
		{"concurrent escalations: one open per chat", testConcurrentOpenEscalation},
		{"LinkMessage and EscalationByMessage", testLinkMessage},
		{"SetThread round-trips and EscalationByThread finds it, closed too", testThreadRoundTrip},
		{"SetThread: one escalation per topic, idempotent, replaceable", testSetThread},
		{"concurrent SetThread of one topic: exactly one escalation gets it", testConcurrentSetThread},
		{"concurrent Take: exactly one agent wins", testConcurrentTake},
		{"Take by the holder keeps the hold; anyone else is ECONFLICT", testTake},
		{"Release by the holder only, back to the queue", testRelease},
		{"CloseEscalation is idempotent and frees the chat", testCloseEscalation},
		{"TouchAgentReply moves forward, by the holder of a held escalation only", testTouchAgentReply},
		{"queue positions and OpenEscalations follow due, then creation", testQueueOrder},
		{"ReleaseSilentHolds releases holds silent since before the time", testReleaseSilentHolds},
		{"concurrent ReleaseSilentHolds release each hold once", testConcurrentReleaseSilentHolds},
		{"ReleaseSilentHolds racing replies: a hold is kept or released, never both", testReleaseSilentHoldsRacingReplies},
		{"RecordPlace, LinkPlace and SwapPlace: one edit per text, of a queued chat's place message", testPlace},
		{"RecentWaits: first takes since a time, most recent first, kept through a release", testRecentWaits},
		{"KeepWaiting keeps a queued chat's messages up to the limit; clearing and closing forget them", testWaiting},
		{"concurrent KeepWaiting never keeps more than the limit", testConcurrentKeepWaiting},
		{"CommentRating: once, by the rater, of a rated escalation, bounded", testCommentRating},
		{"unknown escalation is ENOTFOUND", testUnknownEscalation},
		{"a cancelled context fails the call and changes nothing", testAgentsCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// desk0 is the agents' clock in these tests: Take, Close and the rest
// carry their own time, so holds and queues are exact.
var desk0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// agentID makes Telegram user IDs above 2^31, as real ones are.
func agentID(n int) int64 { return 7_100_000_000 + int64(n) }

func newAgent(n int, staff, username string) refund.Agent {
	return refund.Agent{UserID: agentID(n), Username: username, DisplayName: fmt.Sprintf("客服 %d", n), StaffNumber: staff}
}

func mustPutAgent(t *testing.T, s refund.AgentStore, a refund.Agent) {
	t.Helper()
	if err := s.PutAgent(t.Context(), a); err != nil {
		t.Fatalf("PutAgent(%d, %s): %v", a.UserID, a.StaffNumber, err)
	}
}

func mustAgent(t *testing.T, s refund.AgentStore, userID int64) refund.Agent {
	t.Helper()
	a, err := s.Agent(t.Context(), userID)
	if err != nil {
		t.Fatalf("Agent(%d): %v", userID, err)
	}
	return a
}

const buyerChat = 7_000_000_001

// newEscalation is a buyer's request for a person, due and created at
// times a store must normalize: another zone and nanoseconds.
func newEscalation(chat int64) refund.Escalation {
	return refund.Escalation{
		BuyerChatID: chat,
		BuyerUserID: chat,
		Language:    "zh-CN",
		Reason:      refund.EscalateAsked,
		Status:      refund.EscalationQueued,
		Due:         time.Date(2026, 11, 22, 20, 0, 0, 123456789, shanghai()),
		CreatedAt:   time.Date(2026, 11, 22, 18, 0, 0, 987654321, shanghai()),
	}
}

func mustOpenEscalation(t *testing.T, s refund.EscalationStore, e refund.Escalation) refund.Escalation {
	t.Helper()
	got, created, err := s.OpenEscalation(t.Context(), e)
	if err != nil {
		t.Fatalf("OpenEscalation(chat %d): %v", e.BuyerChatID, err)
	}
	if !created {
		t.Fatalf("OpenEscalation(chat %d) found escalation %d, want a new one", e.BuyerChatID, got.ID)
	}
	return got
}

func mustEscalation(t *testing.T, s refund.EscalationStore, id int64) refund.Escalation {
	t.Helper()
	e, err := s.Escalation(t.Context(), id)
	if err != nil {
		t.Fatalf("Escalation(%d): %v", id, err)
	}
	return e
}

func mustTake(t *testing.T, s refund.EscalationStore, id, agent int64, at time.Time) refund.Escalation {
	t.Helper()
	e, err := s.Take(t.Context(), id, agent, at)
	if err != nil {
		t.Fatalf("Take(%d, agent %d): %v", id, agent, err)
	}
	return e
}

func mustClose(t *testing.T, s refund.EscalationStore, id int64, at time.Time) {
	t.Helper()
	if err := s.CloseEscalation(t.Context(), id, at); err != nil {
		t.Fatalf("CloseEscalation(%d): %v", id, err)
	}
}

func wantEscalation(t *testing.T, got, want refund.Escalation) {
	t.Helper()
	for name, tm := range map[string]time.Time{"Due": got.Due, "CreatedAt": got.CreatedAt, "TakenAt": got.TakenAt,
		"LastAgentReplyAt": got.LastAgentReplyAt, "ClosedAt": got.ClosedAt, "PlaceEditedAt": got.PlaceEditedAt,
		"FirstTakenAt": got.FirstTakenAt} {
		if !tm.IsZero() {
			wantUTC(t, name, tm)
		}
	}
	if got != want {
		t.Errorf("escalation\n got %+v\nwant %+v", got, want)
	}
}

// ids reduces escalations to their IDs, for checking an order.
func ids(es []refund.Escalation) []int64 {
	out := make([]int64, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func mustOpenIDs(t *testing.T, s refund.EscalationStore) []int64 {
	t.Helper()
	es, err := s.OpenEscalations(t.Context())
	if err != nil {
		t.Fatalf("OpenEscalations: %v", err)
	}
	return ids(es)
}

func testAgentsCancelledContext(t *testing.T, s AgentEscalationStore) {
	alice := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, alice)
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"PutAgent", func() error { return s.PutAgent(ctx, newAgent(2, "K042", "bob_cs")) }},
		{"RemoveAgent", func() error { return s.RemoveAgent(ctx, alice.UserID) }},
		{"Agent", func() error { _, err := s.Agent(ctx, alice.UserID); return err }},
		{"AgentByUsername", func() error { _, err := s.AgentByUsername(ctx, "alice_cs"); return err }},
		{"Agents", func() error { _, err := s.Agents(ctx); return err }},
		{"RecordProfile", func() error {
			_, err := s.RecordProfile(ctx, alice.UserID, refund.AgentProfile{Username: "other", At: desk0})
			return err
		}},
		{"OpenEscalation", func() error { _, _, err := s.OpenEscalation(ctx, newEscalation(buyerChat+1)); return err }},
		{"Escalation", func() error { _, err := s.Escalation(ctx, e.ID); return err }},
		{"OpenEscalationByChat", func() error { _, err := s.OpenEscalationByChat(ctx, buyerChat); return err }},
		{"LinkMessage", func() error { return s.LinkMessage(ctx, e.ID, 1001, true) }},
		{"EscalationByMessage", func() error { _, err := s.EscalationByMessage(ctx, 1001); return err }},
		{"SetThread", func() error { return s.SetThread(ctx, e.ID, 100) }},
		{"EscalationByThread", func() error { _, err := s.EscalationByThread(ctx, 100); return err }},
		{"Take", func() error { _, err := s.Take(ctx, e.ID, alice.UserID, desk0); return err }},
		{"Release", func() error { _, err := s.Release(ctx, e.ID, alice.UserID); return err }},
		{"CloseEscalation", func() error { return s.CloseEscalation(ctx, e.ID, desk0) }},
		{"TouchAgentReply", func() error { return s.TouchAgentReply(ctx, e.ID, alice.UserID, desk0) }},
		{"QueuePosition", func() error { _, err := s.QueuePosition(ctx, e.ID); return err }},
		{"OpenEscalations", func() error { _, err := s.OpenEscalations(ctx); return err }},
		{"ReleaseSilentHolds", func() error { _, err := s.ReleaseSilentHolds(ctx, desk0.Add(time.Hour)); return err }},
		{"RecordPlace", func() error { return s.RecordPlace(ctx, e.ID, "place") }},
		{"LinkPlace", func() error { return s.LinkPlace(ctx, e.ID, 1002) }},
		{"SwapPlace", func() error { _, err := s.SwapPlace(ctx, e.ID, "", "place", desk0); return err }},
		{"RecentWaits", func() error { _, err := s.RecentWaits(ctx, desk0, 10); return err }},
		{"KeepWaiting", func() error { _, err := s.KeepWaiting(ctx, e.ID, "hello", desk0, 5); return err }},
		{"WaitingMessages", func() error { _, err := s.WaitingMessages(ctx, e.ID); return err }},
		{"ClearWaiting", func() error { return s.ClearWaiting(ctx, e.ID, 1) }},
		{"CommentRating", func() error { _, err := s.CommentRating(ctx, e.ID, buyerChat, "ok"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: %v, want context.Canceled", tt.name, err)
			}
		})
	}
	if got := staffNumbers(t, s); !reflect.DeepEqual(got, []string{"K017"}) {
		t.Errorf("agents after cancelled calls: %v, want only K017", got)
	}
	wantEscalation(t, mustEscalation(t, s, e.ID), e)
	if got := mustOpenIDs(t, s); !slices.Equal(got, []int64{e.ID}) {
		t.Errorf("open escalations after cancelled calls: %v, want only %d", got, e.ID)
	}
	if ms, err := s.WaitingMessages(t.Context(), e.ID); err != nil || len(ms) != 0 {
		t.Errorf("waiting messages after cancelled calls: %v, %v; want none", ms, err)
	}
	_, err := s.EscalationByMessage(t.Context(), 1001)
	wantCode(t, err, refund.ENOTFOUND)
	_, err = s.EscalationByThread(t.Context(), 100)
	wantCode(t, err, refund.ENOTFOUND)
}
