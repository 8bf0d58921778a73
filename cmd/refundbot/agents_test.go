package main

import (
	"context"
	"strings"
	"testing"

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
		{in: "9017", want: []refund.Agent{{UserID: 9017, DisplayName: "客服", StaffNumber: "S9017", Active: true}}},
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
		return agentsCommand(ctx, store, args, &out)
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
