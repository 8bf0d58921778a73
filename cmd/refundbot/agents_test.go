package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
)

func TestParseAgentList(t *testing.T) {
	tests := []struct {
		in      string
		want    []refund.Agent
		wantErr bool
	}{
		{in: "", want: nil},
		// No made-up name: Telegram's is used (Agent.Name).
		{in: "9017", want: []refund.Agent{{UserID: 9017, StaffNumber: "S9017", Active: true}}},
		{in: " 9017:张三:k017:@CS_Zhang , 9018:李四 ", want: []refund.Agent{
			{UserID: 9017, DisplayName: "张三", StaffNumber: "K017", Username: "cs_zhang", Active: true},
			{UserID: 9018, DisplayName: "李四", StaffNumber: "S9018", Active: true}}},
		{in: "abc", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "1:a:b:c:d", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseAgentList(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("agent %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestAgentsCommand(t *testing.T) {
	ctx := context.Background()
	store := inmem.New()
	var out strings.Builder
	run := func(args ...string) error {
		out.Reset()
		return agentsCommand(ctx, store, args, &out, time.UTC)
	}
	if err := run("add", "9017", "张三", "k017", "@CS_Zhang"); err != nil {
		t.Fatal(err)
	}
	if err := run("add", "9018", "李四", "K017"); refund.ErrorCode(err) != refund.ECONFLICT {
		t.Fatalf("second K017: %v, want ECONFLICT", err)
	}
	if err := run("list"); err != nil || !strings.Contains(out.String(), "K017\t9017\t张三 @cs_zhang") {
		t.Fatalf("list = %q, %v", out.String(), err)
	}
	if err := run("remove", "9017"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Agent(ctx, 9017); refund.ErrorCode(err) != refund.ENOTFOUND {
		t.Fatalf("removed agent still found: %v", err)
	}
	for _, bad := range [][]string{{}, {"add", "x", "a", "B"}, {"remove"}, {"fire", "1"}} {
		if err := run(bad...); err == nil {
			t.Errorf("agents %v succeeded", bad)
		}
	}
	// Bootstrapping fills an empty staff list only, so a removed agent
	// listed in AGENT_USER_IDS does not come back at the next start.
	boot := []refund.Agent{{UserID: 9017, DisplayName: "张三", StaffNumber: "K017", Active: true}}
	if err := run("add", "9018", "李四", "K018"); err != nil {
		t.Fatal(err)
	}
	if err := bootstrapAgents(ctx, store, boot); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Agent(ctx, 9017); refund.ErrorCode(err) != refund.ENOTFOUND {
		t.Fatalf("bootstrap brought back a removed agent: %v", err)
	}
	fresh := inmem.New()
	if err := bootstrapAgents(ctx, fresh, boot); err != nil {
		t.Fatal(err)
	}
	if a, err := fresh.Agent(ctx, 9017); err != nil || a.StaffNumber != "K017" {
		t.Fatalf("bootstrapped agent %+v, %v", a, err)
	}
}

func TestAgentsListShowsTelegramProfile(t *testing.T) {
	ctx := context.Background()
	store := inmem.New()
	var out strings.Builder
	shanghai := time.FixedZone("CST", 8*60*60)
	for _, a := range []refund.Agent{{UserID: 1001, StaffNumber: "S1001"}, {UserID: 1002, DisplayName: "小周", StaffNumber: "S1002"},
		{UserID: 1003, StaffNumber: "S1003"}} {
		if err := store.PutAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 11, 22, 6, 5, 0, 0, time.UTC)
	for id, p := range map[int64]refund.AgentProfile{
		1001: {FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipIn, At: at},
		1002: {FirstName: "周杰", Membership: refund.MembershipLeft, At: at},
	} {
		if _, err := store.RecordProfile(ctx, id, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := agentsCommand(ctx, store, []string{"list"}, &out, shanghai); err != nil {
		t.Fatal(err)
	}
	want := "S1001\t1001\t- @li_na\ttelegram: 李娜 @li_na at 2026-11-22 14:05 CST\n" +
		"S1002\t1002\t小周\ttelegram: 周杰 (no username) at 2026-11-22 14:05 CST\tLEFT THE TEAM CHAT\n" +
		"S1003\t1003\t-\ttelegram: not reported yet\n"
	if out.String() != want {
		t.Errorf("agents list =\n%s\nwant\n%s", out.String(), want)
	}
}
