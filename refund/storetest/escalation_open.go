package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// Opening an escalation, one per chat, and finding it by id, chat or
// message.

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
