package sandbox

import (
	"strings"
	"testing"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

func newTestTerminal(t *testing.T) (*Terminal, *strings.Builder) {
	t.Helper()
	srv, err := telegramfake.Start("sandbox:test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	out := &strings.Builder{}
	return &Terminal{Server: srv, Out: out}, out
}

func keyboard(labels ...string) [][]telegramfake.Button {
	row := make([]telegramfake.Button, 0, len(labels))
	for _, l := range labels {
		row = append(row, telegramfake.Button{Text: l, CallbackData: "x:" + l})
	}
	return [][]telegramfake.Button{row}
}

// TestSandboxButtonsNumberedOnWithinAnAnswer: an answer of two keyboards
// (a decision's route choice, then the rating request) numbers the second
// on from the first, so both can be pressed; buttons the bot took off keep
// their numbers; the next answer starts at 1 again.
func TestSandboxButtonsNumberedOnWithinAnAnswer(t *testing.T) {
	term, out := newTestTerminal(t)
	term.Show(telegramfake.SentMessage{MessageID: 10, ChatID: BuyerID, Text: "请选择退款方式", Keyboard: keyboard("原路", "余额")})
	term.Show(telegramfake.SentMessage{MessageID: 11, ChatID: BuyerID, Text: "请打分", Keyboard: keyboard("1⭐", "5⭐")})
	for _, want := range []string{"🤖 [buyer] 请选择退款方式", "[1] 原路", "[2] 余额", "[3] 1⭐", "[4] 5⭐"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), "to press these") {
		t.Errorf("the buyer's own buttons got a hint to switch roles:\n%s", out)
	}
	term.Show(telegramfake.SentMessage{MessageID: 10, ChatID: BuyerID, Text: "请选择退款方式", Edits: 1})
	if _, err := term.typed("1"); err == nil || !strings.Contains(err.Error(), "button 1 is gone") {
		t.Errorf("pressing a button taken off: %v", err)
	}
	if pressed, err := term.typed("4"); err != nil || !pressed {
		t.Errorf("pressing 5⭐: pressed %v, %v", pressed, err)
	}
	if n := term.Server.Pending(); n != 1 {
		t.Errorf("%d updates queued, want the one press", n)
	}
	term.answeredAll()
	term.Show(telegramfake.SentMessage{MessageID: 12, ChatID: BuyerID, Text: "感谢", Keyboard: keyboard("查询进度")})
	if !strings.Contains(out.String(), "[1] 查询进度") {
		t.Errorf("the next answer's buttons do not start at 1:\n%s", out)
	}
}

// TestSandboxAgentRepliesToTheLatestCaseMessage: the agent's lines answer
// the latest case card (or message under it) in the team chat and the
// latest relayed "#N" message in the private chat, not the queue board
// or a decision note; the buyer's lines answer nothing.
func TestSandboxAgentRepliesToTheLatestCaseMessage(t *testing.T) {
	term, out := newTestTerminal(t)
	term.Show(telegramfake.SentMessage{MessageID: 20, ChatID: TeamChatID, Text: "🆕 #1 人工审核 · id 1001\n申请 R-000001",
		Keyboard: keyboard("接手")})
	term.Show(telegramfake.SentMessage{MessageID: 21, ChatID: TeamChatID, Text: "📋 客服队列：排队 1"})
	term.Show(telegramfake.SentMessage{MessageID: 22, ChatID: AgentID, Text: "#1 R-000001 👤 沙盒买家：\n卡号 1234"})
	term.Show(telegramfake.SentMessage{MessageID: 23, ChatID: AgentID, Text: "R-000001 → 已通过审核"})
	if !strings.Contains(out.String(), "[1] 接手\n   (:agent to press these)") {
		t.Errorf("the card's buttons do not say how to press them:\n%s", out)
	}
	for _, tt := range []struct {
		role      string
		line      string
		wantEcho  string
		wantReply string
	}{
		{":buyer", "你好", "👤 [buyer] 你好\n", ""},
		{":agent", "/take", "🧑‍💼 [team chat] /take", "↩ 🆕 #1 人工审核 · id 1001 …"},
		{":agent private", "马上处理", "🧑‍💼 [agent private] 马上处理", "↩ #1 R-000001 👤 沙盒买家： …"},
	} {
		if !term.local(tt.role) {
			t.Fatalf("%s is no role switch", tt.role)
		}
		before := out.Len()
		if _, err := term.typed(tt.line); err != nil {
			t.Fatalf("%s %s: %v", tt.role, tt.line, err)
		}
		echo := out.String()[before:]
		if !strings.Contains(echo, tt.wantEcho) || !strings.Contains(echo, tt.wantReply) || (tt.wantReply == "" && strings.Contains(echo, "↩")) {
			t.Errorf("%s typing %q echoed %q, want %q replying %q", tt.role, tt.line, echo, tt.wantEcho, tt.wantReply)
		}
	}
	if !term.local(":agent privat") || !strings.Contains(out.String(), "no sandbox command :agent privat") {
		t.Errorf("a mistyped role was not caught:\n%s", out)
	}
}
