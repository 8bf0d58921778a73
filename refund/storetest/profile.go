package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// profile0 is when Telegram first reports the agents in these tests, in
// another zone and with nanoseconds, which the stores must normalize.
var profile0 = time.Date(2026, 11, 22, 18, 0, 0, 123456789, shanghai())

func mustRecordProfile(t *testing.T, s refund.AgentStore, userID int64, p refund.AgentProfile) refund.ProfileChange {
	t.Helper()
	ch, err := s.RecordProfile(t.Context(), userID, p)
	if err != nil {
		t.Fatalf("RecordProfile(%d, %+v): %v", userID, p, err)
	}
	return ch
}

// wantUsername checks who AgentByUsername finds for name: userID, or
// nobody when userID is 0.
func wantUsername(t *testing.T, s refund.AgentStore, name string, userID int64) {
	t.Helper()
	got, err := s.AgentByUsername(t.Context(), name)
	if userID == 0 {
		if refund.ErrorCode(err) != refund.ENOTFOUND {
			t.Errorf("AgentByUsername(%q) = %+v, %v; want ENOTFOUND", name, got, err)
		}
		return
	}
	if err != nil || got.UserID != userID {
		t.Errorf("AgentByUsername(%q) = %d, %v; want agent %d", name, got.UserID, err, userID)
	}
}

func testRecordProfileRoundTrip(t *testing.T, s AgentEscalationStore) {
	// Created from an id only: no configured name, a configured username.
	put := refund.Agent{UserID: agentID(1), Username: "old_name", StaffNumber: "S1001"}
	mustPutAgent(t, s, put)
	before := mustAgent(t, s, put.UserID)
	ch := mustRecordProfile(t, s, put.UserID, refund.AgentProfile{FirstName: "李娜", LastName: "", Username: "Li_Na",
		Membership: refund.MembershipIn, At: profile0})
	if ch.Before != before {
		t.Errorf("Before\n got %+v\nwant %+v", ch.Before, before)
	}
	want := before
	want.TelegramFirstName, want.Username, want.ProfileAt = "李娜", "li_na", profile0.UTC().Truncate(time.Microsecond)
	if ch.After != want {
		t.Errorf("After\n got %+v\nwant %+v", ch.After, want)
	}
	got := mustAgent(t, s, put.UserID)
	wantUTC(t, "ProfileAt", got.ProfileAt)
	if got != want {
		t.Errorf("stored agent\n got %+v\nwant %+v", got, want)
	}
	if got.Name() != "李娜" {
		t.Errorf("Name() = %q, want the Telegram name", got.Name())
	}
	if ch.Left() || ch.Returned() {
		t.Errorf("a member's first profile reads as left %v / returned %v", ch.Left(), ch.Returned())
	}
	wantUsername(t, s, "old_name", 0)
	wantUsername(t, s, "@LI_NA", put.UserID)

	// The admin's update keeps what Telegram reported.
	put.DisplayName = "娜娜"
	mustPutAgent(t, s, put)
	got = mustAgent(t, s, put.UserID)
	if got.TelegramFirstName != "李娜" || !got.ProfileAt.Equal(want.ProfileAt) || got.Name() != "娜娜" {
		t.Errorf("after PutAgent: %+v, want the Telegram profile kept and the configured name used", got)
	}
}

func testRecordProfileUsernameGone(t *testing.T, s AgentEscalationStore) {
	a := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, a)
	ch := mustRecordProfile(t, s, a.UserID, refund.AgentProfile{FirstName: "Alice", Membership: refund.MembershipIn, At: profile0})
	if ch.After.Username != "" {
		t.Errorf("username after Telegram shows none: %q", ch.After.Username)
	}
	wantUsername(t, s, "alice_cs", 0)
	// Whoever registers the name next is not staff, nor is the name free
	// to collide: another agent may take it.
	mustPutAgent(t, s, newAgent(2, "K042", "alice_cs"))
	wantUsername(t, s, "alice_cs", agentID(2))
}

func testRecordProfileTakesUsername(t *testing.T, s AgentEscalationStore) {
	alice, bob := newAgent(1, "K017", "shared_cs"), newAgent(2, "K042", "bob_cs")
	mustPutAgent(t, s, alice)
	mustPutAgent(t, s, bob)
	// Alice gave the name up and Bob took it, before the next refresh.
	mustRecordProfile(t, s, bob.UserID, refund.AgentProfile{FirstName: "Bob", Username: "Shared_CS",
		Membership: refund.MembershipIn, At: profile0})
	wantUsername(t, s, "shared_cs", bob.UserID)
	wantUsername(t, s, "bob_cs", 0)
	if got := mustAgent(t, s, alice.UserID); got.Username != "" {
		t.Errorf("Alice's record still holds @%s, which Telegram reports for Bob", got.Username)
	}
	// Alice's own refresh then records her new name.
	mustRecordProfile(t, s, alice.UserID, refund.AgentProfile{FirstName: "Alice", Username: "alice_new",
		Membership: refund.MembershipIn, At: profile0.Add(time.Second)})
	wantUsername(t, s, "alice_new", alice.UserID)
	wantUsername(t, s, "shared_cs", bob.UserID)
}

func testRecordProfileMembership(t *testing.T, s AgentEscalationStore) {
	a := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, a)
	steps := []struct {
		name               string
		membership         refund.Membership
		leftTeam           bool
		wantLeft, wantBack bool
	}{
		{"member", refund.MembershipIn, false, false, false},
		{"left: first seen", refund.MembershipLeft, true, true, false},
		{"left: seen again", refund.MembershipLeft, true, false, false},
		{"an update says nothing of membership", refund.MembershipUnknown, true, false, false},
		{"back", refund.MembershipIn, false, false, true},
		{"member again", refund.MembershipIn, false, false, false},
	}
	for i, st := range steps {
		ch := mustRecordProfile(t, s, a.UserID, refund.AgentProfile{FirstName: "Alice", Username: "alice_cs",
			Membership: st.membership, At: profile0.Add(time.Duration(i) * time.Minute)})
		if ch.After.LeftTeam != st.leftTeam || ch.Left() != st.wantLeft || ch.Returned() != st.wantBack {
			t.Errorf("%s: LeftTeam %v, Left() %v, Returned() %v; want %v, %v, %v", st.name,
				ch.After.LeftTeam, ch.Left(), ch.Returned(), st.leftTeam, st.wantLeft, st.wantBack)
		}
		if got := mustAgent(t, s, a.UserID); got.LeftTeam != st.leftTeam {
			t.Errorf("%s: stored LeftTeam %v, want %v", st.name, got.LeftTeam, st.leftTeam)
		}
	}
}

func testRecordProfileOlder(t *testing.T, s AgentEscalationStore) {
	a := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, a)
	mustRecordProfile(t, s, a.UserID, refund.AgentProfile{FirstName: "Alice", Username: "alice_new",
		Membership: refund.MembershipIn, At: profile0})
	// An update handled late still shows the old name: it must not come back.
	ch := mustRecordProfile(t, s, a.UserID, refund.AgentProfile{FirstName: "Alice", Username: "alice_cs",
		At: profile0.Add(-time.Minute)})
	if ch.After != ch.Before {
		t.Errorf("an older profile changed the record:\n got %+v\nwant %+v", ch.After, ch.Before)
	}
	wantUsername(t, s, "alice_cs", 0)
	wantUsername(t, s, "alice_new", a.UserID)
}

func testRecordProfileUnknown(t *testing.T, s AgentEscalationStore) {
	p := refund.AgentProfile{FirstName: "Mallory", Username: "mallory", Membership: refund.MembershipIn, At: profile0}
	_, err := s.RecordProfile(t.Context(), agentID(9), p)
	wantCode(t, err, refund.ENOTFOUND)
	a := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, a)
	if err := s.RemoveAgent(t.Context(), a.UserID); err != nil {
		t.Fatal(err)
	}
	_, err = s.RecordProfile(t.Context(), a.UserID, p)
	wantCode(t, err, refund.ENOTFOUND)
	wantUsername(t, s, "mallory", 0)
}

func testConcurrentRecordProfile(t *testing.T, s AgentEscalationStore) {
	a := newAgent(1, "K017", "alice_cs")
	mustPutAgent(t, s, a)
	// Every replica's refresher sees the agent gone at once: one of them
	// tells the team.
	const n = 10
	changes := make([]refund.ProfileChange, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		changes[i], errs[i] = s.RecordProfile(context.WithoutCancel(t.Context()), a.UserID, refund.AgentProfile{
			FirstName: "Alice", Username: "alice_cs", Membership: refund.MembershipLeft, At: profile0})
	})
	left := 0
	for i, ch := range changes {
		if errs[i] != nil {
			t.Fatalf("RecordProfile %d: %v", i, errs[i])
		}
		if ch.Left() {
			left++
		}
	}
	if left != 1 {
		t.Errorf("%d recorders saw the agent leave first, want exactly 1", left)
	}
}
