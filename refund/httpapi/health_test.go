package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
)

func TestReadyz(t *testing.T) {
	// The driver's message holds a host name, which must stay in the logs.
	pgDown := errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
	redisDown := errors.New("dial tcp 10.0.0.6:6379: i/o timeout")
	tests := []struct {
		name     string
		ready    func(ctx context.Context) error
		apiOff   bool
		noAuth   bool
		status   int
		wantMsg  []string // substrings of the error message
		wantLogs string
	}{
		{name: "no check configured", status: 200},
		{name: "every dependency answers", ready: func(context.Context) error {
			return errors.Join(httpapi.CheckDependency("redis", nil), httpapi.CheckDependency("postgres", nil))
		}, status: 200},
		{name: "without a token and with the API off", apiOff: true, noAuth: true,
			ready: func(context.Context) error { return nil }, status: 200},
		{name: "postgres down", ready: func(context.Context) error {
			return errors.Join(httpapi.CheckDependency("redis", nil), httpapi.CheckDependency("postgres", pgDown))
		}, status: 503, wantMsg: []string{"postgres failed its check"}, wantLogs: "connection refused"},
		{name: "both down", ready: func(context.Context) error {
			return errors.Join(httpapi.CheckDependency("redis", redisDown), httpapi.CheckDependency("postgres", pgDown))
		}, status: 503, wantMsg: []string{"redis, postgres failed their checks"}},
		{name: "named dependency wrapped again", ready: func(context.Context) error {
			return fmt.Errorf("readiness: %w", httpapi.CheckDependency("postgres", pgDown))
		}, status: 503, wantMsg: []string{"postgres failed its check"}},
		{name: "unnamed failure", ready: func(context.Context) error { return pgDown },
			status: 503, wantMsg: []string{"a dependency check failed"}, wantLogs: "connection refused"},
		{name: "a check that hangs is cut short", ready: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}, status: 503, wantMsg: []string{"took over"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := newTestAPI(t, func(cfg *httpapi.Config) {
				cfg.Ready = tt.ready
				if tt.apiOff {
					cfg.Token, cfg.Orders = "", nil
				}
			})
			req := request{method: http.MethodGet, path: "/readyz"}
			if tt.noAuth {
				req.header = map[string]string{"Authorization": ""}
			}
			start := time.Now()
			w := api.do(t, req)
			if time.Since(start) > 10*time.Second {
				t.Errorf("readyz took %v", time.Since(start))
			}
			if tt.status == 200 {
				if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ready"}` {
					t.Errorf("got %d %s, want 200 {\"status\":\"ready\"}", w.Code, w.Body)
				}
				return
			}
			got := checkError(t, w, tt.status, refund.EINTERNAL, "")
			for _, want := range tt.wantMsg {
				if !strings.Contains(got.Error.Message, want) {
					t.Errorf("message %q lacks %q", got.Error.Message, want)
				}
			}
			if strings.Contains(w.Body.String(), "10.0.0.") {
				t.Errorf("answer leaks the driver's message: %s", w.Body)
			}
			if tt.wantLogs != "" && !strings.Contains(api.logs.String(), tt.wantLogs) {
				t.Errorf("logs lack %q:\n%s", tt.wantLogs, api.logs)
			}
		})
	}
}

// TestHealthzNeverConsultsReady: liveness must not depend on the
// dependencies, or an orchestrator restarts a healthy bot during a
// database outage.
func TestHealthzNeverConsultsReady(t *testing.T) {
	var calls atomic.Int32
	api := newTestAPI(t, func(cfg *httpapi.Config) {
		cfg.Ready = func(context.Context) error { calls.Add(1); return errors.New("down") }
	})
	w := api.do(t, request{method: http.MethodGet, path: "/healthz", header: map[string]string{"Authorization": ""}})
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s, want 200 {\"status\":\"ok\"}", w.Code, w.Body)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("healthz called Ready %d times, want never", n)
	}
	if w := api.do(t, request{method: http.MethodGet, path: "/readyz"}); w.Code != 503 || calls.Load() != 1 {
		t.Errorf("readyz = %d after %d Ready calls, want 503 after one", w.Code, calls.Load())
	}
}

func TestCheckDependencyKeepsNil(t *testing.T) {
	if err := httpapi.CheckDependency("postgres", nil); err != nil {
		t.Errorf("CheckDependency(nil) = %v, want nil", err)
	}
	inner := errors.New("boom")
	err := httpapi.CheckDependency("postgres", inner)
	if !errors.Is(err, inner) || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("CheckDependency = %v, want it to name postgres and wrap the error", err)
	}
}

// TestReadyzLeavesTelegramToItsOwnProbe: with the Telegram Bot API
// unreachable, /readyz (the shop API's probe, which needs only the stores)
// stays 200 and /readyz/telegram (the webhook's) answers 503 naming it;
// with a store down both are 503.
func TestReadyzLeavesTelegramToItsOwnProbe(t *testing.T) {
	tgDown := httpapi.CheckDependency("telegram", errors.New("getMe: connection refused"))
	pgDown := httpapi.CheckDependency("postgres", errors.New("connection refused"))
	tests := []struct {
		name             string
		stores, telegram error
		readyz, tgReadyz int
		tgMsg            string
	}{
		{"all up", nil, nil, 200, 200, ""},
		{"telegram down", nil, tgDown, 200, 503, "telegram failed its check"},
		{"postgres down", pgDown, nil, 503, 503, "postgres failed its check"},
		{"both down", pgDown, tgDown, 503, 503, "postgres, telegram failed their checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var telegramCalls atomic.Int32
			api := newTestAPI(t, func(cfg *httpapi.Config) {
				cfg.Ready = func(context.Context) error { return tt.stores }
				cfg.TelegramReady = func(context.Context) error { telegramCalls.Add(1); return tt.telegram }
			})
			if w := api.do(t, request{method: http.MethodGet, path: "/readyz"}); w.Code != tt.readyz {
				t.Errorf("/readyz = %d %s, want %d", w.Code, w.Body, tt.readyz)
			}
			if n := telegramCalls.Load(); n != 0 {
				t.Errorf("/readyz checked Telegram %d times, want never", n)
			}
			w := api.do(t, request{method: http.MethodGet, path: "/readyz/telegram"})
			if tt.tgReadyz == 200 {
				if w.Code != 200 {
					t.Errorf("/readyz/telegram = %d %s, want 200", w.Code, w.Body)
				}
				return
			}
			if got := checkError(t, w, tt.tgReadyz, refund.EINTERNAL, ""); !strings.Contains(got.Error.Message, tt.tgMsg) {
				t.Errorf("/readyz/telegram message %q lacks %q", got.Error.Message, tt.tgMsg)
			}
		})
	}
	t.Run("without a Telegram check it is /readyz", func(t *testing.T) {
		api := newTestAPI(t, func(cfg *httpapi.Config) { cfg.Ready = func(context.Context) error { return pgDown } })
		if w := api.do(t, request{method: http.MethodGet, path: "/readyz/telegram"}); w.Code != http.StatusServiceUnavailable {
			t.Errorf("/readyz/telegram without TelegramReady, postgres down = %d, want 503", w.Code)
		}
	})
}
