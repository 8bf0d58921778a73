package refund

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// places is the EscalationService's part that keeps the buyer's place in
// the queue: the message that tells it, edited as the place moves, and the
// estimate of the wait it may carry.
type places struct{ escalationDeps }

// How the queue's wait is estimated (EstimateWait).
const (
	// waitHistory is how far back the queue's history is read. An
	// estimate longer than it is not made either: it would extrapolate
	// beyond anything the history saw.
	waitHistory = 3 * time.Hour
	// waitSamples bounds the history read for one estimate.
	waitSamples = 50
	// minWaitSamples is the fewest waits an estimate is made from: fewer
	// say more about the buyers than about the desk.
	minWaitSamples = 5
	// presentWithin counts an agent who took a chat this recently as at
	// the desk: with auto-assignment off, agents pull chats without ever
	// saying /online.
	presentWithin = 30 * time.Minute
	// queuedAtLeast tells an escalation that waited from one given to an
	// agent as it opened (auto-assignment), whose wait of nothing says
	// nothing of the queue's pace.
	queuedAtLeast = 5 * time.Second
)

// WaitEstimate is what the queue's recent history says of a wait: a place
// in the queue takes about PerPlace. The zero value makes no estimate.
type WaitEstimate struct {
	PerPlace time.Duration
	OK       bool
}

// For is the estimated wait of a buyer with ahead others before them, and
// false when there is none to give.
func (w WaitEstimate) For(ahead int) (time.Duration, bool) {
	if !w.OK || ahead < 0 {
		return 0, false
	}
	d := time.Duration(ahead+1) * w.PerPlace
	if d > waitHistory {
		return 0, false
	}
	return d, true
}

// EstimateWait reads the queue's recent history for how long a place in
// it takes. The estimate is the median, over the buyers taken in the last
// waitHistory, of how long the desk took to take each one from the moment
// it could have: from the previous take, or from when the buyer joined
// the queue if that was later (an idle desk does not make the queue
// slow). A buyer with n ahead then waits about n+1 of those.
//
// None is made (OK false) from fewer than minWaitSamples such waits, or
// when nobody is at the desk: no agent online (/online) and none took a
// chat within presentWithin, since the history then describes people who
// are not there. Desk hours are the desk's to check: outside them the
// buyer is told when it opens instead.
func (s *places) EstimateWait(ctx context.Context) (WaitEstimate, error) {
	now := s.now().UTC()
	waits, err := s.store.RecentWaits(ctx, now.Add(-waitHistory), waitSamples)
	if err != nil {
		return WaitEstimate{}, fmt.Errorf("recent queue waits: %w", err)
	}
	present := len(waits) > 0 && now.Sub(waits[0].TakenAt) <= presentWithin
	if !present {
		staff, err := s.agents.Agents(ctx)
		if err != nil {
			return WaitEstimate{}, fmt.Errorf("agents: %w", err)
		}
		present = slices.ContainsFunc(staff, func(a Agent) bool { return a.Online && !a.LeftTeam })
	}
	if !present {
		return WaitEstimate{}, nil
	}
	per, ok := perPlace(waits)
	return WaitEstimate{PerPlace: per, OK: ok}, nil
}

// perPlace is EstimateWait's median; waits may come in any order.
func perPlace(waits []QueueWait) (time.Duration, bool) {
	byTake := slices.Clone(waits)
	slices.SortFunc(byTake, func(a, b QueueWait) int { return cmp.Compare(a.TakenAt.UnixNano(), b.TakenAt.UnixNano()) })
	var took []time.Duration
	for i := 1; i < len(byTake); i++ {
		w := byTake[i]
		if w.TakenAt.Sub(w.CreatedAt) < queuedAtLeast {
			continue
		}
		from := byTake[i-1].TakenAt
		if w.CreatedAt.After(from) {
			from = w.CreatedAt
		}
		took = append(took, w.TakenAt.Sub(from))
	}
	if len(took) < minWaitSamples {
		return 0, false
	}
	slices.Sort(took)
	return took[len(took)/2], true
}

// RecordPlace records the text of the place message on its way to the
// buyer of escalation id.
func (s *places) RecordPlace(ctx context.Context, id int64, text string) error {
	if err := s.store.RecordPlace(ctx, id, text); err != nil {
		return fmt.Errorf("record place text of escalation %d: %w", id, err)
	}
	return nil
}

// LinkPlace records the buyer's place message of escalation id, once sent.
func (s *places) LinkPlace(ctx context.Context, id int64, messageID int) error {
	if err := s.store.LinkPlace(ctx, id, messageID); err != nil {
		return fmt.Errorf("link place message %d to escalation %d: %w", messageID, id, err)
	}
	return nil
}

// ClaimPlaceEdit reserves the edit of a queued buyer's place message from
// the text it shows to a new one, stamped now: true for one of the
// replicas' sweeps, which then edits it.
func (s *places) ClaimPlaceEdit(ctx context.Context, e Escalation, text string) (bool, error) {
	ok, err := s.store.SwapPlace(ctx, e.ID, e.PlaceText, text, s.now().UTC())
	if err != nil {
		return false, fmt.Errorf("claim place edit of escalation %d: %w", e.ID, err)
	}
	return ok, nil
}

// UnclaimPlaceEdit puts the recorded text back after an edit that did not
// go through, so that a later sweep tries it again; the edit time stays,
// as the failed call counted against Telegram's limits all the same.
func (s *places) UnclaimPlaceEdit(ctx context.Context, e Escalation, text string) error {
	if _, err := s.store.SwapPlace(ctx, e.ID, text, e.PlaceText, time.Time{}); err != nil {
		return fmt.Errorf("undo place edit of escalation %d: %w", e.ID, err)
	}
	return nil
}
