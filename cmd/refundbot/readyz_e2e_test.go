package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/bot/telegramfake"
)

// TestTelegramOutageKeepsTheShopAPIReady cuts the bot off from the (fake)
// Telegram Bot API. /readyz, the shop API's probe, needs only Redis and
// PostgreSQL and stays 200 throughout, so the load balancer keeps sending
// the shop's calls; /readyz/telegram, the webhook's, turns 503 once the
// last successful getMe is no longer trusted (10 s), and 200 again when
// Telegram is back.
func TestTelegramOutageKeepsTheShopAPIReady(t *testing.T) {
	vars := map[string]string{}
	var p *proxy
	e := newEnvSetup(t, vars, func(fake *telegramfake.Server) {
		// The endpoint is a format string (http://host:port/bot%s/%s), not
		// a URL: swap its host for a proxy's by hand.
		rest := strings.TrimPrefix(fake.Endpoint(), "http://")
		host, path, _ := strings.Cut(rest, "/")
		p = startProxy(t, host)
		vars["TELEGRAM_API_ENDPOINT"] = "http://" + p.Addr() + "/" + path
	})
	get := func(path string) int {
		resp, err := http.Get("http://" + e.httpAddr() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s, tg := get("/readyz"), get("/readyz/telegram"); s != 200 || tg != 200 {
		t.Fatalf("before the outage: /readyz %d, /readyz/telegram %d; want 200 and 200", s, tg)
	}
	p.Cut()
	deadline := time.Now().Add(30 * time.Second)
	for get("/readyz/telegram") != http.StatusServiceUnavailable {
		if code := get("/readyz"); code != 200 {
			t.Fatalf("/readyz = %d while only Telegram is down, want 200", code)
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz/telegram stayed 200 with Telegram unreachable")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if code := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d with Telegram unreachable (and /readyz/telegram 503), want 200", code)
	}
	p.Restore()
	e.within(waitFor, "/readyz/telegram to be 200 again", func() bool { return get("/readyz/telegram") == 200 })
}
