package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// readyTimeout bounds a readiness check, so that a database that hangs
// rather than refuses makes /readyz answer 503 before the prober's own
// timeout turns it into a connection error that says nothing.
const readyTimeout = 3 * time.Second

// DependencyError is a failed readiness check of one named dependency.
// Config.Ready returns them, alone or joined with errors.Join, so that
// /readyz can say which dependency is down without showing the driver's
// message, which may hold host names.
type DependencyError struct {
	// Name is what /readyz shows, e.g. "postgres" or "redis".
	Name string
	// Err is the check's own error, for the logs.
	Err error
}

// Error implements the error interface.
func (e *DependencyError) Error() string { return e.Name + ": " + e.Err.Error() }

// Unwrap returns the check's own error.
func (e *DependencyError) Unwrap() error { return e.Err }

// CheckDependency tags a dependency's check result with its name for
// Config.Ready; nil stays nil, so that
//
//	errors.Join(httpapi.CheckDependency("redis", rdb.Ping(ctx).Err()),
//		httpapi.CheckDependency("postgres", db.Ping(ctx)))
//
// is nil exactly when both answered.
func CheckDependency(name string, err error) error {
	if err == nil {
		return nil
	}
	return &DependencyError{Name: name, Err: err}
}

// handleHealthz is the liveness probe: answering at all is the answer.
// Dependencies are /readyz's business.
func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, []byte(`{"status":"ok"}`))
}

// readiness is a readiness probe over checks (nil ones are skipped), run
// one after another: 200 when all pass, else 503 with the names of the
// failing dependencies in the error's message. The failure is logged as a
// warning rather than an error: a probe repeats it every few seconds for
// the whole outage.
func (s *server) readiness(checks ...func(ctx context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		var errs []error
		for _, check := range checks {
			if check != nil {
				errs = append(errs, check(ctx))
			}
		}
		cancel()
		if err := errors.Join(errs...); err != nil {
			names := dependencyNames(err)
			s.logger.WarnContext(r.Context(), "not ready", "path", r.URL.Path, "dependencies", names, "err", err)
			msg := "not ready: a dependency check failed"
			switch {
			case len(names) == 1:
				msg = fmt.Sprintf("not ready: %s failed its check", names[0])
			case len(names) > 1:
				msg = fmt.Sprintf("not ready: %s failed their checks", strings.Join(names, ", "))
			case errors.Is(err, context.DeadlineExceeded):
				msg = fmt.Sprintf("not ready: the readiness check took over %s", readyTimeout)
			}
			body, mErr := json.Marshal(errorResponse{Error: errorDetail{Code: refund.EINTERNAL, Message: msg}})
			if mErr != nil {
				s.logger.ErrorContext(r.Context(), "encoding error response failed", "err", mErr)
			}
			s.writeJSON(w, r, http.StatusServiceUnavailable, body)
			return
		}
		s.writeJSON(w, r, http.StatusOK, []byte(`{"status":"ready"}`))
	})
}

// dependencyNames returns the names of the DependencyErrors in err's tree,
// in order and without repeats.
func dependencyNames(err error) []string {
	var names []string
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *DependencyError:
			if !slices.Contains(names, e.Name) {
				names = append(names, e.Name)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return names
}
