package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/refundbot/refundbot/refund"
)

// Config is what the HTTP API needs.
type Config struct {
	// Orders receives the orders a shop pushes. It is required when Token
	// is set.
	Orders refund.OrderStore
	// Payouts receives the shop's answers about payouts. It is optional:
	// without it the payout routes answer 404, like any unknown path.
	Payouts PayoutSettler
	// Cases lets the shop's back office read refund cases. It is optional
	// in the same way: without it the case routes answer 404.
	Cases CaseReader
	// Token is the bearer token the shop sends. When it is empty the shop
	// API is off and every /api/ path answers 404, so that a deployment
	// that forgot to configure a token is closed rather than open.
	Token string
	// Logger receives internal errors and rejected credentials; nil
	// discards them.
	Logger *slog.Logger
	// Ready, when set, is consulted by /readyz so that a load balancer
	// stops sending traffic while a store is unreachable. Errors tagged
	// with CheckDependency name the failing dependency in the answer.
	// /healthz never consults it: a liveness probe that failed with the
	// database would have the orchestrator restart a healthy process,
	// which fixes nothing and drops in-flight updates.
	Ready func(ctx context.Context) error
	// TelegramReady, when set, is the check of the Telegram Bot API that
	// /readyz/telegram adds to Ready's: whether this replica can answer
	// webhook updates. /readyz leaves it out on purpose. Telegram being
	// down is shared by every replica, so taking them all out of the load
	// balancer would not bring it back, and it would take the shop API,
	// which needs only the stores, down with it.
	TelegramReady func(ctx context.Context) error
}

// server holds one handler's configuration; it is read-only after
// NewHandler, so requests share it without locking.
type server struct {
	mux       *http.ServeMux
	orders    refund.OrderStore
	payouts   PayoutSettler
	cases     CaseReader
	tokenHash [sha256.Size]byte
	logger    *slog.Logger
	ready     func(ctx context.Context) error
	telegram  func(ctx context.Context) error
}

// NewHandler returns the HTTP API:
//
//	GET  /healthz                       200 {"status":"ok"} while the process runs
//	GET  /readyz                        200 {"status":"ready"}, or 503 naming what cfg.Ready found failing
//	GET  /readyz/telegram               /readyz and cfg.TelegramReady: the webhook's readiness
//	PUT  /api/v1/orders/{id}            upserts an order: 201 created, 200 updated
//	GET  /api/v1/cases                  lists cases by last change, a page at a time
//	GET  /api/v1/cases/{id}             one case with its evidence and history
//	POST /api/v1/payouts/{id}/confirm   the shop paid: 200 and the payout
//	POST /api/v1/payouts/{id}/fail      the shop could not pay, body {"reason":...}: 200 and the payout
//
// The /api/ routes need the bearer token; the payout routes also need
// cfg.Payouts and the case routes cfg.Cases. openapi.yaml documents them
// all, and a test holds it to the routes table.
//
// Every error is JSON, {"error":{"code":..., "field":..., "message":...}},
// with a code from the refund package, unknown paths and wrong methods
// included. NewHandler panics when cfg.Token is set without cfg.Orders,
// because that is a wiring mistake, not a runtime condition.
func NewHandler(cfg Config) http.Handler {
	s := &server{
		mux:      http.NewServeMux(),
		orders:   cfg.Orders,
		payouts:  cfg.Payouts,
		cases:    cfg.Cases,
		logger:   cfg.Logger,
		ready:    cfg.Ready,
		telegram: cfg.TelegramReady,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Token != "" {
		if cfg.Orders == nil {
			panic("httpapi: Config.Orders is required when Config.Token is set")
		}
		// Comparing hashes keeps the comparison constant-time even in the
		// token's length, which ConstantTimeCompare alone would reveal.
		s.tokenHash = sha256.Sum256([]byte(cfg.Token))
	}
	for _, rt := range routes() {
		if rt.shopAPI && cfg.Token == "" {
			// No token, no shop API: its paths stay unknown (404), so
			// that a forgotten token closes the API rather than opens it.
			continue
		}
		h := rt.handler(s)
		if h == nil {
			continue
		}
		if rt.shopAPI {
			h = s.requireToken(h)
		}
		s.mux.Handle(rt.pattern(), h)
	}
	return s
}

// route is one endpoint. routes is the only list of them: NewHandler
// registers from it and openapi_test.go holds openapi.yaml to it, so that
// the document cannot forget a route or keep a removed one.
type route struct {
	method string
	// path is a ServeMux path pattern, whose {name} wildcards are also
	// OpenAPI's path template syntax.
	path string
	// shopAPI routes need the bearer token and exist only when one is
	// configured.
	shopAPI bool
	// takesBody routes read a JSON body, answering 413 to one over its
	// limit, which is never above MaxOrderBytes.
	takesBody bool
	// handler returns the route's handler, or nil when the configuration
	// lacks what the route needs; the route then answers 404.
	handler func(s *server) http.Handler
}

// pattern is the route's ServeMux pattern.
func (rt route) pattern() string { return rt.method + " " + rt.path }

// routes returns the API's endpoints; a function rather than a package
// variable so that no caller can change the table another one reads.
func routes() []route {
	return []route{
		{method: http.MethodGet, path: "/healthz",
			handler: func(s *server) http.Handler { return http.HandlerFunc(s.handleHealthz) }},
		{method: http.MethodGet, path: "/readyz",
			handler: func(s *server) http.Handler { return s.readiness(s.ready) }},
		{method: http.MethodGet, path: "/readyz/telegram",
			handler: func(s *server) http.Handler { return s.readiness(s.ready, s.telegram) }},
		{method: http.MethodPut, path: "/api/v1/orders/{id}", shopAPI: true, takesBody: true,
			handler: func(s *server) http.Handler { return http.HandlerFunc(s.handlePutOrder) }},
		{method: http.MethodGet, path: "/api/v1/cases", shopAPI: true,
			handler: func(s *server) http.Handler {
				if s.cases == nil {
					return nil
				}
				return http.HandlerFunc(s.handleListCases)
			}},
		{method: http.MethodGet, path: "/api/v1/cases/{id}", shopAPI: true,
			handler: func(s *server) http.Handler {
				if s.cases == nil {
					return nil
				}
				return http.HandlerFunc(s.handleGetCase)
			}},
		{method: http.MethodPost, path: "/api/v1/payouts/{id}/confirm", shopAPI: true, takesBody: true,
			handler: func(s *server) http.Handler {
				if s.payouts == nil {
					return nil
				}
				return s.handleSettle(true)
			}},
		{method: http.MethodPost, path: "/api/v1/payouts/{id}/fail", shopAPI: true, takesBody: true,
			handler: func(s *server) http.Handler {
				if s.payouts == nil {
					return nil
				}
				return s.handleSettle(false)
			}},
	}
}

// ServeHTTP routes the request. http.ServeMux answers unknown paths and
// wrong methods in plain text; those answers are rewritten as JSON errors
// so that clients parse one error shape everywhere.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		w = &muxErrorWriter{ResponseWriter: w, s: s, r: r}
	}
	s.mux.ServeHTTP(w, r)
}

// muxErrorWriter replaces the plain-text 404 and 405 replies of
// http.ServeMux with JSON errors and lets anything else, such as the
// redirects of path cleaning, through.
type muxErrorWriter struct {
	http.ResponseWriter
	s         *server
	r         *http.Request
	rewritten bool
}

func (w *muxErrorWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		w.rewritten = true
		w.s.writeError(w.ResponseWriter, w.r, code, refund.Errorf(refund.ENOTFOUND, "not found"))
	case http.StatusMethodNotAllowed:
		// The refund codes have no "method not allowed"; the request is
		// invalid, and the status and Allow header say exactly how.
		w.rewritten = true
		w.s.writeError(w.ResponseWriter, w.r, code, refund.Errorf(refund.EINVALID, "method not allowed"))
	default:
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *muxErrorWriter) Write(b []byte) (int, error) {
	if w.rewritten {
		// The mux's plain-text body is dropped: the JSON error replaced it.
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// requireToken lets through only requests bearing the configured token.
// It runs before the body is read, so that an unauthenticated client
// cannot make the server read a megabyte.
func (s *server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		// The scheme name is case-insensitive (RFC 9110, section 11.1).
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) != 1 {
			s.logger.WarnContext(r.Context(), "rejected API request: bad or missing bearer token",
				"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="refundbot"`)
			RefuseUnread(w)
			s.writeError(w, r, http.StatusUnauthorized, refund.Errorf(refund.EUNAUTHORIZED, "missing or invalid bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) handlePutOrder(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readJSONBody(w, r, MaxOrderBytes)
	if !ok {
		return
	}
	o, err := DecodeOrder(body)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	if o.ID != refund.NormalizeOrderID(r.PathValue("id")) {
		s.writeError(w, r, 0, refund.FieldError("id", "id in the body must match the order id in the URL"))
		return
	}
	created, err := s.orders.UpsertOrder(r.Context(), o)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	resp, err := EncodeOrder(o)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.logger.DebugContext(r.Context(), "order upserted", "order_id", o.ID, "created", created)
	s.writeJSON(w, r, status, resp)
}

// readJSONBody reads a JSON request body of at most limit bytes. When it
// cannot, it has answered the request and reports false.
func (s *server) readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if !jsonContentType(r.Header.Get("Content-Type")) {
		s.writeError(w, r, http.StatusUnsupportedMediaType, refund.Errorf(refund.EINVALID, "Content-Type must be application/json"))
		return nil, false
	}
	tooLarge := refund.Errorf(refund.EINVALID, "request body must not exceed %d bytes", limit)
	if r.ContentLength > limit {
		s.writeError(w, r, http.StatusRequestEntityTooLarge, tooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.writeError(w, r, http.StatusRequestEntityTooLarge, tooLarge)
			return nil, false
		}
		// A body that breaks off is the client's or the network's doing;
		// there is nothing for an operator to fix.
		s.logger.InfoContext(r.Context(), "reading request body failed", "path", r.URL.Path, "err", err)
		s.writeError(w, r, http.StatusBadRequest, refund.Errorf(refund.EINVALID, "could not read the request body"))
		return nil, false
	}
	return body, true
}

// jsonContentType reports whether a request's Content-Type announces JSON.
// A missing header is accepted because the minimal HTTP clients of shop
// scripts often send none, and parameters such as charset=utf-8 change
// nothing for JSON; but a declared non-JSON type, typically curl -d's form
// encoding, is refused so that the shop learns what is wrong instead of
// reading a JSON syntax error about its own form data.
func jsonContentType(header string) bool {
	if header == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(header)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" ||
		(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// errorResponse is the JSON body of every error.
type errorResponse struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// writeError answers with err as a JSON error. A status of 0 is derived
// from err's code. Internal errors are logged in full and shown only as
// "internal error", so that driver messages never reach a client.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, status int, err error) {
	code := refund.ErrorCode(err)
	if status == 0 {
		status = statusFor(code)
	}
	if code == refund.EINTERNAL {
		s.logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body, mErr := json.Marshal(errorResponse{Error: errorDetail{
		Code:    code,
		Field:   refund.ErrorField(err),
		Message: refund.ErrorMessage(err),
	}})
	if mErr != nil {
		// Marshalling three strings cannot fail; if it ever does, the
		// client still gets the status.
		s.logger.ErrorContext(r.Context(), "encoding error response failed", "err", mErr)
	}
	s.writeJSON(w, r, status, body)
}

// statusFor maps a refund error code to the HTTP status that carries it.
func statusFor(code string) int {
	switch code {
	case refund.EINVALID:
		return http.StatusBadRequest
	case refund.ENOTFOUND:
		return http.StatusNotFound
	case refund.ECONFLICT:
		return http.StatusConflict
	case refund.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case refund.EFORBIDDEN:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if _, err := w.Write(append(body, '\n')); err != nil {
		// The client has gone; nothing can be sent, but it is worth
		// knowing when chasing a shop's complaint.
		s.logger.DebugContext(r.Context(), "writing response failed", "path", r.URL.Path, "err", err)
	}
}
