// Package refund is the domain of refundbot: orders, refund cases, their
// evidence and history, and the interfaces the storage adapters implement.
// It imports no transport and no database driver.
package refund

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// Error codes are machine-readable kinds of application error. Adapters map
// them to HTTP statuses or to localized messages; a buyer never sees the Go
// error text.
const (
	ENOTFOUND     = "not_found"
	EINVALID      = "invalid"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	// EFORBIDDEN is a known actor who may not do this now, e.g. an agent
	// who left the team chat taking a chat.
	EFORBIDDEN = "forbidden"
	EINTERNAL  = "internal"
)

// Error is an application error with a code, a message safe to show to an
// operator or API client, and the offending field when there is one.
type Error struct {
	Code    string
	Field   string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("refund error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("refund error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an application error with the given code and message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error naming the bad field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the application error in err's chain, or
// EINTERNAL for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the application error in err's chain,
// or "internal error" so that internals never leak to clients.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the field named by the application error in err's chain.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// Unavailable reports whether err says a server the application depends
// on (the database, Redis) could not be reached or went away mid-call: an
// outage, after which the same operation may well succeed, as opposed to a
// refusal or a bug, which a retry would only repeat. Drivers are known
// here only by the standard interfaces their errors implement: network
// errors, a connection cut short, pgx's SafeToRetry, and SQLSTATE classes
// 08 (connection exception), 53 (insufficient resources) and 57P (operator
// intervention: the server is shutting down, restarting or not yet up).
func Unavailable(err error) bool {
	if err == nil || ErrorCode(err) != EINTERNAL {
		return false
	}
	var (
		netErr    net.Error
		retryable interface{ SafeToRetry() bool }
		sqlState  interface{ SQLState() string }
	)
	switch {
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &retryable) && retryable.SafeToRetry():
		return true
	case errors.As(err, &sqlState):
		code := sqlState.SQLState()
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") || strings.HasPrefix(code, "57P")
	}
	return false
}
