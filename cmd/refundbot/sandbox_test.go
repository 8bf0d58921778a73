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
