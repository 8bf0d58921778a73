package shopwebhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/outbox"
	"github.com/refundbot/refundbot/refund/shopwebhook"
)

var secret = []byte("shop-shared-secret")

var now = time.Date(2026, 11, 20, 6, 5, 0, 0, time.UTC)

// payload is deliberately not in encoding/json's canonical form (spacing,
// escapes, a trailing newline) so that any re-encoding shows.
const payload = "{\"payout_id\": \"P000123-1\",\"case\":\"R-000123\",\"amount\":\"95.00\",\"note\":\"\\u738b <b>&</b>\"}\n"

func payoutItem() refund.OutboxItem {
	return refund.OutboxItem{ID: 7, Attempts: 1, OutboxMessage: refund.OutboxMessage{
		Kind: refund.OutboxPayout, Key: "P000123-1", Payload: []byte(payload)}}
}

// shop is a test webhook receiver that records what it received and
// answers with the status it is told.
type shop struct {
	mu       sync.Mutex
	requests []received
	status   int
	answer   string
}

type received struct {
	method, path string
	header       http.Header
	body         []byte
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, received{r.Method, r.URL.Path, r.Header.Clone(), body})
	status, answer := s.status, s.answer
	s.mu.Unlock()
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func (s *shop) last(t *testing.T) received {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		t.Fatal("the shop received no request")
	}
	return s.requests[len(s.requests)-1]
}

func (s *shop) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func newWebhook(t *testing.T, url string) *shopwebhook.Webhook {
	t.Helper()
	w, err := shopwebhook.New(shopwebhook.Config{URL: url, Secret: secret, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// The webhook must fit the outbox worker as is.
var _ outbox.Deliver = (*shopwebhook.Webhook)(nil).Deliver

func TestDeliverSendsSignedPayout(t *testing.T) {
	s := &shop{status: http.StatusOK}
	srv := httptest.NewServer(s)
	defer srv.Close()

	if err := newWebhook(t, srv.URL+"/refundbot/payouts").Deliver(t.Context(), payoutItem()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	got := s.last(t)
	if got.method != http.MethodPost || got.path != "/refundbot/payouts" {
		t.Errorf("request = %s %s, want POST /refundbot/payouts", got.method, got.path)
	}
	if string(got.body) != payload {
		t.Errorf("body = %q, want the payload byte for byte: %q", got.body, payload)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	for name, want := range map[string]string{
		"Content-Type":          "application/json",
		"Idempotency-Key":       "P000123-1",
		"X-Refundbot-Timestamp": ts,
	} {
		if v := got.header.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
	// Computed here independently of Sign, the way a shop would.
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + payload))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	sig := got.header.Get("X-Refundbot-Signature")
	if sig != want {
		t.Errorf("signature = %q, want %q", sig, want)
	}
	if !shopwebhook.Verify(secret, got.header.Get("X-Refundbot-Timestamp"), got.body, sig) {
		t.Error("Verify refuses the request's own signature")
	}
}

func TestVerify(t *testing.T) {
	const ts = "1795500300"
	body := []byte(payload)
	good := shopwebhook.Sign(secret, ts, body)
	tests := []struct {
		name      string
		secret    []byte
		ts        string
		body      []byte
		signature string
		want      bool
	}{
		{"genuine", secret, ts, body, good, true},
		{"other secret", []byte("guess"), ts, body, good, false},
		{"other timestamp", secret, "1795500301", body, good, false},
		{"body changed", secret, ts, []byte(strings.Replace(payload, "95.00", "950.00", 1)), good, false},
		{"timestamp moved into the body", secret, "", []byte(ts + "." + payload), good, false},
		{"no prefix", secret, ts, body, strings.TrimPrefix(good, "sha256="), false},
		{"upper-case hex", secret, ts, body, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), false},
		{"truncated", secret, ts, body, good[:len(good)-1], false},
		{"empty", secret, ts, body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shopwebhook.Verify(tt.secret, tt.ts, tt.body, tt.signature); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeliverStatusMapping(t *testing.T) {
	tests := []struct {
		status    int
		delivered bool
		wantText  string // in the error when not delivered
	}{
		{200, true, ""},
		{201, true, ""},
		{202, true, ""},
		{204, true, ""},
		{409, true, ""},
		{408, false, "unavailable"},
		{429, false, "unavailable"},
		{500, false, "unavailable"},
		{502, false, "unavailable"},
		{503, false, "unavailable"},
		{400, false, "refused the payout"},
		{401, false, "refused the payout"},
		{404, false, "refused the payout"},
		{422, false, "refused the payout"},
		{302, false, "redirected"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			s := &shop{status: tt.status, answer: "<h1>payout\n   rejected</h1>\r\n"}
			mux := http.NewServeMux()
			mux.Handle("/hook", s)
			var followed atomic.Bool
			mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed.Store(true) })
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status/100 == 3 && r.URL.Path == "/hook" {
					w.Header().Set("Location", "/elsewhere")
				}
				mux.ServeHTTP(w, r)
			}))
			defer srv.Close()

			err := newWebhook(t, srv.URL+"/hook").Deliver(t.Context(), payoutItem())
			if tt.delivered {
				if err != nil {
					t.Fatalf("Deliver = %v, want delivered", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Deliver = nil, want an error so that the outbox retries")
			}
			if outbox.IsPermanent(err) {
				t.Errorf("Deliver error %v is permanent; a payout must never be dropped", err)
			}
			var se *shopwebhook.StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status || se.PayoutID != "P000123-1" {
				t.Errorf("error %#v, want a StatusError for %d and P000123-1", err, tt.status)
			}
			msg := err.Error()
			for _, want := range []string{tt.wantText, "HTTP " + strconv.Itoa(tt.status), "P000123-1", `payout rejected`} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if followed.Load() {
				t.Error("the redirect was followed")
			}
		})
	}
}

func TestDeliverQuotesLittleOfAHugeAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, strings.Repeat("王", 1<<20))
	}))
	defer srv.Close()
	err := newWebhook(t, srv.URL).Deliver(t.Context(), payoutItem())
	if err == nil {
		t.Fatal("Deliver = nil, want an error")
	}
	if n := len(err.Error()); n > 1024 {
		t.Errorf("error text is %d bytes, want it bounded", n)
	}
	if !strings.HasSuffix(err.Error(), "王…") {
		t.Errorf("error text is not cut on a rune: ...%q", err.Error()[len(err.Error())-12:])
	}
}

func TestDeliverNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := newWebhook(t, url).Deliver(t.Context(), payoutItem())
	if err == nil || !strings.Contains(err.Error(), "P000123-1") {
		t.Errorf("Deliver to a closed server = %v, want an error naming the payout", err)
	}
	var se *shopwebhook.StatusError
	if errors.As(err, &se) {
		t.Errorf("network error reported as status %d", se.StatusCode)
	}
}

func TestDeliverHonoursContext(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client hanging up only once the body is
		// read; release ends the handler whatever happens.
		io.ReadAll(r.Body)
		close(arrived)
		select { // a shop that never answers
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	done := make(chan error, 1)
	go func() { done <- newWebhook(t, srv.URL).Deliver(ctx, payoutItem()) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Deliver = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver ignored the cancelled context")
	}
}

func TestDeliverRefusesOtherKinds(t *testing.T) {
	s := &shop{status: http.StatusOK}
	srv := httptest.NewServer(s)
	defer srv.Close()
	item := payoutItem()
	item.Kind = refund.OutboxNotice
	if err := newWebhook(t, srv.URL).Deliver(t.Context(), item); err == nil {
		t.Error("Deliver of a notice item = nil, want an error")
	}
	if n := s.count(); n != 0 {
		t.Errorf("the shop received %d requests, want none", n)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     shopwebhook.Config
		wantErr bool
	}{
		{"https", shopwebhook.Config{URL: "https://shop.example/hook", Secret: secret}, false},
		{"http with port", shopwebhook.Config{URL: "http://127.0.0.1:8080/hook", Secret: secret}, false},
		{"empty URL", shopwebhook.Config{Secret: secret}, true},
		{"relative URL", shopwebhook.Config{URL: "/hook", Secret: secret}, true},
		{"other scheme", shopwebhook.Config{URL: "ftp://shop.example/hook", Secret: secret}, true},
		{"unparsable URL", shopwebhook.Config{URL: "http://shop.example/%zz", Secret: secret}, true},
		{"no secret", shopwebhook.Config{URL: "https://shop.example/hook"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shopwebhook.New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("New error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestCallersClient(t *testing.T) {
	srv := httptest.NewTLSServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer srv.Close()
	client := srv.Client() // trusts the test certificate
	w, err := shopwebhook.New(shopwebhook.Config{URL: srv.URL, Secret: secret, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	var se *shopwebhook.StatusError
	if err := w.Deliver(t.Context(), payoutItem()); !errors.As(err, &se) || se.StatusCode != http.StatusFound {
		t.Errorf("Deliver over the caller's client = %v, want the 302 unfollowed", err)
	}
	if client.CheckRedirect != nil {
		t.Error("New changed the caller's client")
	}
}
