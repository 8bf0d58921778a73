package inmem_test

import (
	"testing"

	"github.com/refundbot/refundbot/refund"
	"github.com/refundbot/refundbot/refund/inmem"
	"github.com/refundbot/refundbot/refund/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) refund.LifecycleStore { return inmem.New() })
}

func TestAgentsContract(t *testing.T) {
	storetest.RunAgents(t, func(*testing.T) storetest.AgentEscalationStore { return inmem.New() })
}
