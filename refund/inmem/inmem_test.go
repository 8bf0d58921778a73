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

func TestEscalationServiceContract(t *testing.T) {
	storetest.RunEscalationService(t, func(*testing.T) storetest.DeskStore { return inmem.New() })
}

func TestStatsContract(t *testing.T) {
	storetest.RunStats(t, func(*testing.T) storetest.StatsStore { return inmem.New() })
}

func TestCaseListContract(t *testing.T) {
	storetest.RunCaseList(t, func(*testing.T) storetest.CaseListStore { return inmem.New() })
}
