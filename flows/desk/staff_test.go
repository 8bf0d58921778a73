package desk_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

// members is a Telegram team chat whose members the test sets.
type members struct {
	mu      sync.Mutex
	profile map[int64]refund.AgentProfile
}

func (m *members) ChatMember(_ context.Context, _, userID int64) (refund.AgentProfile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.profile[userID]
	if !ok {
		return refund.AgentProfile{}, errors.New("Bad Request: user not found")
	}
	p.At = time.Now()
	return p, nil
}

func (m *members) set(userID int64, p refund.AgentProfile) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.profile[userID] = p
}

func TestRefreshStaff(t *testing.T) {
	ctx := context.Background()
	const team = testTeam
	store := inmem.New()
	td := newTestDesk(t, store, nil)
	d, escalations := td.desk, td.escalations
	for _, a := range []refund.Agent{{UserID: 1001, StaffNumber: "S1001"}, {UserID: 1002, StaffNumber: "S1002"},
		{UserID: 1003, StaffNumber: "S1003", Username: "ghost"}} {
		if err := store.PutAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	tg := &members{profile: map[int64]refund.AgentProfile{
		1001: {FirstName: "李娜", Username: "li_na", Membership: refund.MembershipIn},
		1002: {FirstName: "周杰", Username: "zhou_jie", Membership: refund.MembershipLeft},
		// 1003 is unknown to Telegram: kept as recorded.
	}}
	send := &recorder{}
	refresh := func(wantFlags ...string) {
		t.Helper()
		before := len(send.to(team))
		n, err := d.RefreshStaff(ctx, tg, send)
		if n != 2 || err == nil || !strings.Contains(err.Error(), "agent 1003") {
			t.Errorf("RefreshStaff = %d, %v; want 2 refreshed and agent 1003's failure", n, err)
		}
		var got []string
		for _, s := range send.to(team)[before:] {
			got = append(got, s.msg.Text)
		}
		if len(got) != len(wantFlags) {
			t.Fatalf("team told %q, want %d messages %q", got, len(wantFlags), wantFlags)
		}
		for i, w := range wantFlags {
			if !strings.Contains(got[i], w) {
				t.Errorf("team message %q, want %q", got[i], w)
			}
		}
	}
	refresh("周杰（S1002）已不在客服群中")
	refresh() // seen already: not told again
	if a, _ := store.Agent(ctx, 1001); a.Name() != "李娜" || a.Username != "li_na" {
		t.Errorf("agent 1001 after refresh: %+v", a)
	}
	if a, _ := store.Agent(ctx, 1003); a.Username != "ghost" || !a.ProfileAt.IsZero() {
		t.Errorf("agent Telegram could not report changed: %+v", a)
	}

	e, _, err := escalations.Escalate(ctx, refund.Escalation{BuyerChatID: 5001, BuyerUserID: 5001, Reason: refund.EscalateAsked})
	if err != nil {
		t.Fatal(err)
	}
	zhou, _ := store.Agent(ctx, 1002)
	if _, err := escalations.Take(ctx, e.ID, zhou); refund.ErrorCode(err) != refund.EFORBIDDEN {
		t.Errorf("Take by an agent who left: %v, want EFORBIDDEN", err)
	}

	tg.set(1002, refund.AgentProfile{FirstName: "周杰", Username: "zhou_jie", Membership: refund.MembershipIn})
	refresh("周杰（S1002）已回到客服群")
	zhou, _ = store.Agent(ctx, 1002)
	if _, err := escalations.Take(ctx, e.ID, zhou); err != nil {
		t.Errorf("Take after coming back: %v", err)
	}
}
