package refund_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/refundbot/refundbot/refund"
)

// sqlStateError stands for a driver's server error (pgconn.PgError).
type sqlStateError string

func (e sqlStateError) Error() string    { return "server said " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

// retryableError stands for pgconn's errors that know whether a retry is safe.
type retryableError bool

func (e retryableError) Error() string     { return "conn closed" }
func (e retryableError) SafeToRetry() bool { return bool(e) }

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fmt.Errorf("load order: %w", refused), true},
		{"connection cut mid-answer", fmt.Errorf("begin chat 1: %w", io.EOF), true},
		{"unexpected EOF", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"server shutting down (57P01)", fmt.Errorf("query: %w", sqlStateError("57P01")), true},
		{"server starting up (57P03)", sqlStateError("57P03"), true},
		{"connection exception (08006)", sqlStateError("08006"), true},
		{"too many connections (53300)", sqlStateError("53300"), true},
		{"unique violation (23505) is no outage", sqlStateError("23505"), false},
		{"syntax error (42601) is a bug", sqlStateError("42601"), false},
		{"safe to retry", retryableError(true), true},
		{"not safe to retry", retryableError(false), false},
		{"an application error is an answer", refund.Errorf(refund.ENOTFOUND, "no order"), false},
		{"a bug", errors.New("nil map"), false},
		{"cancelled", context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refund.Unavailable(tt.err); got != tt.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
