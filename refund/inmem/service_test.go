package inmem_test

import (
	"testing"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
	"github.com/refundbot/refundbot/refund/servicetest"
)

func TestService(t *testing.T) {
	servicetest.Run(t, func(*testing.T) refund.LifecycleStore { return inmem.New() })
}
