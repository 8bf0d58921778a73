package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/httpapi"
)

const payoutPath = "/api/v1/payouts/P000123-1/"

// samplePayout is a pending original-route payout of the sample order.
func samplePayout() refund.Payout {
	return refund.Payout{
		ID:          "P000123-1",
		CaseID:      123,
		OrderID:     "KM20261120001",
		BuyerUserID: 1001,
		Route:       refund.RouteOriginal,
		Method:      refund.PayAlipay,
		Amount:      9500,
		Currency:    "CNY",
		Status:      refund.PayoutPending,
		CreatedAt:   time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
	}
}

const (
	confirmedJSON = `{"id":"P000123-1","case":"R-000123","order_id":"KM20261120001","status":"confirmed",` +
		`"amount":"95.00","currency":"CNY","route":"original","settled_at":"2026-11-21T02:00:00Z"}`
	failedJSON = `{"id":"P000123-1","case":"R-000123","order_id":"KM20261120001","status":"failed",` +
		`"amount":"95.00","currency":"CNY","route":"original","settled_at":"2026-11-21T02:00:00Z"}`
)

func TestSettlePayout(t *testing.T) {
	tests := []struct {
		name   string
		req    request
		want   string
		wantST refund.Settlement
	}{
		{"confirm, empty body", request{path: payoutPath + "confirm"}, confirmedJSON,
			refund.Settlement{PayoutID: "P000123-1", OK: true}},
		{"confirm, empty object", request{path: payoutPath + "confirm", body: " {} \n"}, confirmedJSON,
			refund.Settlement{PayoutID: "P000123-1", OK: true}},
		{"confirm without Content-Type", request{path: payoutPath + "confirm", header: map[string]string{"Content-Type": ""}},
			confirmedJSON, refund.Settlement{PayoutID: "P000123-1", OK: true}},
		{"fail with a reason, trimmed", request{path: payoutPath + "fail", body: `{"reason":"  收款账户已注销\n请联系客服 "}`}, failedJSON,
			refund.Settlement{PayoutID: "P000123-1", Error: "收款账户已注销\n请联系客服"}},
		{"fail with the longest reason, counted in characters", request{path: payoutPath + "fail",
			body: `{"reason":"` + strings.Repeat("账", httpapi.MaxReasonLength) + `"}`}, failedJSON,
			refund.Settlement{PayoutID: "P000123-1", Error: strings.Repeat("账", httpapi.MaxReasonLength)}},
		{"fail with Windows line breaks and a tab", request{path: payoutPath + "fail", body: `{"reason":"closed\r\n\tcall us"}`}, failedJSON,
			refund.Settlement{PayoutID: "P000123-1", Error: "closed\r\n\tcall us"}},
		{"fail with an escaped reason", request{path: payoutPath + "fail", body: `{"reason":"\u8d26\u6237 \"closed\""}`}, failedJSON,
			refund.Settlement{PayoutID: "P000123-1", Error: `账户 "closed"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, nil)
			req := tt.req
			req.method = http.MethodPost
			w := api.do(t, req)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tt.want {
				t.Errorf("body:\n got %s\nwant %s", got, tt.want)
			}
			if got := api.payouts.settlements(); len(got) != 1 || got[0] != tt.wantST {
				t.Errorf("settlements = %+v, want [%+v]", got, tt.wantST)
			}
		})
	}
}

func TestSettlePayoutPendingAnswer(t *testing.T) {
	// A settler may answer with a payout still pending (say, a shop's
	// answer queued for review); settled_at is then null, not year 1.
	api := newTestAPI(t, nil)
	api.handler = httpapi.NewHandler(httpapi.Config{Orders: api.store, Token: testToken, Payouts: pendingSettler{}})
	w := api.do(t, request{method: http.MethodPost, path: payoutPath + "confirm"})
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK {
		t.Fatalf("status %d, body %s: %v", w.Code, w.Body, err)
	}
	if v, ok := got["settled_at"]; !ok || v != nil || got["status"] != "pending" {
		t.Errorf("answer %v, want pending with settled_at null", got)
	}
}

type pendingSettler struct{}

func (pendingSettler) SettlePayout(_ context.Context, st refund.Settlement) (refund.Payout, error) {
	return samplePayout(), nil
}

func TestSettlePayoutIsIdempotent(t *testing.T) {
	api := newTestAPI(t, nil)
	for i := range 2 {
		w := api.do(t, request{method: http.MethodPost, path: payoutPath + "confirm"})
		if got := strings.TrimSpace(w.Body.String()); w.Code != http.StatusOK || got != confirmedJSON {
			t.Errorf("confirm #%d: %d %s, want 200 %s", i+1, w.Code, got, confirmedJSON)
		}
	}
	w := api.do(t, request{method: http.MethodPost, path: payoutPath + "fail", body: `{"reason":"late"}`})
	checkError(t, w, http.StatusConflict, refund.ECONFLICT, "")
}

func TestSettlePayoutRejects(t *testing.T) {
	tooLong := `{"reason":"` + strings.Repeat("a", httpapi.MaxReasonLength+1) + `"}`
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		field  string
	}{
		{"fail without a body", request{path: payoutPath + "fail"}, 400, refund.EINVALID, "reason"},
		{"fail without a reason", request{path: payoutPath + "fail", body: `{}`}, 400, refund.EINVALID, "reason"},
		{"fail with an empty reason", request{path: payoutPath + "fail", body: `{"reason":""}`}, 400, refund.EINVALID, "reason"},
		{"fail with a blank reason", request{path: payoutPath + "fail", body: `{"reason":" \n\t "}`}, 400, refund.EINVALID, "reason"},
		{"fail with a null reason", request{path: payoutPath + "fail", body: `{"reason":null}`}, 400, refund.EINVALID, "reason"},
		{"fail with a numeric reason", request{path: payoutPath + "fail", body: `{"reason":42}`}, 400, refund.EINVALID, "reason"},
		{"fail with a long reason", request{path: payoutPath + "fail", body: tooLong}, 400, refund.EINVALID, "reason"},
		{"fail with a control character", request{path: payoutPath + "fail", body: `{"reason":"closed\u001b[31m"}`},
			400, refund.EINVALID, "reason"},
		{"fail with a NUL", request{path: payoutPath + "fail", body: `{"reason":"closed\u0000"}`}, 400, refund.EINVALID, "reason"},
		{"fail with two reasons", request{path: payoutPath + "fail", body: `{"reason":"a","reason":"b"}`}, 400, refund.EINVALID, "reason"},
		{"fail with an unknown member", request{path: payoutPath + "fail", body: `{"reason":"a","account":"x"}`},
			400, refund.EINVALID, "account"},
		{"fail with the reason misspelt", request{path: payoutPath + "fail", body: `{"Reason":"a"}`}, 400, refund.EINVALID, "Reason"},
		{"confirm with a reason", request{path: payoutPath + "confirm", body: `{"reason":"paid"}`}, 400, refund.EINVALID, "reason"},
		{"confirm with an array", request{path: payoutPath + "confirm", body: `[]`}, 400, refund.EINVALID, ""},
		{"confirm with null", request{path: payoutPath + "confirm", body: `null`}, 400, refund.EINVALID, ""},
		{"malformed JSON", request{path: payoutPath + "fail", body: `{"reason":`}, 400, refund.EINVALID, ""},
		{"trailing data", request{path: payoutPath + "confirm", body: `{} {}`}, 400, refund.EINVALID, ""},
		{"form body", request{path: payoutPath + "confirm", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
			415, refund.EINVALID, ""},
		{"body too big", request{path: payoutPath + "fail", body: `{"reason":"` + strings.Repeat(" ", 16<<10) + `x"}`},
			413, refund.EINVALID, ""},
		{"body too big, unknown length", request{path: payoutPath + "fail",
			bodyReader: io.MultiReader(strings.NewReader(`{"reason":"`), bytes.NewReader(bytes.Repeat([]byte(" "), 16<<10)))},
			413, refund.EINVALID, ""},
		{"payout id too long", request{path: "/api/v1/payouts/" + strings.Repeat("P", 65) + "/confirm"}, 400, refund.EINVALID, "id"},
		{"payout id with a space", request{path: "/api/v1/payouts/P%20000123-1/confirm"}, 400, refund.EINVALID, "id"},
		{"no token", request{path: payoutPath + "confirm", header: map[string]string{"Authorization": ""}},
			401, refund.EUNAUTHORIZED, ""},
		{"wrong token", request{path: payoutPath + "fail", body: `{"reason":"x"}`,
			header: map[string]string{"Authorization": "Bearer nope"}}, 401, refund.EUNAUTHORIZED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, nil)
			req := tt.req
			req.method = http.MethodPost
			checkError(t, api.do(t, req), tt.status, tt.code, tt.field)
			if got := api.payouts.settlements(); len(got) != 0 {
				t.Errorf("settler called with %+v, want no call", got)
			}
		})
	}
}

func TestSettlePayoutSettlerErrors(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		err         error
		status      int
		code        string
		field       string
		wantMessage string
	}{
		{"unknown payout", "/api/v1/payouts/P999999-1/confirm", nil, 404, refund.ENOTFOUND, "", "payout P999999-1 not found"},
		{"conflict", payoutPath + "confirm", refund.Errorf(refund.ECONFLICT, "payout P000123-1 is already failed"),
			409, refund.ECONFLICT, "", "payout P000123-1 is already failed"},
		{"invalid", payoutPath + "confirm", refund.FieldError("reason", "a failed payout needs a reason"),
			400, refund.EINVALID, "reason", "a failed payout needs a reason"},
		{"internal error hidden and logged", payoutPath + "confirm", errors.New("pq: connection refused to 10.0.0.5"),
			500, refund.EINTERNAL, "", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, nil)
			api.payouts.failErr = tt.err
			w := api.do(t, request{method: http.MethodPost, path: tt.path})
			got := checkError(t, w, tt.status, tt.code, tt.field)
			if got.Error.Message != tt.wantMessage {
				t.Errorf("message = %q, want %q", got.Error.Message, tt.wantMessage)
			}
			if strings.Contains(w.Body.String(), "10.0.0.5") {
				t.Errorf("response leaks the internal error: %s", w.Body)
			}
			if tt.code == refund.EINTERNAL && !strings.Contains(api.logs.String(), "connection refused") {
				t.Errorf("internal error not logged:\n%s", api.logs)
			}
		})
	}
}

func TestSettleLogsNoReason(t *testing.T) {
	api := newTestAPI(t, nil)
	w := api.do(t, request{method: http.MethodPost, path: payoutPath + "fail", body: `{"reason":"account 6222020200001234 closed"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	logs := api.logs.String()
	if !strings.Contains(logs, "payout settled") || strings.Contains(logs, "6222020200001234") {
		t.Errorf("want the settlement logged without the shop's reason:\n%s", logs)
	}
}

func TestPayoutRoutes(t *testing.T) {
	noPayouts := func(cfg *httpapi.Config) { cfg.Payouts = nil }
	apiOff := func(cfg *httpapi.Config) { cfg.Token = ""; cfg.Orders = nil }
	tests := []struct {
		name      string
		cfg       func(cfg *httpapi.Config)
		method    string
		path      string
		status    int
		code      string
		wantAllow string
	}{
		{"no settler: confirm", noPayouts, "POST", payoutPath + "confirm", 404, refund.ENOTFOUND, ""},
		{"no settler: fail", noPayouts, "POST", payoutPath + "fail", 404, refund.ENOTFOUND, ""},
		{"API off: confirm", apiOff, "POST", payoutPath + "confirm", 404, refund.ENOTFOUND, ""},
		{"GET confirm not allowed", nil, "GET", payoutPath + "confirm", 405, refund.EINVALID, "POST"},
		{"PUT fail not allowed", nil, "PUT", payoutPath + "fail", 405, refund.EINVALID, "POST"},
		{"unknown action", nil, "POST", payoutPath + "refund", 404, refund.ENOTFOUND, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newTestAPI(t, tt.cfg)
			w := api.do(t, request{method: tt.method, path: tt.path})
			checkError(t, w, tt.status, tt.code, "")
			if got := w.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if got := api.payouts.settlements(); len(got) != 0 {
				t.Errorf("settler called with %+v", got)
			}
		})
	}
}
