package main

import (
	"context"
	"io"
	"log/slog"
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
