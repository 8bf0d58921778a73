package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
)

const testToken = "s3cret-shop-token"

// logBuffer collects log output; the handler may log from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testAPI struct {
	handler http.Handler
	store   *fakeOrders
	payouts *fakeSettler
	logs    *logBuffer
}

func newTestAPI(t *testing.T, edit func(cfg *httpapi.Config)) *testAPI {
	t.Helper()
	api := &testAPI{store: newFakeOrders(), payouts: newFakeSettler(samplePayout()), logs: &logBuffer{}}
	cfg := httpapi.Config{
		Orders:  api.store,
		Payouts: api.payouts,
		Token:   testToken,
		Logger:  slog.New(slog.NewTextHandler(api.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	api.handler = httpapi.NewHandler(cfg)
	t.Cleanup(func() {
		// Whatever a test did, the logs must never hold a phone number or
		// the token.
		logs := api.logs.String()
		for _, secret := range []string{"13800138000", testToken} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %q:\n%s", secret, logs)
			}
		}
	})
	return api
}

type request struct {
	method, path, body string
	header             map[string]string // a "" value removes the header
	bodyReader         io.Reader         // overrides body, for unknown lengths
}

func (api *testAPI) do(t *testing.T, req request) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader = strings.NewReader(req.body)
	if req.bodyReader != nil {
		body = req.bodyReader
	}
	r := httptest.NewRequest(req.method, req.path, body)
	if req.bodyReader != nil {
		r.ContentLength = -1
	}
	r.Header.Set("Authorization", "Bearer "+testToken)
	r.Header.Set("Content-Type", "application/json")
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	api.handler.ServeHTTP(w, r)
	return w
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"error"`
}

// checkError asserts a JSON error response and returns its body.
func checkError(t *testing.T, w *httptest.ResponseRecorder, status int, code, field string) errorBody {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var got errorBody
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("error body is not the JSON error shape: %v", err)
	}
	if got.Error.Code != code || got.Error.Field != field || got.Error.Message == "" {
		t.Errorf("error = %+v, want code %q field %q and a message", got.Error, code, field)
	}
	return got
}

func TestPutOrderCreatesThenUpdates(t *testing.T) {
	api := newTestAPI(t, nil)
	put := request{method: http.MethodPut, path: "/api/v1/orders/KM20261120001", body: orderJSON(nil)}

	for i, wantStatus := range []int{http.StatusCreated, http.StatusOK} {
		w := api.do(t, put)
		if w.Code != wantStatus {
			t.Fatalf("PUT #%d: status = %d, want %d; body %s", i+1, w.Code, wantStatus, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want JSON", ct)
		}
		want, err := httpapi.EncodeOrder(sampleOrder())
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.TrimSpace(w.Body.Bytes()); !bytes.Equal(got, want) {
			t.Errorf("PUT #%d body:\n got %s\nwant %s", i+1, got, want)
		}
	}
	if got := api.store.snapshot()["KM20261120001"]; got != sampleOrder() {
		t.Errorf("stored %+v, want %+v", got, sampleOrder())
	}
}

func TestPutOrderAccepts(t *testing.T) {
	tests := []struct {
		name string
		req  request
	}{
		{"charset in Content-Type", request{header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}},
		{"no Content-Type", request{header: map[string]string{"Content-Type": ""}}},
		{"lower-case bearer scheme", request{header: map[string]string{"Authorization": "bearer " + testToken}}},
		{"lower-case id in path", request{path: "/api/v1/orders/km20261120001"}},
		{"unknown body length", request{bodyReader: strings.NewReader(orderJSON(nil))}},
		{"null buyer and delivery", request{body: orderJSON(func(m map[string]string) {
			m["buyer_telegram_id"] = "null"
			m["delivered_at"] = "null"
		})}},
		{"usage and gift members", request{body: orderJSON(func(m map[string]string) {
			m["term_days"] = "30"
			m["activated_at"] = "null"
			m["gift_value"] = `"5.00"`
		})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, nil)
			req := tt.req
			req.method = http.MethodPut
			if req.path == "" {
				req.path = "/api/v1/orders/KM20261120001"
			}
			if req.body == "" {
				req.body = orderJSON(nil)
			}
			if w := api.do(t, req); w.Code != http.StatusCreated {
				t.Errorf("status = %d, want %d; body %s", w.Code, http.StatusCreated, w.Body)
			}
		})
	}
}

func TestPutOrderNullOptionalsAnswer(t *testing.T) {
	api := newTestAPI(t, nil)
	w := api.do(t, request{method: http.MethodPut, path: "/api/v1/orders/KM20261120001",
		body: orderJSON(func(m map[string]string) { delete(m, "buyer_telegram_id"); m["delivered_at"] = "null" })})
	if w.Code != http.StatusCreated {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"buyer_telegram_id", "delivered_at"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	o := api.store.snapshot()["KM20261120001"]
	if o.BuyerTelegramID != 0 || !o.DeliveredAt.IsZero() {
		t.Errorf("stored buyer %d, delivered %v; want unbound and undelivered", o.BuyerTelegramID, o.DeliveredAt)
	}
}

func TestPutOrderStoresUsageAndGift(t *testing.T) {
	api := newTestAPI(t, nil)
	body := orderJSON(func(m map[string]string) {
		m["category"] = `"topup"`
		m["consumed_value"] = `"20.00"`
		m["gift_value"] = `"5"`
		m["gift_returned"] = "true"
	})
	w := api.do(t, request{method: http.MethodPut, path: "/api/v1/orders/KM20261120001", body: body})
	if w.Code != http.StatusCreated {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	want := sampleOrder()
	want.Category = refund.CategoryTopup
	want.Usage.ConsumedValue, want.GiftValue, want.GiftReturned = 2000, 500, true
	if got := api.store.snapshot()["KM20261120001"]; got != want {
		t.Errorf("stored %+v, want %+v", got, want)
	}
	for _, member := range []string{`"consumed_value":"20.00"`, `"gift_value":"5.00"`, `"gift_returned":true`} {
		if !strings.Contains(w.Body.String(), member) {
			t.Errorf("answer %s lacks %s", w.Body, member)
		}
	}
}

func TestPutOrderRejects(t *testing.T) {
	set := func(k, v string) string { return orderJSON(func(m map[string]string) { m[k] = v }) }
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		field  string
	}{
		{"path and body ids differ", request{path: "/api/v1/orders/KM20261120002"}, 400, refund.EINVALID, "id"},
		{"bad category", request{body: set("category", `"toy"`)}, 400, refund.EINVALID, "category"},
		{"bad payment method", request{body: set("payment_method", `"paypal"`)}, 400, refund.EINVALID, "payment_method"},
		{"three decimals", request{body: set("amount_paid", `"9.999"`)}, 400, refund.EINVALID, "amount_paid"},
		{"negative amount", request{body: set("amount_paid", `"-1"`)}, 400, refund.EINVALID, "amount_paid"},
		{"amount as a number", request{body: set("amount_paid", `95.0`)}, 400, refund.EINVALID, "amount_paid"},
		{"garbage purchase time", request{body: set("purchased_at", `"garbage"`)}, 400, refund.EINVALID, "purchased_at"},
		{"fractional term", request{body: set("term_days", `30.5`)}, 400, refund.EINVALID, "term_days"},
		{"progress over 100", request{body: set("progress_percent", `150`)}, 400, refund.EINVALID, "progress_percent"},
		{"consumed as a number", request{body: set("consumed_value", `1`)}, 400, refund.EINVALID, "consumed_value"},
		{"unknown field", request{body: set("discount", `"5.00"`)}, 400, refund.EINVALID, "discount"},
		{"missing contact phone", request{body: orderJSON(func(m map[string]string) { delete(m, "contact_phone") })},
			400, refund.EINVALID, "contact_phone"},
		{"malformed JSON", request{body: `{"id":`}, 400, refund.EINVALID, ""},
		{"empty body", request{body: " "}, 400, refund.EINVALID, ""},
		{"no token", request{header: map[string]string{"Authorization": ""}}, 401, refund.EUNAUTHORIZED, ""},
		{"wrong token", request{header: map[string]string{"Authorization": "Bearer nope"}}, 401, refund.EUNAUTHORIZED, ""},
		{"token prefix", request{header: map[string]string{"Authorization": "Bearer " + testToken[:5]}}, 401, refund.EUNAUTHORIZED, ""},
		{"token without scheme", request{header: map[string]string{"Authorization": testToken}}, 401, refund.EUNAUTHORIZED, ""},
		{"basic auth", request{header: map[string]string{"Authorization": "Basic " + testToken}}, 401, refund.EUNAUTHORIZED, ""},
		{"form body", request{header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, refund.EINVALID, ""},
		{"garbled Content-Type", request{header: map[string]string{"Content-Type": "application/json; charset"}}, 415, refund.EINVALID, ""},
		{"body too big", request{body: set("product", `"`+strings.Repeat("x", httpapi.MaxOrderBytes)+`"`)},
			413, refund.EINVALID, ""},
		{"body too big, unknown length", request{bodyReader: io.MultiReader(strings.NewReader(`{"product":"`),
			strings.NewReader(strings.Repeat("x", httpapi.MaxOrderBytes)))}, 413, refund.EINVALID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, nil)
			req := tt.req
			req.method = http.MethodPut
			if req.path == "" {
				req.path = "/api/v1/orders/KM20261120001"
			}
			if req.body == "" && req.bodyReader == nil {
				req.body = orderJSON(nil)
			}
			w := api.do(t, req)
			checkError(t, w, tt.status, tt.code, tt.field)
			if tt.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate header")
			}
			if n := len(api.store.snapshot()); n != 0 {
				t.Errorf("store holds %d orders, want none", n)
			}
		})
	}
}

func TestPutOrderStoreErrors(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		status      int
		code        string
		wantMessage string
		wantLogged  string
	}{
		{"internal error hidden and logged", errors.New("pq: connection refused to 10.0.0.5"),
			500, refund.EINTERNAL, "internal error", "connection refused"},
		{"conflict passed on", refund.Errorf(refund.ECONFLICT, "order is being refunded"),
			409, refund.ECONFLICT, "order is being refunded", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, nil)
			api.store.failErr = tt.err
			w := api.do(t, request{method: http.MethodPut, path: "/api/v1/orders/KM20261120001", body: orderJSON(nil)})
			got := checkError(t, w, tt.status, tt.code, "")
			if got.Error.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", got.Error.Message, tt.wantMessage)
			}
			if strings.Contains(w.Body.String(), "10.0.0.5") {
				t.Errorf("response leaks the internal error: %s", w.Body)
			}
			if tt.wantLogged != "" && !strings.Contains(api.logs.String(), tt.wantLogged) {
				t.Errorf("logs lack %q:\n%s", tt.wantLogged, api.logs)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	failing := func(cfg *httpapi.Config) {
		cfg.Ready = func(context.Context) error { return errors.New("database unreachable") }
	}
	apiOff := func(cfg *httpapi.Config) { cfg.Token = ""; cfg.Orders = nil }
	tests := []struct {
		name      string
		cfg       func(cfg *httpapi.Config)
		req       request
		status    int
		code      string // "" for a success body of {"status":"ok"}
		wantAllow string
	}{
		{name: "healthz", req: request{method: "GET", path: "/healthz"}, status: 200},
		{name: "healthz without auth", req: request{method: "GET", path: "/healthz",
			header: map[string]string{"Authorization": ""}}, status: 200},
		{name: "healthz ready", cfg: func(cfg *httpapi.Config) { cfg.Ready = func(context.Context) error { return nil } },
			req: request{method: "GET", path: "/healthz"}, status: 200},
		// Liveness ignores the dependencies: /readyz reports them.
		{name: "healthz alive while not ready", cfg: failing, req: request{method: "GET", path: "/healthz"}, status: 200},
		{name: "healthz with API off", cfg: apiOff, req: request{method: "GET", path: "/healthz"}, status: 200},
		{name: "API off: PUT order", cfg: apiOff, req: request{method: "PUT", path: "/api/v1/orders/KM20261120001",
			body: orderJSON(nil)}, status: 404, code: refund.ENOTFOUND},
		{name: "API off: other api path", cfg: apiOff, req: request{method: "GET", path: "/api/v1/orders"},
			status: 404, code: refund.ENOTFOUND},
		{name: "unknown route", req: request{method: "GET", path: "/nope"}, status: 404, code: refund.ENOTFOUND},
		{name: "unknown api route", req: request{method: "PUT", path: "/api/v1/orders/A/B"}, status: 404, code: refund.ENOTFOUND},
		{name: "order GET not allowed", req: request{method: "GET", path: "/api/v1/orders/KM1"},
			status: 405, code: refund.EINVALID, wantAllow: "PUT"},
		{name: "healthz POST not allowed", req: request{method: "POST", path: "/healthz"},
			status: 405, code: refund.EINVALID, wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, tt.cfg)
			w := api.do(t, tt.req)
			if tt.code != "" {
				checkError(t, w, tt.status, tt.code, "")
			} else if w.Code != tt.status || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
				t.Errorf("got %d %s, want %d {\"status\":\"ok\"}", w.Code, w.Body, tt.status)
			}
			if got := w.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}

func TestNewHandlerRequiresStoreWithToken(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHandler with a token and no store did not panic")
		}
	}()
	httpapi.NewHandler(httpapi.Config{Token: testToken})
}

// TestConcurrentPuts gives the race detector something to look at: one
// handler serving many requests at once.
func TestConcurrentPuts(t *testing.T) {
	api := newTestAPI(t, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			w := api.do(t, request{method: http.MethodPut, path: "/api/v1/orders/KM20261120001", body: orderJSON(nil)})
			if w.Code != http.StatusCreated && w.Code != http.StatusOK {
				t.Errorf("status = %d; body %s", w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	if n := api.store.upserts; n != 8 {
		t.Errorf("upserts = %d, want 8", n)
	}
}
