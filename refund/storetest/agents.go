package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
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

// staffNumbers is what Agents lists, reduced to what the order is about.
func staffNumbers(t *testing.T, s refund.AgentStore) []string {
	t.Helper()
	agents, err := s.Agents(t.Context())
	if err != nil {
		t.Fatalf("Agents: %v", err)
	}
	var out []string
	for _, a := range agents {
		if !a.Active {
			t.Errorf("Agents lists inactive agent %d", a.UserID)
		}
		out = append(out, a.StaffNumber)
	}
	return out
}

// wantConflict checks an ECONFLICT error that names the field in use.
func wantConflict(t *testing.T, err error, field string) {
	t.Helper()
	wantCode(t, err, refund.ECONFLICT)
	if got := refund.ErrorField(err); got != field {
		t.Errorf("conflict on field %q (error: %v), want %q", got, err, field)
	}
}

func testAgentRoundTrip(t *testing.T, s AgentEscalationStore) {
	withName := newAgent(1, "K017", "alice_cs")
	// The store owns Active and AddedAt: a caller's are ignored.
	withName.Active, withName.AddedAt = false, time.Date(2001, 1, 1, 0, 0, 0, 0, shanghai())
	tests := []struct {
		name  string
		agent refund.Agent
	}{
		{"with a username", withName},
		{"without a username", newAgent(2, "K042", "")},
		{"longest fields", refund.Agent{UserID: agentID(3), Username: strings.Repeat("z", 32),
			DisplayName: strings.Repeat("名", 64), StaffNumber: strings.Repeat("9", 16)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustPutAgent(t, s, tt.agent)
			got := mustAgent(t, s, tt.agent.UserID)
			wantUTC(t, "AddedAt", got.AddedAt)
			if got.AddedAt.IsZero() || got.AddedAt.Year() < 2020 {
				t.Errorf("AddedAt = %v, want the time of the first PutAgent", got.AddedAt)
			}
			want := tt.agent
			want.Active, want.AddedAt = true, got.AddedAt
			if got != want {
				t.Errorf("agent\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func testAgentUpdate(t *testing.T, s AgentEscalationStore) {
	first := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, first)
	added := mustAgent(t, s, first.UserID).AddedAt

	second := refund.Agent{UserID: first.UserID, Username: "alice_support", DisplayName: "Alice W.", StaffNumber: "K018"}
	mustPutAgent(t, s, second)
	got := mustAgent(t, s, first.UserID)
	want := second
	want.Active, want.AddedAt = true, added
	if got != want {
		t.Errorf("updated agent\n got %+v\nwant %+v", got, want)
	}
	if _, err := s.AgentByUsername(t.Context(), "alice_cs"); refund.ErrorCode(err) != refund.ENOTFOUND {
		t.Errorf("AgentByUsername(old name): %v, want ENOTFOUND", err)
	}
	if agents := staffNumbers(t, s); !reflect.DeepEqual(agents, []string{"K018"}) {
		t.Errorf("Agents = %v, want the one updated agent", agents)
	}

	if err := s.RemoveAgent(t.Context(), first.UserID); err != nil {
		t.Fatal(err)
	}
	mustPutAgent(t, s, second)
	if got := mustAgent(t, s, first.UserID); !got.AddedAt.Equal(added) {
		t.Errorf("AddedAt after removal and return = %v, want the first %v", got.AddedAt, added)
	}
}

func testInvalidAgent(t *testing.T, s AgentEscalationStore) {
	tests := []struct {
		name   string
		field  string
		change func(a *refund.Agent)
	}{
		{"no user id", "user_id", func(a *refund.Agent) { a.UserID = 0 }},
		{"negative user id", "user_id", func(a *refund.Agent) { a.UserID = -agentID(1) }},
		{"blank display name", "display_name", func(a *refund.Agent) { a.DisplayName = " " }},
		{"display name of 65 characters", "display_name", func(a *refund.Agent) { a.DisplayName = strings.Repeat("名", 65) }},
		{"no staff number", "staff_number", func(a *refund.Agent) { a.StaffNumber = "" }},
		{"staff number of 17 bytes", "staff_number", func(a *refund.Agent) { a.StaffNumber = strings.Repeat("9", 17) }},
		// K017 and k017 would be two agents a buyer takes for one.
		{"staff number in lower case", "staff_number", func(a *refund.Agent) { a.StaffNumber = "k017" }},
		{"username with @", "username", func(a *refund.Agent) { a.Username = "@alice_cs" }},
		{"username in upper case", "username", func(a *refund.Agent) { a.Username = "Alice_CS" }},
		{"username of 33 characters", "username", func(a *refund.Agent) { a.Username = strings.Repeat("a", 33) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAgent(1, "K017", "alice_cs")
			tt.change(&a)
			wantField(t, s.PutAgent(t.Context(), a), tt.field)
			if a.UserID > 0 {
				_, err := s.Agent(t.Context(), a.UserID)
				wantCode(t, err, refund.ENOTFOUND)
			}
		})
	}
	if agents := staffNumbers(t, s); len(agents) != 0 {
		t.Errorf("invalid agents stored: %v", agents)
	}
}

func testRemoveAgent(t *testing.T, s AgentEscalationStore) {
	alice, bob := newAgent(1, "K017", "alice_cs"), newAgent(2, "K042", "bob_cs")
	mustPutAgent(t, s, alice)
	mustPutAgent(t, s, bob)
	if err := s.RemoveAgent(t.Context(), alice.UserID); err != nil {
		t.Fatalf("RemoveAgent: %v", err)
	}
	_, err := s.Agent(t.Context(), alice.UserID)
	wantCode(t, err, refund.ENOTFOUND)
	_, err = s.AgentByUsername(t.Context(), alice.Username)
	wantCode(t, err, refund.ENOTFOUND)
	if agents := staffNumbers(t, s); !reflect.DeepEqual(agents, []string{"K042"}) {
		t.Errorf("Agents = %v, want only K042", agents)
	}
	if err := s.RemoveAgent(t.Context(), alice.UserID); err != nil {
		t.Errorf("removing a removed agent: %v, want no error", err)
	}
	wantCode(t, s.RemoveAgent(t.Context(), agentID(9)), refund.ENOTFOUND)

	mustPutAgent(t, s, alice)
	if got := mustAgent(t, s, alice.UserID); !got.Active {
		t.Errorf("agent put again is inactive")
	}
}

func testAgentByUsername(t *testing.T, s AgentEscalationStore) {
	alice := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, alice)
	// An agent without a username, which an empty lookup must not find.
	mustPutAgent(t, s, newAgent(2, "K042", ""))
	tests := []struct {
		query string
		found bool
	}{
		{"alice_cs", true},
		{"@alice_cs", true},
		{"@Alice_CS", true},
		{"ALICE_CS", true},
		{" @alice_cs ", true},
		{"alice", false},
		{"alice_cs2", false},
		{"", false},
		{"@", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.query), func(t *testing.T) {
			got, err := s.AgentByUsername(t.Context(), tt.query)
			if !tt.found {
				wantCode(t, err, refund.ENOTFOUND)
				return
			}
			if err != nil {
				t.Fatalf("AgentByUsername(%q): %v", tt.query, err)
			}
			if got.UserID != alice.UserID || got.Username != alice.Username {
				t.Errorf("AgentByUsername(%q) = %+v, want Alice", tt.query, got)
			}
		})
	}
}

func testAgentConflicts(t *testing.T, s AgentEscalationStore) {
	alice := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, alice)
	tests := []struct {
		name  string
		agent refund.Agent
		field string
	}{
		{"another agent's staff number", newAgent(2, "K017", "bob_cs"), "staff_number"},
		{"another agent's username", newAgent(2, "K042", "alice_cs"), "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantConflict(t, s.PutAgent(t.Context(), tt.agent), tt.field)
			_, err := s.Agent(t.Context(), tt.agent.UserID)
			wantCode(t, err, refund.ENOTFOUND)
		})
	}
	t.Run("agents without a username do not collide", func(t *testing.T) {
		mustPutAgent(t, s, newAgent(3, "K003", ""))
		mustPutAgent(t, s, newAgent(4, "K004", ""))
	})
	t.Run("an agent keeps its own number and name", func(t *testing.T) {
		changed := alice
		changed.DisplayName = "Alice W."
		mustPutAgent(t, s, changed)
	})
	t.Run("a removed agent's number and name are free", func(t *testing.T) {
		if err := s.RemoveAgent(t.Context(), alice.UserID); err != nil {
			t.Fatal(err)
		}
		mustPutAgent(t, s, newAgent(2, "K017", "alice_cs"))
		// Alice coming back finds them taken.
		wantCode(t, s.PutAgent(t.Context(), alice), refund.ECONFLICT)
		_, err := s.Agent(t.Context(), alice.UserID)
		wantCode(t, err, refund.ENOTFOUND)
	})
	if got := mustAgent(t, s, agentID(2)); got.StaffNumber != "K017" || got.Username != "alice_cs" {
		t.Errorf("agent 2 = %+v, want K017 @alice_cs", got)
	}
}

func testConcurrentAgents(t *testing.T, s AgentEscalationStore) {
	tests := []struct {
		name  string
		agent func(i int) refund.Agent
		field string
	}{
		{"one staff number", func(i int) refund.Agent { return newAgent(i, "K001", fmt.Sprintf("agent_%d", i)) }, "staff_number"},
		{"one username", func(i int) refund.Agent { return newAgent(100+i, fmt.Sprintf("K1%02d", i), "same_name") }, "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 10
			errs := make([]error, n)
			concurrently(n, func(i int) { errs[i] = s.PutAgent(t.Context(), tt.agent(i)) })
			wins := 0
			for i, err := range errs {
				switch refund.ErrorCode(err) {
				case "":
					wins++
				case refund.ECONFLICT:
					if refund.ErrorField(err) != tt.field {
						t.Errorf("agent %d: conflict on %q, want %q", i, refund.ErrorField(err), tt.field)
					}
				default:
					t.Errorf("agent %d: %v, want success or ECONFLICT", i, err)
				}
			}
			if wins != 1 {
				t.Errorf("%d agents stored, want exactly 1", wins)
			}
		})
	}
	if agents := staffNumbers(t, s); len(agents) != 2 {
		t.Errorf("Agents = %v, want one per race", agents)
	}
}

func testAgentsOrder(t *testing.T, s AgentEscalationStore) {
	// Byte order, whatever the server's locale: "K017" before "K2", and
	// punctuation counts ("K-9" before "K1"; a locale's collation skips
	// the hyphen and would put it after "K2").
	for i, staff := range []string{"K-9", "K2", "Z9", "K0170", "K017", "K001"} {
		mustPutAgent(t, s, newAgent(i, staff, ""))
	}
	if err := s.RemoveAgent(t.Context(), agentID(5)); err != nil {
		t.Fatal(err)
	}
	want := []string{"K-9", "K017", "K0170", "K2", "Z9"}
	if got := staffNumbers(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("Agents by staff number = %v, want %v", got, want)
	}
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
		"LastAgentReplyAt": got.LastAgentReplyAt, "ClosedAt": got.ClosedAt} {
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

// caseStore is the store's case side, for escalations about real cases.
func caseStore(t *testing.T, s AgentEscalationStore) refund.Store {
	t.Helper()
	cs, ok := s.(refund.Store)
	if !ok {
		t.Fatalf("%T keeps escalations but no cases for them to refer to", s)
	}
	return cs
}

func testEscalationRoundTrip(t *testing.T, s AgentEscalationStore) {
	full := newEscalation(buyerChat)
	// The store owns the ID, the holder and the times after creation: a
	// caller's are ignored.
	full.ID, full.AgentUserID, full.CardMessageID = 99, agentID(1), 1001
	full.TakenAt, full.LastAgentReplyAt, full.ClosedAt = desk0, desk0, desk0
	bare := refund.Escalation{BuyerChatID: buyerChat + 1, BuyerUserID: buyerChat + 1, Reason: refund.EscalateFlagged}
	tests := []struct {
		name string
		in   refund.Escalation
		want refund.Escalation
	}{
		{"every field", full, refund.Escalation{BuyerChatID: full.BuyerChatID, BuyerUserID: full.BuyerUserID,
			Language: full.Language, Reason: full.Reason, Status: refund.EscalationQueued,
			Due: norm(full.Due), CreatedAt: norm(full.CreatedAt)}},
		{"no deadline, no creation time, no status", bare, refund.Escalation{BuyerChatID: bare.BuyerChatID,
			BuyerUserID: bare.BuyerUserID, Reason: bare.Reason, Status: refund.EscalationQueued}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustOpenEscalation(t, s, tt.in)
			if got.ID <= 0 {
				t.Fatalf("ID = %d, want > 0", got.ID)
			}
			want := tt.want
			want.ID = got.ID
			if tt.in.CreatedAt.IsZero() {
				if got.CreatedAt.IsZero() {
					t.Errorf("CreatedAt is zero, want the time of the call")
				}
				want.CreatedAt = got.CreatedAt
			}
			wantEscalation(t, got, want)
			wantEscalation(t, mustEscalation(t, s, got.ID), want)
			byChat, err := s.OpenEscalationByChat(t.Context(), tt.in.BuyerChatID)
			if err != nil {
				t.Fatalf("OpenEscalationByChat: %v", err)
			}
			wantEscalation(t, byChat, want)
		})
	}
}

func testOpenEscalationIdempotent(t *testing.T, s AgentEscalationStore) {
	first := mustOpenEscalation(t, s, newEscalation(buyerChat))
	again := newEscalation(buyerChat)
	again.BuyerUserID, again.Language, again.Reason = 1, "en", refund.EscalateOverdue
	again.Due, again.CreatedAt = time.Time{}, desk0
	got, created, err := s.OpenEscalation(t.Context(), again)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Errorf("second OpenEscalation created escalation %d, want the first", got.ID)
	}
	wantEscalation(t, got, first)

	mustTake(t, s, first.ID, agentID(1), desk0)
	held := mustEscalation(t, s, first.ID)
	got, created, err = s.OpenEscalation(t.Context(), again)
	if err != nil || created {
		t.Fatalf("OpenEscalation of a held chat: created %v, %v; want the held one", created, err)
	}
	wantEscalation(t, got, held)

	other := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	if other.ID == first.ID {
		t.Errorf("another chat got the first chat's escalation")
	}
	if got := mustOpenIDs(t, s); len(got) != 2 {
		t.Errorf("open escalations %v, want 2", got)
	}
}

func testOpenEscalationFillsCase(t *testing.T, s AgentEscalationStore) {
	cs := caseStore(t, s)
	c1 := orderWithCase(t, cs, "KM20261122001", "key-1")
	c2 := orderWithCase(t, cs, "KM20261122002", "key-2")
	unknown := c2.ID + 100
	withCase := func(chat, caseID int64) refund.Escalation {
		e := newEscalation(chat)
		e.CaseID = caseID
		return e
	}
	first := mustOpenEscalation(t, s, withCase(buyerChat, 0))
	steps := []struct {
		name     string
		caseID   int64
		code     string
		wantCase int64
	}{
		{"an unknown case is not filled in", unknown, refund.ENOTFOUND, 0},
		{"a missing case is filled in", c1.ID, "", c1.ID},
		{"a case is not replaced", c2.ID, "", c1.ID},
		{"a case is not cleared", 0, "", c1.ID},
		{"an unknown case does not matter once one is set", unknown, "", c1.ID},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got, created, err := s.OpenEscalation(t.Context(), withCase(buyerChat, st.caseID))
			wantCode(t, err, st.code)
			if err == nil && (created || got.ID != first.ID || got.CaseID != st.wantCase) {
				t.Errorf("got escalation %d (created %v) for case %d; want %d for case %d",
					got.ID, created, got.CaseID, first.ID, st.wantCase)
			}
			if stored := mustEscalation(t, s, first.ID); stored.CaseID != st.wantCase {
				t.Errorf("stored case %d, want %d", stored.CaseID, st.wantCase)
			}
		})
	}
	t.Run("a new escalation for an unknown case is ENOTFOUND", func(t *testing.T) {
		_, _, err := s.OpenEscalation(t.Context(), withCase(buyerChat+1, unknown))
		wantCode(t, err, refund.ENOTFOUND)
		_, err = s.OpenEscalationByChat(t.Context(), buyerChat+1)
		wantCode(t, err, refund.ENOTFOUND)
	})
	t.Run("a new escalation for a known case", func(t *testing.T) {
		if got := mustOpenEscalation(t, s, withCase(buyerChat+2, c2.ID)); got.CaseID != c2.ID {
			t.Errorf("CaseID = %d, want %d", got.CaseID, c2.ID)
		}
	})
}

func testInvalidEscalation(t *testing.T, s AgentEscalationStore) {
	tests := []struct {
		name   string
		field  string
		change func(e *refund.Escalation)
	}{
		{"no chat", "buyer_chat_id", func(e *refund.Escalation) { e.BuyerChatID = 0 }},
		{"no buyer", "buyer_user_id", func(e *refund.Escalation) { e.BuyerUserID = 0 }},
		{"negative buyer", "buyer_user_id", func(e *refund.Escalation) { e.BuyerUserID = -1 }},
		{"no reason", "reason", func(e *refund.Escalation) { e.Reason = "" }},
		{"unknown reason", "reason", func(e *refund.Escalation) { e.Reason = "bored" }},
		{"held", "status", func(e *refund.Escalation) { e.Status = refund.EscalationHeld }},
		{"closed", "status", func(e *refund.Escalation) { e.Status = refund.EscalationClosed }},
		{"negative case", "case_id", func(e *refund.Escalation) { e.CaseID = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEscalation(buyerChat)
			tt.change(&e)
			_, _, err := s.OpenEscalation(t.Context(), e)
			wantField(t, err, tt.field)
		})
	}
	if got := mustOpenIDs(t, s); len(got) != 0 {
		t.Errorf("invalid escalations stored: %v", got)
	}
}

func testConcurrentOpenEscalation(t *testing.T, s AgentEscalationStore) {
	tests := []struct {
		name        string
		chat        func(i int) int64
		wantCreated int
	}{
		{"one chat", func(int) int64 { return buyerChat }, 1},
		{"a chat each", func(i int) int64 { return buyerChat + 100 + int64(i) }, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 10
			got := make([]refund.Escalation, n)
			created := make([]bool, n)
			errs := make([]error, n)
			concurrently(n, func(i int) {
				got[i], created[i], errs[i] = s.OpenEscalation(t.Context(), newEscalation(tt.chat(i)))
			})
			byChat := map[int64]int64{}
			count := 0
			for i := range n {
				if errs[i] != nil {
					t.Errorf("escalation %d: %v", i, errs[i])
					continue
				}
				if created[i] {
					count++
				}
				if id, ok := byChat[got[i].BuyerChatID]; ok && id != got[i].ID {
					t.Errorf("chat %d got escalations %d and %d", got[i].BuyerChatID, id, got[i].ID)
				}
				byChat[got[i].BuyerChatID] = got[i].ID
			}
			if count != tt.wantCreated {
				t.Errorf("%d calls created an escalation, want %d", count, tt.wantCreated)
			}
		})
	}
	if got := mustOpenIDs(t, s); len(got) != 11 {
		t.Errorf("%d open escalations, want 11", len(got))
	}
}

func testLinkMessage(t *testing.T, s AgentEscalationStore) {
	first := mustOpenEscalation(t, s, newEscalation(buyerChat))
	second := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	steps := []struct {
		name    string
		id      int64
		message int
		card    bool
		code    string
	}{
		{"the card", first.ID, 1001, true, ""},
		{"a relayed message", first.ID, 1002, false, ""},
		{"the card again", first.ID, 1001, true, ""},
		{"a message again", first.ID, 1002, false, ""},
		{"another escalation's message", second.ID, 1002, false, refund.ECONFLICT},
		{"another escalation's card", second.ID, 1001, true, refund.ECONFLICT},
		{"an unknown escalation", second.ID + 100, 1003, false, refund.ENOTFOUND},
		{"no message", first.ID, 0, false, refund.EINVALID},
		{"the second's card", second.ID, 2001, true, ""},
		{"the second's card reposted", second.ID, 2002, true, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantCode(t, s.LinkMessage(t.Context(), st.id, st.message, st.card), st.code)
		})
	}
	mustClose(t, s, second.ID, desk0)
	tests := []struct {
		message int
		id      int64
		card    int
	}{
		{1001, first.ID, 1001},
		{1002, first.ID, 1001},
		// A reply to an old card or to a closed escalation still finds it,
		// so that the agent can be told it is closed.
		{2001, second.ID, 2002},
		{2002, second.ID, 2002},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("message %d", tt.message), func(t *testing.T) {
			got, err := s.EscalationByMessage(t.Context(), tt.message)
			if err != nil {
				t.Fatalf("EscalationByMessage(%d): %v", tt.message, err)
			}
			wantEscalation(t, got, mustEscalation(t, s, tt.id))
			if got.CardMessageID != tt.card {
				t.Errorf("CardMessageID = %d, want %d", got.CardMessageID, tt.card)
			}
		})
	}
	for _, message := range []int{1003, 9999} {
		_, err := s.EscalationByMessage(t.Context(), message)
		wantCode(t, err, refund.ENOTFOUND)
	}
}

func mustSetThread(t *testing.T, s refund.EscalationStore, id int64, thread int) {
	t.Helper()
	if err := s.SetThread(t.Context(), id, thread); err != nil {
		t.Fatalf("SetThread(%d, %d): %v", id, thread, err)
	}
}

// wantByThread checks that a forum topic finds the escalation as stored.
func wantByThread(t *testing.T, s refund.EscalationStore, thread int, want refund.Escalation) {
	t.Helper()
	got, err := s.EscalationByThread(t.Context(), thread)
	if err != nil {
		t.Fatalf("EscalationByThread(%d): %v", thread, err)
	}
	wantEscalation(t, got, want)
}

func testThreadRoundTrip(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	other := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	// Thread IDs are message IDs, which can pass 2^31 in a busy chat.
	const thread = 1<<31 + 7
	mustSetThread(t, s, e.ID, thread)
	want := e
	want.ThreadID = thread

	wantEscalation(t, mustEscalation(t, s, e.ID), want)
	byChat, err := s.OpenEscalationByChat(t.Context(), buyerChat)
	if err != nil {
		t.Fatalf("OpenEscalationByChat: %v", err)
	}
	wantEscalation(t, byChat, want)
	open, err := s.OpenEscalations(t.Context())
	if err != nil {
		t.Fatalf("OpenEscalations: %v", err)
	}
	if len(open) != 2 {
		t.Fatalf("OpenEscalations = %v, want 2", ids(open))
	}
	for _, got := range open {
		switch got.ID {
		case e.ID:
			wantEscalation(t, got, want)
		case other.ID:
			wantEscalation(t, got, other)
		default:
			t.Errorf("OpenEscalations lists unknown escalation %d", got.ID)
		}
	}
	wantByThread(t, s, thread, want)
	// OpenEscalation finding the chat's escalation returns it with its topic.
	again, created, err := s.OpenEscalation(t.Context(), newEscalation(buyerChat))
	if err != nil || created {
		t.Fatalf("OpenEscalation of an open chat: created %v, %v", created, err)
	}
	wantEscalation(t, again, want)

	// The topic stays through a hold, its release and the close, and the
	// sweep reports it with the hold.
	held := mustTake(t, s, e.ID, agentID(1), desk0)
	if held.ThreadID != thread {
		t.Errorf("Take returned thread %d, want %d", held.ThreadID, thread)
	}
	wantByThread(t, s, thread, held)
	released, err := s.ReleaseSilentHolds(t.Context(), desk0.Add(time.Hour))
	if err != nil {
		t.Fatalf("ReleaseSilentHolds: %v", err)
	}
	if len(released) != 1 {
		t.Fatalf("ReleaseSilentHolds released %v, want [%d]", ids(released), e.ID)
	}
	wantEscalation(t, released[0], held)
	wantByThread(t, s, thread, want)
	mustClose(t, s, e.ID, desk0)
	closed := want
	closed.Status, closed.ClosedAt = refund.EscalationClosed, desk0
	// A message in a closed escalation's topic still finds it, so that the
	// agent can be told it is closed.
	wantByThread(t, s, thread, closed)

	for _, unknown := range []int{thread + 1, 1, 0, -thread} {
		_, err := s.EscalationByThread(t.Context(), unknown)
		wantCode(t, err, refund.ENOTFOUND)
	}
	wantEscalation(t, mustEscalation(t, s, other.ID), other)
}

func testSetThread(t *testing.T, s AgentEscalationStore) {
	first := mustOpenEscalation(t, s, newEscalation(buyerChat))
	second := mustOpenEscalation(t, s, newEscalation(buyerChat+1))
	closed := mustOpenEscalation(t, s, newEscalation(buyerChat+2))
	mustSetThread(t, s, closed.ID, 300)
	mustClose(t, s, closed.ID, desk0)
	steps := []struct {
		name   string
		id     int64
		thread int
		code   string
	}{
		{"a topic", first.ID, 100, ""},
		// A retried topic creation sets it twice.
		{"the same topic again", first.ID, 100, ""},
		{"another escalation's topic", second.ID, 100, refund.ECONFLICT},
		{"a closed escalation's topic", second.ID, 300, refund.ECONFLICT},
		{"no topic", second.ID, 0, refund.EINVALID},
		{"a negative topic", second.ID, -100, refund.EINVALID},
		{"an unknown escalation", closed.ID + 100, 400, refund.ENOTFOUND},
		// An unknown escalation is ENOTFOUND whatever the topic.
		{"an unknown escalation, another's topic", closed.ID + 100, 100, refund.ENOTFOUND},
		{"the second's topic", second.ID, 200, ""},
		// A recreated topic replaces the old one, which is then free.
		{"the second's new topic", second.ID, 201, ""},
		{"the second's old topic to the first", first.ID, 200, ""},
		{"the first's old topic to the second", second.ID, 100, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantCode(t, s.SetThread(t.Context(), st.id, st.thread), st.code)
		})
	}
	tests := []struct {
		thread int
		id     int64
	}{
		{100, second.ID},
		{200, first.ID},
		{300, closed.ID},
		{201, 0},
		{400, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("thread %d", tt.thread), func(t *testing.T) {
			got, err := s.EscalationByThread(t.Context(), tt.thread)
			if tt.id == 0 {
				wantCode(t, err, refund.ENOTFOUND)
				return
			}
			if err != nil {
				t.Fatalf("EscalationByThread(%d): %v", tt.thread, err)
			}
			wantEscalation(t, got, mustEscalation(t, s, tt.id))
			if got.ID != tt.id || got.ThreadID != tt.thread {
				t.Errorf("EscalationByThread(%d) = escalation %d with thread %d, want %d", tt.thread, got.ID, got.ThreadID, tt.id)
			}
		})
	}
}

func testConcurrentSetThread(t *testing.T, s AgentEscalationStore) {
	const n, thread = 10, 500
	es := make([]refund.Escalation, n)
	for i := range es {
		es[i] = mustOpenEscalation(t, s, newEscalation(buyerChat+int64(i)))
	}
	errs := make([]error, n)
	concurrently(n, func(i int) { errs[i] = s.SetThread(t.Context(), es[i].ID, thread) })
	winner := -1
	for i, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("escalations %d and %d both got thread %d", es[winner].ID, es[i].ID, thread)
			}
			winner = i
		case refund.ECONFLICT:
		default:
			t.Errorf("escalation %d: %v, want success or ECONFLICT", es[i].ID, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no escalation got thread %d", thread)
	}
	got, err := s.EscalationByThread(t.Context(), thread)
	if err != nil || got.ID != es[winner].ID {
		t.Errorf("EscalationByThread = %d, %v; want %d", got.ID, err, es[winner].ID)
	}
	for i, e := range es {
		want := 0
		if i == winner {
			want = thread
		}
		if got := mustEscalation(t, s, e.ID); got.ThreadID != want {
			t.Errorf("escalation %d has thread %d, want %d", e.ID, got.ThreadID, want)
		}
	}
}

func testConcurrentTake(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	const n = 10
	at := desk0.Add(time.Minute)
	got := make([]refund.Escalation, n)
	errs := make([]error, n)
	concurrently(n, func(i int) { got[i], errs[i] = s.Take(t.Context(), e.ID, agentID(i), at) })
	winner := -1
	for i, err := range errs {
		switch refund.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("agents %d and %d both took escalation %d", winner, i, e.ID)
			}
			winner = i
		case refund.ECONFLICT:
		default:
			t.Errorf("agent %d: %v, want success or ECONFLICT", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no agent took escalation %d", e.ID)
	}
	want := e
	want.Status, want.AgentUserID, want.TakenAt = refund.EscalationHeld, agentID(winner), at
	wantEscalation(t, got[winner], want)
	// What a loser reads to tell the agent who has the chat.
	wantEscalation(t, mustEscalation(t, s, e.ID), want)
}

func testTake(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	alice, bob := agentID(1), agentID(2)
	t1 := time.Date(2026, 11, 22, 18, 5, 0, 999, shanghai())
	t2 := desk0.Add(time.Hour)
	steps := []struct {
		name  string
		do    func() error
		code  string
		agent int64
	}{
		{"Alice takes", func() error { _, err := s.Take(t.Context(), e.ID, alice, t1); return err }, "", alice},
		{"Alice takes again", func() error { _, err := s.Take(t.Context(), e.ID, alice, t2); return err }, "", alice},
		{"Bob cannot take it from her", func() error { _, err := s.Take(t.Context(), e.ID, bob, t2); return err },
			refund.ECONFLICT, alice},
		{"no agent", func() error { _, err := s.Take(t.Context(), e.ID, 0, t2); return err }, refund.EINVALID, alice},
		{"no time", func() error { _, err := s.Take(t.Context(), e.ID, bob, time.Time{}); return err },
			refund.EINVALID, alice},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantCode(t, st.do(), st.code)
			got := mustEscalation(t, s, e.ID)
			want := e
			// The first take's time stays: the hold did not restart.
			want.Status, want.AgentUserID, want.TakenAt = refund.EscalationHeld, st.agent, norm(t1)
			wantEscalation(t, got, want)
			if pos, err := s.QueuePosition(t.Context(), e.ID); err != nil || pos != 0 {
				t.Errorf("QueuePosition of a held escalation = %d, %v; want 0", pos, err)
			}
		})
	}
	t.Run("nobody takes a closed escalation", func(t *testing.T) {
		mustClose(t, s, e.ID, t2)
		for _, agent := range []int64{alice, bob} {
			_, err := s.Take(t.Context(), e.ID, agent, t2)
			wantCode(t, err, refund.ECONFLICT)
		}
		if got := mustEscalation(t, s, e.ID); got.Status != refund.EscalationClosed {
			t.Errorf("status %s after takes of a closed escalation, want closed", got.Status)
		}
	})
}

func testRelease(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	alice, bob := agentID(1), agentID(2)
	mustTake(t, s, e.ID, alice, desk0)
	if err := s.TouchAgentReply(t.Context(), e.ID, alice, desk0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	held := mustEscalation(t, s, e.ID)

	_, err := s.Release(t.Context(), e.ID, bob)
	wantCode(t, err, refund.ECONFLICT)
	wantEscalation(t, mustEscalation(t, s, e.ID), held)
	_, err = s.Release(t.Context(), e.ID, 0)
	wantCode(t, err, refund.EINVALID)

	got, err := s.Release(t.Context(), e.ID, alice)
	if err != nil {
		t.Fatalf("Release by the holder: %v", err)
	}
	// Back to the queue with nothing of Alice's hold left, so that the
	// next holder's silence is counted from their own take.
	wantEscalation(t, got, e)
	wantEscalation(t, mustEscalation(t, s, e.ID), e)
	if pos, err := s.QueuePosition(t.Context(), e.ID); err != nil || pos != 1 {
		t.Errorf("QueuePosition after release = %d, %v; want 1", pos, err)
	}
	_, err = s.Release(t.Context(), e.ID, alice)
	wantCode(t, err, refund.ECONFLICT)

	t2 := desk0.Add(time.Hour)
	if got := mustTake(t, s, e.ID, bob, t2); got.AgentUserID != bob || !got.TakenAt.Equal(t2) || !got.LastAgentReplyAt.IsZero() {
		t.Errorf("Bob's take after release = %+v, want held by Bob since %v, no reply", got, t2)
	}
	mustClose(t, s, e.ID, t2)
	_, err = s.Release(t.Context(), e.ID, bob)
	wantCode(t, err, refund.ECONFLICT)
}

func testCloseEscalation(t *testing.T, s AgentEscalationStore) {
	tests := []struct {
		name string
		take bool
	}{
		{"queued", false},
		{"held", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chat := buyerChat + int64(i)
			e := mustOpenEscalation(t, s, newEscalation(chat))
			if tt.take {
				e = mustTake(t, s, e.ID, agentID(1), desk0)
			}
			closedAt := time.Date(2026, 11, 22, 19, 0, 0, 1999, shanghai())
			mustClose(t, s, e.ID, closedAt)
			// The last holder stays on a closed escalation, for the record.
			want := e
			want.Status, want.ClosedAt = refund.EscalationClosed, norm(closedAt)
			wantEscalation(t, mustEscalation(t, s, e.ID), want)

			mustClose(t, s, e.ID, closedAt.Add(time.Hour))
			wantEscalation(t, mustEscalation(t, s, e.ID), want)

			_, err := s.OpenEscalationByChat(t.Context(), chat)
			wantCode(t, err, refund.ENOTFOUND)
			if pos, err := s.QueuePosition(t.Context(), e.ID); err != nil || pos != 0 {
				t.Errorf("QueuePosition of a closed escalation = %d, %v; want 0", pos, err)
			}
			next := mustOpenEscalation(t, s, newEscalation(chat))
			if next.ID == e.ID || next.Status != refund.EscalationQueued {
				t.Errorf("new escalation after close = %+v, want a new queued one", next)
			}
			// Closing the old one again must not touch the new one.
			mustClose(t, s, e.ID, closedAt.Add(2*time.Hour))
			if got, err := s.OpenEscalationByChat(t.Context(), chat); err != nil || got.ID != next.ID {
				t.Errorf("OpenEscalationByChat = %d, %v; want %d", got.ID, err, next.ID)
			}
		})
	}
	wantCode(t, s.CloseEscalation(t.Context(), 1_000_000, desk0), refund.ENOTFOUND)
	wantCode(t, s.CloseEscalation(t.Context(), 1, time.Time{}), refund.EINVALID)
	if got := mustOpenIDs(t, s); len(got) != 2 {
		t.Errorf("open escalations %v, want the 2 opened after closing", got)
	}
}

func testTouchAgentReply(t *testing.T, s AgentEscalationStore) {
	alice, bob := agentID(1), agentID(2)
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	wantCode(t, s.TouchAgentReply(t.Context(), e.ID, alice, desk0), refund.ECONFLICT)
	mustTake(t, s, e.ID, alice, desk0)
	steps := []struct {
		name  string
		agent int64
		at    time.Time
		code  string
		want  time.Time
	}{
		{"a reply", alice, time.Date(2026, 11, 22, 18, 10, 0, 999, shanghai()), "", desk0.Add(10 * time.Minute)},
		{"a later reply", alice, desk0.Add(20 * time.Minute), "", desk0.Add(20 * time.Minute)},
		// A replica with a slow clock must not make the hold look staler.
		{"an earlier reply", alice, desk0.Add(15 * time.Minute), "", desk0.Add(20 * time.Minute)},
		// Another agent's reply must not excuse the holder's silence.
		{"a reply by another agent", bob, desk0.Add(30 * time.Minute), refund.ECONFLICT, desk0.Add(20 * time.Minute)},
		{"no agent", 0, desk0.Add(30 * time.Minute), refund.EINVALID, desk0.Add(20 * time.Minute)},
		{"no time", alice, time.Time{}, refund.EINVALID, desk0.Add(20 * time.Minute)},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			wantCode(t, s.TouchAgentReply(t.Context(), e.ID, st.agent, st.at), st.code)
			got := mustEscalation(t, s, e.ID)
			if !got.LastAgentReplyAt.Equal(st.want) || !got.TakenAt.Equal(desk0) || got.AgentUserID != alice {
				t.Errorf("LastAgentReplyAt, TakenAt, holder = %v, %v, %d; want %v, %v, %d",
					got.LastAgentReplyAt, got.TakenAt, got.AgentUserID, st.want, desk0, alice)
			}
		})
	}
	t.Run("the released holder's late reply", func(t *testing.T) {
		if _, err := s.Release(t.Context(), e.ID, alice); err != nil {
			t.Fatal(err)
		}
		mustTake(t, s, e.ID, bob, desk0.Add(40*time.Minute))
		wantCode(t, s.TouchAgentReply(t.Context(), e.ID, alice, desk0.Add(45*time.Minute)), refund.ECONFLICT)
		if got := mustEscalation(t, s, e.ID); !got.LastAgentReplyAt.IsZero() || got.AgentUserID != bob {
			t.Errorf("after Alice's late reply: held by %d, last reply %v; want Bob's hold untouched", got.AgentUserID, got.LastAgentReplyAt)
		}
	})
	mustClose(t, s, e.ID, desk0.Add(time.Hour))
	wantCode(t, s.TouchAgentReply(t.Context(), e.ID, bob, desk0.Add(time.Hour)), refund.ECONFLICT)
}

func testQueueOrder(t *testing.T, s AgentEscalationStore) {
	open := func(chat int64, due time.Duration, created time.Duration) refund.Escalation {
		e := newEscalation(chat)
		e.Due, e.CreatedAt = time.Time{}, desk0.Add(created)
		if due != 0 {
			e.Due = desk0.Add(due)
		}
		return mustOpenEscalation(t, s, e)
	}
	// Opened in an order that matches none of the orders to check.
	noDue := open(1, 0, 0)
	later := open(2, 2*time.Hour, time.Minute)
	soonNewer := open(3, time.Hour, 2*time.Minute)
	noDueTwin := open(4, 0, 0) // created with noDue: the ID breaks the tie
	soon := open(5, time.Hour, time.Minute)
	held := open(6, 3*time.Hour, 0)
	closed := open(7, -time.Hour, 0)
	mustTake(t, s, held.ID, agentID(1), desk0)
	mustClose(t, s, closed.ID, desk0)

	wantPositions := func(t *testing.T, want map[int64]int) {
		t.Helper()
		for id, pos := range want {
			got, err := s.QueuePosition(t.Context(), id)
			if err != nil || got != pos {
				t.Errorf("QueuePosition(%d) = %d, %v; want %d", id, got, err, pos)
			}
		}
	}
	wantPositions(t, map[int64]int{soon.ID: 1, soonNewer.ID: 2, later.ID: 3, noDue.ID: 4, noDueTwin.ID: 5,
		held.ID: 0, closed.ID: 0})
	want := []int64{soon.ID, soonNewer.ID, later.ID, held.ID, noDue.ID, noDueTwin.ID}
	if got := mustOpenIDs(t, s); !slices.Equal(got, want) {
		t.Errorf("OpenEscalations = %v, want %v", got, want)
	}

	t.Run("a taken escalation leaves the queue and comes back to its place", func(t *testing.T) {
		mustTake(t, s, soon.ID, agentID(2), desk0)
		wantPositions(t, map[int64]int{soon.ID: 0, soonNewer.ID: 1, noDueTwin.ID: 4})
		if _, err := s.Release(t.Context(), soon.ID, agentID(2)); err != nil {
			t.Fatal(err)
		}
		wantPositions(t, map[int64]int{soon.ID: 1, soonNewer.ID: 2, noDueTwin.ID: 5})
	})
}

func mustReleaseSilentHolds(t *testing.T, s refund.EscalationStore, before time.Time) []refund.Escalation {
	t.Helper()
	released, err := s.ReleaseSilentHolds(t.Context(), before)
	if err != nil {
		t.Fatalf("ReleaseSilentHolds(%v): %v", before, err)
	}
	return released
}

func testReleaseSilentHolds(t *testing.T, s AgentEscalationStore) {
	// hold opens an escalation for a chat and gives it to that chat's
	// agent, who replies at replied unless it is 0.
	hold := func(chat int64, taken, replied time.Duration) refund.Escalation {
		e := mustOpenEscalation(t, s, newEscalation(chat))
		mustTake(t, s, e.ID, agentID(int(chat)), desk0.Add(taken))
		if replied != 0 {
			if err := s.TouchAgentReply(t.Context(), e.ID, agentID(int(chat)), desk0.Add(replied)); err != nil {
				t.Fatal(err)
			}
		}
		return mustEscalation(t, s, e.ID)
	}
	silent := hold(1, 0, 0)
	answered := hold(2, 0, 20*time.Minute)
	takenLate := hold(3, 20*time.Minute, 0)
	answeredEarly := hold(4, 5*time.Minute, 10*time.Minute)
	takenAtCutoff := hold(5, 15*time.Minute, 0)
	queued := mustOpenEscalation(t, s, newEscalation(6)) // nobody's silence
	closed := hold(7, 0, 0)
	mustClose(t, s, closed.ID, desk0)
	closed = mustEscalation(t, s, closed.ID)
	// Silent for most of the time, but the reply landed before the sweep.
	repliedLast := hold(8, 0, 0)
	if err := s.TouchAgentReply(t.Context(), repliedLast.ID, repliedLast.AgentUserID, desk0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	repliedLast = mustEscalation(t, s, repliedLast.ID)
	// Replied a microsecond before the cut-off, and exactly at it.
	justBefore := hold(9, 0, 90*time.Minute-time.Microsecond)
	atCutoff := hold(10, 0, 90*time.Minute)

	held := map[int64]refund.Escalation{}
	for _, e := range []refund.Escalation{silent, answered, takenLate, answeredEarly, takenAtCutoff,
		repliedLast, justBefore, atCutoff} {
		held[e.ID] = e
	}
	// Each step releases what has fallen silent since the last one.
	steps := []struct {
		name   string
		before time.Time
		want   []int64
	}{
		{"before any hold", desk0, nil},
		// Strictly before: a hold taken at the cut-off is not silent yet.
		{"a quarter hour in", desk0.Add(15 * time.Minute), []int64{silent.ID, answeredEarly.ID}},
		{"again", desk0.Add(15 * time.Minute), nil},
		// Compared at the stored precision: nanoseconds do not count.
		{"less than a microsecond later", desk0.Add(15*time.Minute + 999*time.Nanosecond), nil},
		{"a microsecond later", desk0.Add(15*time.Minute + time.Microsecond), []int64{takenAtCutoff.ID}},
		// Longest silent first; equally silent by ID.
		{"an hour in", desk0.Add(time.Hour), []int64{answered.ID, takenLate.ID}},
		{"an hour and a half in", desk0.Add(90 * time.Minute), []int64{justBefore.ID}},
	}
	released := map[int64]bool{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := mustReleaseSilentHolds(t, s, st.before)
			if !slices.Equal(ids(got), st.want) {
				t.Fatalf("ReleaseSilentHolds(%v) = %v, want %v", st.before, ids(got), st.want)
			}
			for _, e := range got {
				// As it was held, so that the sweeper can tell the agent.
				wantEscalation(t, e, held[e.ID])
				released[e.ID] = true
			}
			for id, h := range held {
				if !released[id] {
					wantEscalation(t, mustEscalation(t, s, id), h)
					continue
				}
				// Back in the queue with nothing of the silent holder.
				want := h
				want.Status, want.AgentUserID, want.TakenAt, want.LastAgentReplyAt = refund.EscalationQueued, 0, time.Time{}, time.Time{}
				wantEscalation(t, mustEscalation(t, s, id), want)
				if pos, err := s.QueuePosition(t.Context(), id); err != nil || pos == 0 {
					t.Errorf("QueuePosition of released escalation %d = %d, %v; want a place in the queue", id, pos, err)
				}
			}
			wantEscalation(t, mustEscalation(t, s, queued.ID), queued)
			wantEscalation(t, mustEscalation(t, s, closed.ID), closed)
		})
	}
	t.Run("the released holder's late reply is ECONFLICT", func(t *testing.T) {
		err := s.TouchAgentReply(t.Context(), silent.ID, silent.AgentUserID, desk0.Add(3*time.Hour))
		wantCode(t, err, refund.ECONFLICT)
		if got := mustEscalation(t, s, silent.ID); got.Status != refund.EscalationQueued || !got.LastAgentReplyAt.IsZero() {
			t.Errorf("after a late reply: %+v, want queued with no reply", got)
		}
	})
	for _, e := range []refund.Escalation{repliedLast, atCutoff} {
		if got := mustEscalation(t, s, e.ID); got.Status != refund.EscalationHeld {
			t.Errorf("escalation %d replied to at %v is %s, want still held", e.ID, e.LastAgentReplyAt, got.Status)
		}
	}
}

func testConcurrentReleaseSilentHolds(t *testing.T, s AgentEscalationStore) {
	const silentHolds, callers = 12, 8
	before := desk0.Add(time.Hour)
	for i := range silentHolds {
		e := mustOpenEscalation(t, s, newEscalation(buyerChat+int64(i)))
		mustTake(t, s, e.ID, agentID(i), desk0.Add(time.Duration(i)*time.Minute))
	}
	// Held but not silent, and queued: neither is released.
	busy := mustOpenEscalation(t, s, newEscalation(buyerChat+100))
	mustTake(t, s, busy.ID, agentID(100), before)
	queued := mustOpenEscalation(t, s, newEscalation(buyerChat+101))

	got := make([][]refund.Escalation, callers)
	errs := make([]error, callers)
	concurrently(callers, func(i int) { got[i], errs[i] = s.ReleaseSilentHolds(t.Context(), before) })
	seen := map[int64]int{}
	total := 0
	for i := range callers {
		if errs[i] != nil {
			t.Errorf("caller %d: %v", i, errs[i])
			continue
		}
		total += len(got[i])
		for _, e := range got[i] {
			if prev, ok := seen[e.ID]; ok {
				t.Errorf("escalation %d released by callers %d and %d", e.ID, prev, i)
			}
			seen[e.ID] = i
			if e.Status != refund.EscalationHeld || e.AgentUserID == 0 {
				t.Errorf("released escalation %d returned as %s by %d, want as held", e.ID, e.Status, e.AgentUserID)
			}
		}
	}
	if total != silentHolds {
		t.Errorf("callers released %d holds in all, want %d", total, silentHolds)
	}
	open, err := s.OpenEscalations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range open {
		wantHeld := e.ID == busy.ID
		if (e.Status == refund.EscalationHeld) != wantHeld {
			t.Errorf("escalation %d is %s after the sweeps", e.ID, e.Status)
		}
	}
	wantEscalation(t, mustEscalation(t, s, queued.ID), queued)
}

func testReleaseSilentHoldsRacingReplies(t *testing.T, s AgentEscalationStore) {
	const n = 10
	before := desk0.Add(time.Hour)
	holds := make([]refund.Escalation, n)
	for i := range holds {
		e := mustOpenEscalation(t, s, newEscalation(buyerChat+int64(i)))
		holds[i] = mustTake(t, s, e.ID, agentID(i), desk0)
	}
	// Every holder replies, at a time that keeps the hold, while a sweep
	// runs: each reply either lands first and keeps the hold, or finds the
	// hold released.
	var released []refund.Escalation
	var sweepErr error
	touchErrs := make([]error, n)
	concurrently(n+1, func(i int) {
		if i == n {
			released, sweepErr = s.ReleaseSilentHolds(t.Context(), before)
			return
		}
		touchErrs[i] = s.TouchAgentReply(t.Context(), holds[i].ID, holds[i].AgentUserID, before)
	})
	if sweepErr != nil {
		t.Fatalf("ReleaseSilentHolds: %v", sweepErr)
	}
	wasReleased := map[int64]bool{}
	for _, e := range released {
		wasReleased[e.ID] = true
	}
	for i, h := range holds {
		got := mustEscalation(t, s, h.ID)
		switch code := refund.ErrorCode(touchErrs[i]); {
		case touchErrs[i] == nil:
			if wasReleased[h.ID] || got.Status != refund.EscalationHeld || !got.LastAgentReplyAt.Equal(before) {
				t.Errorf("escalation %d: reply recorded, but released %v, now %s, last reply %v",
					h.ID, wasReleased[h.ID], got.Status, got.LastAgentReplyAt)
			}
		case code == refund.ECONFLICT:
			if !wasReleased[h.ID] || got.Status != refund.EscalationQueued {
				t.Errorf("escalation %d: reply refused, but released %v, now %s", h.ID, wasReleased[h.ID], got.Status)
			}
		default:
			t.Errorf("reply to escalation %d: %v, want success or ECONFLICT", h.ID, touchErrs[i])
		}
	}
}

func testUnknownEscalation(t *testing.T, s AgentEscalationStore) {
	e := mustOpenEscalation(t, s, newEscalation(buyerChat))
	if err := s.LinkMessage(t.Context(), e.ID, 1001, true); err != nil {
		t.Fatal(err)
	}
	mustSetThread(t, s, e.ID, 100)
	unknown := e.ID + 1000
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Escalation", func(ctx context.Context) error { _, err := s.Escalation(ctx, unknown); return err }},
		{"OpenEscalationByChat", func(ctx context.Context) error {
			_, err := s.OpenEscalationByChat(ctx, buyerChat+1)
			return err
		}},
		{"EscalationByMessage", func(ctx context.Context) error { _, err := s.EscalationByMessage(ctx, 1002); return err }},
		{"LinkMessage", func(ctx context.Context) error { return s.LinkMessage(ctx, unknown, 1002, true) }},
		{"EscalationByThread", func(ctx context.Context) error { _, err := s.EscalationByThread(ctx, 101); return err }},
		{"SetThread", func(ctx context.Context) error { return s.SetThread(ctx, unknown, 101) }},
		{"SetThread with another's topic", func(ctx context.Context) error { return s.SetThread(ctx, unknown, 100) }},
		{"Take", func(ctx context.Context) error { _, err := s.Take(ctx, unknown, agentID(1), desk0); return err }},
		{"Release", func(ctx context.Context) error { _, err := s.Release(ctx, unknown, agentID(1)); return err }},
		{"CloseEscalation", func(ctx context.Context) error { return s.CloseEscalation(ctx, unknown, desk0) }},
		{"TouchAgentReply", func(ctx context.Context) error { return s.TouchAgentReply(ctx, unknown, agentID(1), desk0) }},
		{"QueuePosition", func(ctx context.Context) error { _, err := s.QueuePosition(ctx, unknown); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, tt.call(t.Context()), refund.ENOTFOUND) })
	}
	want := e
	want.CardMessageID, want.ThreadID = 1001, 100
	wantEscalation(t, mustEscalation(t, s, e.ID), want)
	_, err := s.EscalationByThread(t.Context(), 101)
	wantCode(t, err, refund.ENOTFOUND)
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
	_, err := s.EscalationByMessage(t.Context(), 1001)
	wantCode(t, err, refund.ENOTFOUND)
	_, err = s.EscalationByThread(t.Context(), 100)
	wantCode(t, err, refund.ENOTFOUND)
}
