package bot

import (
	"context"
	"errors"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/refundbot/refundbot/bot/telegramfake"
	"github.com/refundbot/refundbot/refund"
)

func TestChatMember(t *testing.T) {
	li := telegramfake.User{ID: 1001, FirstName: "李娜", Username: "Li_Na"}
	tests := []struct {
		name    string
		member  *telegramfake.Member // nil: never set
		chat    int64
		fail    int // 5xx before it goes through
		want    refund.AgentProfile
		wantErr string
	}{
		{"member", &telegramfake.Member{User: li}, teamChat.ID, 0,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipIn}, ""},
		{"administrator", &telegramfake.Member{User: li, Status: "administrator"}, teamChat.ID, 0,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipIn}, ""},
		{"restricted but in the chat", &telegramfake.Member{User: li, Status: "restricted", IsMember: true}, teamChat.ID, 0,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipIn}, ""},
		{"restricted and gone", &telegramfake.Member{User: li, Status: "restricted"}, teamChat.ID, 0,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipLeft}, ""},
		{"left", &telegramfake.Member{User: li, Status: "left"}, teamChat.ID, 0,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipLeft}, ""},
		{"kicked", &telegramfake.Member{User: li, Status: "kicked"}, teamChat.ID, 0,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipLeft}, ""},
		{"a server error is retried", &telegramfake.Member{User: li}, teamChat.ID, 1,
			refund.AgentProfile{FirstName: "李娜", Username: "Li_Na", Membership: refund.MembershipIn}, ""},
		{"unknown user", nil, teamChat.ID, 0, refund.AgentProfile{}, "Bad Request: user not found"},
		{"unknown chat", &telegramfake.Member{User: li}, -100999, 0, refund.AgentProfile{}, "Bad Request: chat not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, s := startSender(t)
			if tt.member != nil {
				srv.SetMember(teamChat.ID, *tt.member)
			}
			srv.FailNext("getChatMember", tt.fail, 502, 0)
			got, err := s.ChatMember(context.Background(), tt.chat, li.ID)
			if tt.wantErr != "" {
				var tgErr *tgbotapi.Error
				if !errors.As(err, &tgErr) || tgErr.Message != tt.wantErr || Transient(err) {
					t.Errorf("err = %v, want a permanent %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.At.IsZero() {
				t.Error("profile without a time")
			}
			got.At = tt.want.At
			if got != tt.want {
				t.Errorf("profile = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestChatMemberChangesMidTest(t *testing.T) {
	srv, s := startSender(t)
	srv.SetMember(teamChat.ID, telegramfake.Member{User: telegramfake.User{ID: 1002, FirstName: "周杰", Username: "zhoujie"}})
	srv.SetMember(teamChat.ID, telegramfake.Member{User: telegramfake.User{ID: 1002, FirstName: "周杰", Username: "zhou_new"},
		Status: "left"})
	got, err := s.ChatMember(context.Background(), teamChat.ID, 1002)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "zhou_new" || got.Membership != refund.MembershipLeft {
		t.Errorf("profile after the change = %+v", got)
	}
}
