package buyer

import (
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/flows"
)

// TestRatingComment: after a rating the dialog waits briefly for one
// comment; only plain words within the window are one, everything else
// ends the wait and is handled as usual, and a buyer in the middle of a
// request is not asked at all.
func TestRatingComment(t *testing.T) {
	tests := []struct {
		name string
		// before brings the chat to where the rating is pressed.
		before string
		// then is what the buyer does after the ask: a text, "skip", or
		// "late:" and a text sent past the window.
		then         string
		wantAsked    bool
		wantComments []string
		wantState    State
		wantReply    string
	}{
		{"plain words are the comment", "", "客服很耐心", true, []string{"客服很耐心"}, StateIdle, "已收到您的意见"},
		{"words that tell of a scam are kept too (and flagged)", "", "客服让我加QQ交保证金", true,
			[]string{"客服让我加QQ交保证金"}, StateIdle, "防骗"},
		{"skip ends it", "", "skip", true, nil, StateIdle, ""},
		{"a command is handled, not kept", "", "/help", true, nil, StateIdle, "/refund"},
		{"a call for a person is not a comment", "", "转人工", true, nil, StateIdle, ""},
		{"too long is refused and the step waits", "", strings.Repeat("长", 501), true, nil, StateRatingComment, "最多 500 字"},
		{"past the window the words are the dialog's", "", "late:随便说说", true, nil, StateIdle, "我可以帮您申请退款或查询进度"},
		{"a buyer in the middle of a request is not asked", "我要退款", "", false, nil, StateAwaitingOrder, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newDialogEnv(t)
			chat := int64(5000 + i)
			if tt.before != "" {
				e.say(chat, "zh-hans", tt.before)
			}
			r := e.handle(chat, flows.Input{ChatID: chat, Chat: flows.ChatPrivate, UserID: testBuyer, LanguageCode: "zh-hans",
				Callback: &flows.Callback{ID: "cb", Data: "r:7:4", MessageID: 1}, At: time.Now()})
			asked := strings.Contains(r.text(), "想补充几句吗")
			if asked != tt.wantAsked {
				t.Fatalf("asked for a comment: %v (%q), want %v", asked, r.text(), tt.wantAsked)
			}
			if asked && r.state != StateRatingComment {
				t.Fatalf("state after the ask %s, want %s", r.state, StateRatingComment)
			}
			switch {
			case tt.then == "skip":
				r = e.press(chat, "zh-hans", r.replies[len(r.replies)-1], "跳过")
				if !strings.Contains(r.answer, "感谢您的评价") {
					t.Errorf("skip answered %q", r.answer)
				}
			case strings.HasPrefix(tt.then, "late:"):
				e.dialog.cfg.Now = func() time.Time { return time.Now().Add(commentWindow + time.Minute) }
				r = e.say(chat, "zh-hans", strings.TrimPrefix(tt.then, "late:"))
			case tt.then != "":
				r = e.say(chat, "zh-hans", tt.then)
			}
			if strings.Join(r.comments, "|") != strings.Join(tt.wantComments, "|") {
				t.Errorf("comments %q, want %q", r.comments, tt.wantComments)
			}
			if r.state != tt.wantState {
				t.Errorf("state %s, want %s", r.state, tt.wantState)
			}
			if tt.wantReply != "" && !strings.Contains(r.text(), tt.wantReply) {
				t.Errorf("replies %q, want one with %q", r.text(), tt.wantReply)
			}
		})
	}
}
