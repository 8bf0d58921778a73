package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/refundbot/refundbot/refund"
)

// wantJSONError checks that an answer is the shared JSON error shape with
// the status and code given.
func wantJSONError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	var body errorResponse
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body is not the JSON error shape: %v", err)
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Errorf("error = %+v, want code %q and a message", body.Error, code)
	}
}

// concretePath fills a route's wildcards with a plausible value.
func concretePath(rt route) string {
	return strings.ReplaceAll(rt.path, "{id}", "R-000001")
}

// TestEveryRouteAnswersErrorsInJSON walks the routes table, so that a
// route added later is held to the same error contract without anyone
// remembering to add it here.
func TestEveryRouteAnswersErrorsInJSON(t *testing.T) {
	h := fullHandler()
	overLimit := strings.Repeat("x", MaxOrderBytes+1)
	type check struct {
		name   string
		req    func(rt route) *http.Request
		status int
		code   string
		// applies says which routes the check concerns.
		applies func(rt route) bool
	}
	withToken := func(r *http.Request) *http.Request {
		r.Header.Set("Authorization", "Bearer t0ken")
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	checks := []check{
		{name: "no token", status: 401, code: refund.EUNAUTHORIZED,
			applies: func(rt route) bool { return rt.shopAPI },
			req:     func(rt route) *http.Request { return httptest.NewRequest(rt.method, concretePath(rt), nil) }},
		{name: "wrong token", status: 401, code: refund.EUNAUTHORIZED,
			applies: func(rt route) bool { return rt.shopAPI },
			req: func(rt route) *http.Request {
				r := httptest.NewRequest(rt.method, concretePath(rt), nil)
				r.Header.Set("Authorization", "Bearer t0ken-not")
				return r
			}},
		{name: "wrong method", status: 405, code: refund.EINVALID,
			applies: func(route) bool { return true },
			req: func(rt route) *http.Request {
				return withToken(httptest.NewRequest(http.MethodDelete, concretePath(rt), nil))
			}},
		{name: "body over 1 MiB", status: 413, code: refund.EINVALID,
			applies: func(rt route) bool { return rt.takesBody },
			req: func(rt route) *http.Request {
				return withToken(httptest.NewRequest(rt.method, concretePath(rt), strings.NewReader(overLimit)))
			}},
		{name: "body over 1 MiB, length unknown", status: 413, code: refund.EINVALID,
			applies: func(rt route) bool { return rt.takesBody },
			req: func(rt route) *http.Request {
				r := withToken(httptest.NewRequest(rt.method, concretePath(rt), io.NopCloser(strings.NewReader(overLimit))))
				r.ContentLength = -1
				return r
			}},
	}
	for _, rt := range routes() {
		for _, c := range checks {
			if !c.applies(rt) {
				continue
			}
			t.Run(rt.pattern()+"/"+c.name, func(t *testing.T) {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, c.req(rt))
				wantJSONError(t, w, c.status, c.code)
				if c.status == 405 && !strings.Contains(w.Header().Get("Allow"), rt.method) {
					t.Errorf("Allow = %q, want it to list %s", w.Header().Get("Allow"), rt.method)
				}
			})
		}
	}
}

// TestUnknownPathsAnswerJSON covers what no route matches, with the shop
// API on and off.
func TestUnknownPathsAnswerJSON(t *testing.T) {
	off := NewHandler(Config{})
	tests := []struct {
		name    string
		handler http.Handler
		method  string
		path    string
	}{
		{"unknown path", fullHandler(), http.MethodGet, "/nope"},
		{"unknown api path", fullHandler(), http.MethodGet, "/api/v1/refunds"},
		{"too deep under a route", fullHandler(), http.MethodGet, "/api/v1/cases/R-000001/events"},
		{"api off: cases", off, http.MethodGet, "/api/v1/cases"},
		{"api off: a case", off, http.MethodGet, "/api/v1/cases/R-000001"},
		{"api off: wrong method on an api path", off, http.MethodDelete, "/api/v1/cases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			r.Header.Set("Authorization", "Bearer t0ken")
			w := httptest.NewRecorder()
			tt.handler.ServeHTTP(w, r)
			wantJSONError(t, w, http.StatusNotFound, refund.ENOTFOUND)
		})
	}
}
