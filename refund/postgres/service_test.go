package postgres_test

import (
	"testing"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/postgres/pgtest"
	"github.com/refundbot/refundbot/refund/servicetest"
)

// TestService runs the refund core against real PostgreSQL: concurrent
// approvals and route choices, and a payout worker killed mid-delivery.
func TestService(t *testing.T) {
	servicetest.Run(t, func(t *testing.T) refund.LifecycleStore { return pgtest.Open(t) })
}
