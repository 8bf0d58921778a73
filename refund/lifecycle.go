package refund

import (
	"context"
	"errors"

	"github.com/looplab/fsm"
)

// CaseEvent moves a case from one status to another.
type CaseEvent string

// The events of the case lifecycle.
const (
	CaseReview      CaseEvent = "review"       // the automatic first review starts
	CaseApprove     CaseEvent = "approve"      // refund granted
	CaseReject      CaseEvent = "reject"       // refund refused
	CaseAskInfo     CaseEvent = "ask_info"     // evidence is missing
	CaseEscalate    CaseEvent = "escalate"     // a human must decide
	CaseInfoAdded   CaseEvent = "info_added"   // the buyer answered a request for evidence
	CaseExpire      CaseEvent = "expire"       // the buyer let a deadline pass
	CaseAppeal      CaseEvent = "appeal"       // the buyer contests a refusal
	CaseStartPayout CaseEvent = "start_payout" // money is on its way
	CasePaid        CaseEvent = "paid"         // the money arrived
	CasePayoutFail  CaseEvent = "payout_fail"  // the payment route refused it
)

func statusNames(s ...Status) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// caseEvents is the one place the case lifecycle is written down.
func caseEvents() fsm.Events {
	return fsm.Events{
		{Name: string(CaseReview), Src: statusNames(StatusSubmitted), Dst: string(StatusAutoReview)},
		{Name: string(CaseInfoAdded), Src: statusNames(StatusNeedsInfo), Dst: string(StatusAutoReview)},
		{Name: string(CaseApprove), Src: statusNames(StatusAutoReview, StatusHumanReview), Dst: string(StatusApproved)},
		{Name: string(CaseReject), Src: statusNames(StatusAutoReview, StatusHumanReview), Dst: string(StatusRejected)},
		{Name: string(CaseAskInfo), Src: statusNames(StatusAutoReview, StatusHumanReview), Dst: string(StatusNeedsInfo)},
		{Name: string(CaseEscalate), Src: statusNames(StatusAutoReview, StatusAppealed), Dst: string(StatusHumanReview)},
		{Name: string(CaseExpire), Src: statusNames(StatusNeedsInfo, StatusRejected), Dst: string(StatusClosed)},
		{Name: string(CaseAppeal), Src: statusNames(StatusRejected), Dst: string(StatusAppealed)},
		{Name: string(CaseStartPayout), Src: statusNames(StatusApproved, StatusPayoutFailed), Dst: string(StatusPayoutPending)},
		{Name: string(CasePaid), Src: statusNames(StatusPayoutPending), Dst: string(StatusRefunded)},
		{Name: string(CasePayoutFail), Src: statusNames(StatusPayoutPending), Dst: string(StatusPayoutFailed)},
	}
}

// NextStatus returns where event ev takes a case in status from. An event
// the lifecycle does not allow from there is an ECONFLICT error: the case
// has moved on, or the caller is confused, and nothing may be overwritten.
func NextStatus(from Status, ev CaseEvent) (Status, error) {
	m := fsm.NewFSM(string(from), caseEvents(), nil)
	if !m.Can(string(ev)) {
		return "", Errorf(ECONFLICT, "cannot %s a case that is %s", ev, from)
	}
	if err := m.Event(context.Background(), string(ev)); err != nil && !errors.As(err, new(fsm.NoTransitionError)) {
		return "", Errorf(EINTERNAL, "lifecycle %s from %s: %v", ev, from, err)
	}
	return Status(m.Current()), nil
}

// LifecycleDiagram draws the case lifecycle as a Mermaid state diagram.
func LifecycleDiagram() string {
	out, err := fsm.VisualizeWithType(fsm.NewFSM(string(StatusSubmitted), caseEvents(), nil), fsm.MERMAID)
	if err != nil {
		// Only an unknown diagram type fails, and the type is a constant.
		panic(err)
	}
	return out
}
