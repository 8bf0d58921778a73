package refund_test

import (
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
)

func TestAgentName(t *testing.T) {
	tests := []struct {
		name  string
		agent refund.Agent
		want  string
	}{
		{"configured name wins", refund.Agent{DisplayName: "张三", TelegramFirstName: "Zhang", TelegramLastName: "San"}, "张三"},
		{"Telegram first name", refund.Agent{TelegramFirstName: "李娜"}, "李娜"},
		{"Telegram first and last name", refund.Agent{TelegramFirstName: "Jie", TelegramLastName: "Zhou"}, "Jie Zhou"},
		{"Telegram last name only", refund.Agent{TelegramLastName: "Zhou"}, "Zhou"},
		{"blank configured name falls through", refund.Agent{DisplayName: " ", TelegramFirstName: "周杰"}, "周杰"},
		{"neither: the default", refund.Agent{StaffNumber: "S24001"}, refund.DefaultAgentName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.agent.Name(); got != tt.want {
				t.Errorf("Name() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAgentWithProfile(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	base := refund.Agent{UserID: 1001, Username: "old_name", StaffNumber: "S1001", Active: true, ProfileAt: at}
	tests := []struct {
		name    string
		agent   refund.Agent
		profile refund.AgentProfile
		want    refund.Agent
	}{
		{"names and username replaced, lower case", base,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipIn, At: at.Add(time.Minute)},
			refund.Agent{UserID: 1001, Username: "li_na", StaffNumber: "S1001", Active: true, TelegramFirstName: "李娜",
				ProfileAt: at.Add(time.Minute)}},
		{"no username any more clears it", base,
			refund.AgentProfile{FirstName: "李娜", At: at.Add(time.Minute)},
			refund.Agent{UserID: 1001, StaffNumber: "S1001", Active: true, TelegramFirstName: "李娜", ProfileAt: at.Add(time.Minute)}},
		{"left the team", base,
			refund.AgentProfile{Username: "old_name", Membership: refund.MembershipLeft, At: at.Add(time.Minute)},
			refund.Agent{UserID: 1001, Username: "old_name", StaffNumber: "S1001", Active: true, LeftTeam: true, ProfileAt: at.Add(time.Minute)}},
		{"an update keeps the membership", func() refund.Agent { a := base; a.LeftTeam = true; return a }(),
			refund.AgentProfile{Username: "old_name", At: at.Add(time.Minute)},
			refund.Agent{UserID: 1001, Username: "old_name", StaffNumber: "S1001", Active: true, LeftTeam: true, ProfileAt: at.Add(time.Minute)}},
		{"back in the team", func() refund.Agent { a := base; a.LeftTeam = true; return a }(),
			refund.AgentProfile{Username: "old_name", Membership: refund.MembershipIn, At: at.Add(time.Minute)},
			refund.Agent{UserID: 1001, Username: "old_name", StaffNumber: "S1001", Active: true, ProfileAt: at.Add(time.Minute)}},
		{"an older profile changes nothing", base,
			refund.AgentProfile{Username: "older", Membership: refund.MembershipLeft, At: at.Add(-time.Minute)}, base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.agent.WithProfile(tt.profile); got != tt.want {
				t.Errorf("WithProfile\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestImitates(t *testing.T) {
	staff := []refund.Agent{
		{UserID: 1001, Username: "li_na", StaffNumber: "S1001"},
		{UserID: 1002, Username: "zhoujie", StaffNumber: "S1002"},
		{UserID: 1003, Username: "cs_official", StaffNumber: "S1003"},
		{UserID: 1004, StaffNumber: "S1004"}, // no username: nothing to imitate
		{UserID: 1005, Username: "cs_mei", StaffNumber: "S1005"},
		{UserID: 1006, Username: "wang", StaffNumber: "S1006"},
	}
	tests := []struct {
		name string
		in   string
		want int64 // the imitated agent; 0 for none
	}{
		{"the real username", "@li_na", 0},
		{"the real username in another case", "@Li_Na", 0},
		{"the real username without @", "zhoujie", 0},
		{"digit one for l", "@1i_na", 1001},
		{"capital I for l", "@Ii_na", 1001},
		{"pipe for l", "@|i_na", 1001},
		{"underscore left out", "@lina", 1001},
		{"underscore added", "@zhou_jie", 1002},
		{"underscores doubled", "@li__na", 1001},
		{"zero for o", "@zh0ujie", 1002},
		{"Cyrillic o", "@zhоujie", 1002},
		{"Cyrillic а and е", "@сs_оffiсiаl", 1003},
		{"Cyrillic capitals", "@CS_OFFICIАL", 1003},
		{"Greek omicron", "@zhοujie", 1002},
		{"full-width letters", "@ｌｉ＿ｎａ", 1001},
		{"full-width digits for l and o", "@zh０ujie", 1002},
		{"full-width at sign", "＠1i_na", 1001},
		{"capital I for the last l", "@cs_officiaI", 1003},
		{"rn for m", "@cs_rnei", 1005},
		{"vv for w", "@vvang", 1006},
		{"mixed tricks", "@Cs_0ff1c1al", 1003},
		{"zero-width space inside", "@li\u200b_na", 1001},
		{"different name", "@wang_wu", 0},
		{"another real agent", "@cs_mei", 0},
		{"similar but another vowel", "@cs_mai", 0},
		{"one letter different", "@li_ne", 0},
		{"longer name", "@cs_official_help", 0},
		{"prefix of a name", "@zhou", 0},
		{"different digits", "@li_na2", 0},
		{"empty", "@", 0},
		{"blank", "  ", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := refund.Imitates(tt.in, staff)
			switch {
			case tt.want == 0 && ok:
				t.Errorf("Imitates(%q) = agent %d, want no imitation", tt.in, got.UserID)
			case tt.want != 0 && (!ok || got.UserID != tt.want):
				t.Errorf("Imitates(%q) = %d, %v; want agent %d", tt.in, got.UserID, ok, tt.want)
			}
		})
	}
}
