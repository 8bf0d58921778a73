package sandbox

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund/shopwebhook"
)

func TestShopConfirmsSignedPayouts(t *testing.T) {
	confirmed := make(chan string, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		confirmed <- r.URL.Path
		w.WriteHeader(http.StatusOK)
	}))
	defer api.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shop := &Shop{Secret: []byte("s3cret"), Token: "tok", API: func() string { return strings.TrimPrefix(api.URL, "http://") },
		Delay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	url, err := shop.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()

	post := func(secret string) int {
		body := []byte(`{"payout_id":"P000001-1","case":"R-000001","amount":"95.00"}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("X-Refundbot-Timestamp", ts)
		req.Header.Set("X-Refundbot-Signature", shopwebhook.Sign([]byte(secret), ts, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Fatalf("forged webhook: status %d", code)
	}
	if code := post("s3cret"); code != http.StatusAccepted {
		t.Fatalf("signed webhook: status %d", code)
	}
	select {
	case path := <-confirmed:
		if path != "/api/v1/payouts/P000001-1/confirm" {
			t.Fatalf("confirmed %s", path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the shop never confirmed the payout")
	}
	select {
	case path := <-confirmed:
		t.Fatalf("a forged webhook was confirmed too: %s", path)
	case <-time.After(50 * time.Millisecond):
	}
	// :shop lists them; the confirmation is recorded once the API took it.
	deadline := time.Now().Add(5 * time.Second)
	var kinds []string
	for time.Now().Before(deadline) {
		kinds = kinds[:0]
		for _, ev := range shop.Events() {
			kinds = append(kinds, ev.Kind)
		}
		if len(kinds) == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := strings.Join(kinds, ","); got != "refused,payout,confirmed" {
		t.Fatalf("shop events = %s, want refused,payout,confirmed", got)
	}
	if line := shop.Events()[1].Format(nil); !strings.Contains(line, "payout    R-000001  95.00") {
		t.Errorf("payout shown as %q", line)
	}
}
