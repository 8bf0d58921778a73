package buyer

import (
	"context"
	"errors"
	"fmt"

	"github.com/looplab/fsm"

	"github.com/refundbot/refundbot/flows"
)

// State is a step of the buyer's refund dialog.
type State = flows.State

// The dialog's states.
const (
	StateIdle               State = "idle"
	StateAwaitingOrder      State = "awaiting_order"
	StateAwaitingPhone      State = "awaiting_phone"
	StateChoosingReason     State = "choosing_reason"
	StateWritingStatement   State = "writing_statement"
	StateCollectingEvidence State = "collecting_evidence"
	StateConfirming         State = "confirming"
	// The follow-up states answer the refund core about a submitted case:
	// more evidence, an appeal, a new payout account.
	StateAddingEvidence State = "adding_evidence"
	StateWritingAppeal  State = "writing_appeal"
	StateGivingAccount  State = "giving_account"
	// StateRatingComment waits, briefly, for the buyer's comment on the
	// rating they just gave a talk with an agent.
	StateRatingComment State = "rating_comment"
)

// Event moves the dialog from one state to another.
type Event string

// The dialog's events.
const (
	EventStart           Event = "start"
	EventOrderOwned      Event = "order_owned"
	EventOrderNeedsProof Event = "order_needs_proof"
	EventPhoneOK         Event = "phone_ok"
	EventPhoneFailed     Event = "phone_failed"
	EventReasonChosen    Event = "reason_chosen"
	EventStatementSet    Event = "statement_set"
	EventEvidenceDone    Event = "evidence_done"
	EventEditReason      Event = "edit_reason"
	EventEditStatement   Event = "edit_statement"
	EventEditEvidence    Event = "edit_evidence"
	EventSubmitted       Event = "submitted"
	EventBack            Event = "back"
	EventCancel          Event = "cancel"
	EventAddInfo         Event = "add_info"
	EventStartAppeal     Event = "start_appeal"
	EventGiveAccount     Event = "give_account"
	EventFollowUpDone    Event = "follow_up_done"
	EventAskComment      Event = "ask_comment"
	EventCommentDone     Event = "comment_done"
)

// StepNames lists every state's name, for metrics labels.
func StepNames() []string {
	return states(StateIdle, StateAwaitingOrder, StateAwaitingPhone, StateChoosingReason, StateWritingStatement,
		StateCollectingEvidence, StateConfirming, StateAddingEvidence, StateWritingAppeal, StateGivingAccount,
		StateRatingComment)
}

func states(s ...State) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// dialogEvents is the one place the dialog's shape is written.
func dialogEvents() fsm.Events {
	active := states(StateAwaitingOrder, StateAwaitingPhone, StateChoosingReason, StateWritingStatement,
		StateCollectingEvidence, StateConfirming)
	followUps := states(StateAddingEvidence, StateWritingAppeal, StateGivingAccount)
	// A follow-up may replace another follow-up, never a half-filled new
	// request: that would lose what the buyer typed.
	followUpSrc := append(states(StateIdle), followUps...)
	return fsm.Events{
		{Name: string(EventAddInfo), Src: followUpSrc, Dst: string(StateAddingEvidence)},
		{Name: string(EventStartAppeal), Src: followUpSrc, Dst: string(StateWritingAppeal)},
		{Name: string(EventGiveAccount), Src: followUpSrc, Dst: string(StateGivingAccount)},
		{Name: string(EventFollowUpDone), Src: followUps, Dst: string(StateIdle)},
		{Name: string(EventStart), Src: append(append(states(StateIdle), active...), followUps...), Dst: string(StateAwaitingOrder)},
		{Name: string(EventOrderOwned), Src: states(StateAwaitingOrder), Dst: string(StateChoosingReason)},
		{Name: string(EventOrderNeedsProof), Src: states(StateAwaitingOrder), Dst: string(StateAwaitingPhone)},
		{Name: string(EventPhoneOK), Src: states(StateAwaitingPhone), Dst: string(StateChoosingReason)},
		{Name: string(EventPhoneFailed), Src: states(StateAwaitingPhone), Dst: string(StateAwaitingOrder)},
		{Name: string(EventReasonChosen), Src: states(StateChoosingReason), Dst: string(StateWritingStatement)},
		{Name: string(EventStatementSet), Src: states(StateWritingStatement), Dst: string(StateCollectingEvidence)},
		{Name: string(EventEvidenceDone), Src: states(StateCollectingEvidence), Dst: string(StateConfirming)},
		{Name: string(EventEditReason), Src: states(StateConfirming), Dst: string(StateChoosingReason)},
		{Name: string(EventEditStatement), Src: states(StateConfirming), Dst: string(StateWritingStatement)},
		{Name: string(EventEditEvidence), Src: states(StateConfirming), Dst: string(StateCollectingEvidence)},
		{Name: string(EventSubmitted), Src: states(StateConfirming), Dst: string(StateIdle)},
		{Name: string(EventBack), Src: states(StateAwaitingPhone), Dst: string(StateAwaitingOrder)},
		{Name: string(EventBack), Src: states(StateChoosingReason), Dst: string(StateAwaitingOrder)},
		{Name: string(EventBack), Src: states(StateWritingStatement), Dst: string(StateChoosingReason)},
		{Name: string(EventBack), Src: states(StateCollectingEvidence), Dst: string(StateWritingStatement)},
		{Name: string(EventBack), Src: states(StateConfirming), Dst: string(StateCollectingEvidence)},
		{Name: string(EventCancel), Src: append(active, followUps...), Dst: string(StateIdle)},
		// Only an idle buyer is asked for a comment: one in the middle of
		// a request would lose their step to it. Anything but the comment
		// itself ends the step before it is handled (comment.awaited).
		{Name: string(EventAskComment), Src: states(StateIdle), Dst: string(StateRatingComment)},
		{Name: string(EventCommentDone), Src: states(StateRatingComment), Dst: string(StateIdle)},
	}
}

// newMachine builds the dialog machine at a session's state. Only the state
// name is persisted; the machine is rebuilt for every update.
func newMachine(s State) *fsm.FSM {
	if s == "" {
		s = StateIdle
	}
	return fsm.NewFSM(string(s), dialogEvents(), nil)
}

// errIllegalMove is returned when an event does not apply to the current
// state, e.g. a stale button.
var errIllegalMove = errors.New("event not allowed in this state")

// fire applies ev to state and returns the new state.
func fire(ctx context.Context, s State, ev Event) (State, error) {
	m := newMachine(s)
	err := m.Event(ctx, string(ev))
	var noTransition fsm.NoTransitionError
	switch {
	case err == nil, errors.As(err, &noTransition):
		return State(m.Current()), nil
	case errors.As(err, new(fsm.InvalidEventError)), errors.As(err, new(fsm.UnknownEventError)):
		return s, fmt.Errorf("fire %s in %s: %w", ev, s, errIllegalMove)
	default:
		return s, fmt.Errorf("fire %s in %s: %w", ev, s, err)
	}
}

// can reports whether ev applies in state s.
func can(s State, ev Event) bool {
	return newMachine(s).Can(string(ev))
}

// Diagram draws the dialog as a Mermaid state diagram, for the docs.
func Diagram() (string, error) {
	return fsm.VisualizeWithType(newMachine(StateIdle), fsm.MERMAID)
}
