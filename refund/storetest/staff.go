package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// The staff records: every field kept, updates, validation, removal,
// usernames and staff numbers unique, and the order agents are listed in.

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
