package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSandboxConversation runs the sandbox as `go run ./cmd/refundbot`
// does, with a scripted buyer on its terminal, and reads the transcript.
func TestSandboxConversation(t *testing.T) {
	t.Parallel()
	shot := filepath.Join(t.TempDir(), "redeem.png")
	if err := os.WriteFile(shot, []byte("\x89PNG\r\n\x1a\nscreenshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := strings.Join([]string{
		"/start",
		"我要退款 订单号KM20261120001 卡密无效",
		"1",  // use the draft statement
		shot, // the screenshot
		"1",  // done uploading
		"1",  // submit
		"2",  // the approval notice: refund to the platform balance
		"R-000001",
		"/refund KM20261120003", // unbound: needs the phone digits
		"5678",
		"/quit",
	}, "\n") + "\n"
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"HTTP_ADDR": "127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Sandbox() {
		t.Fatal("no token should mean sandbox mode")
	}
	pr, pw := io.Pipe()
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler), Stdin: strings.NewReader(script), Stdout: pw}
	transcript := make(chan string)
	go func() {
		b, _ := io.ReadAll(pr)
		transcript <- string(b)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runErr := m.Run(ctx)
	pw.Close()
	out := <-transcript
	if runErr != nil {
		t.Fatalf("sandbox: %v\n%s", runErr, out)
	}
	for _, want := range []string{
		"KM20261120001", "防骗提醒", "已根据您的描述选择退款原因：卡密无效/已被使用",
		"[1] ✅ 使用这段陈述", "已收到 1/10 个文件", "请核对您的退款申请",
		"退款申请已提交，单号 R-000001", "已通过审核，可退 ¥95.00", "¥95.00 已退到您的平台余额",
		"当前状态：已退款", "处理记录：", "请选择退款原因",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?i)error|panic|goroutine`).MatchString(out) {
		t.Errorf("transcript shows an error:\n%s", out)
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", out)
	}
}

// TestSandboxTerminalHintsAndBusyPort: a path that does not exist, a
// directory and a button number out of range get a hint, not a message to
// the bot; a busy HTTP_ADDR moves the sandbox to a free port, printed.
func TestSandboxTerminalHintsAndBusyPort(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	missing := filepath.Join(t.TempDir(), "nope.png")
	script := strings.Join([]string{
		"/start",
		missing,
		"/tmp",
		"9",
		"/quit",
	}, "\n") + "\n"
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"HTTP_ADDR": taken.Addr().String()}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler), Stdin: strings.NewReader(script), Stdout: pw}
	transcript := make(chan string)
	go func() {
		b, _ := io.ReadAll(pr)
		transcript <- string(b)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runErr := m.Run(ctx)
	pw.Close()
	out := <-transcript
	if runErr != nil {
		t.Fatalf("sandbox with HTTP_ADDR busy: %v\n%s", runErr, out)
	}
	for _, want := range []string{
		"HTTP_ADDR " + taken.Addr().String() + " is in use; the shop API listens on 127.0.0.1:",
		"no such file: " + missing, "/tmp is a directory", "no button 9: the latest message has buttons 1-2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out, "不认识命令") {
		t.Errorf("a path went to the bot as a command:\n%s", out)
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", out)
	}
}

// TestSandboxLogsAreJSON: the sandbox keeps its logs to errors, in the
// JSON lines the README promises for every mode.
func TestSandboxLogsAreJSON(t *testing.T) {
	var b strings.Builder
	l := sandboxLogger(&b)
	l.Info("not shown")
	l.Error("shown", "chat_id", 1)
	var line map[string]any
	if err := json.Unmarshal([]byte(b.String()), &line); err != nil || line["msg"] != "shown" || line["chat_id"] != 1.0 {
		t.Fatalf("sandbox log = %q (%v), want one JSON line of the error", b.String(), err)
	}
}

// TestSandboxDeskRoles is the sandbox's desk as a person uses it: the
// buyer's refund goes to a person, and the buyer asks for one; as the
// agent (:agent) the person takes the case from its card in the team chat,
// reads the buyer in the agent's private chat (:agent private), answers
// and approves there; the buyer (:buyer) reads the reply and the decision
// and picks the original route; :shop shows the payout the shop's
// webhook received and its confirmation. Every line waits for what a
// person would wait to see, so the shop's two seconds are waited out too.
func TestSandboxDeskRoles(t *testing.T) {
	t.Parallel()
	s := startSandboxSession(t)
	s.expect("[agent private] 您好，张三（K017）")
	s.say("我要退款 订单号KM20261120005 卡密无效", "[buyer] 请确认退款陈述")
	s.say("1", "请上传凭证")
	s.say(":photo", "已收到 1/10")
	s.say("1", "请核对您的退款申请")
	s.say("1", "已转人工审核", "[team chat] 🆕 #1 人工审核", "金额超过自动审核额度", "(:agent to press these)")
	s.say("有人吗？转人工", "[buyer] 已为您转接人工客服，您前面还有 0 位")

	s.say(":agent", "you are the agent 张三, in the team chat")
	s.say("1", "[team chat] #1 由 张三（K017）接手", "[buyer] 客服 张三（工号 K017）已接入",
		"[agent private] #1 R-000001 由您接手", "[team chat] (popup) 已接手")

	s.say(":buyer", "you are the buyer")
	s.say("卡号 1234-5678，充值提示已被使用", "[agent private] #1 R-000001 👤 沙盒买家")

	s.say(":agent private", "in their private chat")
	s.say("已核实，马上为您处理", "↩ #1 R-000001", "[buyer] 👩‍💼 客服 张三（K017）：已核实，马上为您处理")
	s.say("/approve", "[buyer] 【", "已通过审核，可退 ¥300.00", "[agent private] R-000001 → 已通过审核（张三 K017）",
		"[team chat] R-000001 → 已通过审核（张三 K017）", "请为客服 张三 的服务打分")

	// The route choice (a notice of the decision) and the rating request
	// (the end of the talk) come in either order; the buttons of both are
	// numbered on from each other, so either can be pressed.
	s.say(":buyer", "you are the buyer")
	s.say(s.button("原路退回支付宝"), "[buyer] 【", "¥300.00 将在 1-2 个工作日内原路退回支付宝")
	s.say(s.button("5⭐"), "感谢您的评价（5 分）", "想补充几句吗")
	s.say("客服很快，谢谢", "已收到您的意见")
	s.expect("¥300.00 已原路退回支付宝") // the pretend shop confirmed the payout
	// The shop logs its confirmation once the bot answered it, which may
	// be just after the buyer's notice: look again until it is there.
	for i := 0; ; i++ {
		s.say(":shop", "payout    R-000001  300.00 CNY  alipay  order KM20261120005")
		if s.shows("confirmed R-000001  payout P000001-1") {
			break
		}
		if i == 50 {
			s.t.Fatal("the shop's confirmation never showed in :shop")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := s.quit()
	if regexp.MustCompile(`(?i)error|panic|goroutine`).MatchString(out) {
		t.Errorf("transcript shows an error:\n%s", out)
	}
}

// sandboxSession is the sandbox with a person at its terminal, typing a
// line only once they have seen what they wait for.
type sandboxSession struct {
	t    *testing.T
	in   *io.PipeWriter
	done chan error

	mu   sync.Mutex
	out  strings.Builder
	seen int // how much of out the person has read
}

func startSandboxSession(t *testing.T) *sandboxSession {
	t.Helper()
	cfg, err := ConfigFromEnv(func(k string) string {
		return map[string]string{"HTTP_ADDR": "127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	s := &sandboxSession{t: t, in: pw, done: make(chan error, 1)}
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler), Stdin: pr, Stdout: s}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	go func() { s.done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		<-s.done
	})
	return s
}

// Write takes the terminal's output; the bot's messages and the typed
// lines' echoes come from different goroutines.
func (s *sandboxSession) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// say types line and waits until the terminal shows each of wants after
// it.
func (s *sandboxSession) say(line string, wants ...string) {
	s.t.Helper()
	s.mu.Lock()
	s.seen = s.out.Len()
	s.mu.Unlock()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatalf("type %q: %v", line, err)
	}
	s.expect(wants...)
}

// expect waits until the terminal shows each of wants since the last
// line typed.
func (s *sandboxSession) expect(wants ...string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		out := s.out.String()
		since := out[s.seen:]
		s.mu.Unlock()
		var missing []string
		for _, w := range wants {
			if !strings.Contains(since, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the terminal never showed %q; transcript:\n%s", missing, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shows reports whether the terminal showed want since the last line
// typed.
func (s *sandboxSession) shows(want string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Contains(s.out.String()[s.seen:], want)
}

// button is the number the terminal last gave the button labelled label.
func (s *sandboxSession) button(label string) string {
	s.t.Helper()
	s.mu.Lock()
	out := s.out.String()
	s.mu.Unlock()
	m := regexp.MustCompile(`\[([0-9]+)\] `+regexp.QuoteMeta(label)).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		s.t.Fatalf("no button %q shown; transcript:\n%s", label, out)
	}
	return m[len(m)-1][1]
}

// quit leaves the sandbox and returns the whole transcript.
func (s *sandboxSession) quit() string {
	s.t.Helper()
	if _, err := io.WriteString(s.in, "/quit\n"); err != nil {
		s.t.Fatalf("type /quit: %v", err)
	}
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			s.t.Fatalf("sandbox: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("the sandbox did not stop at /quit")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}
