package telegramfake

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
)

// What Bot API servers other than Telegram's were seen to do: long polls
// that end at once with nothing, a re-poll that leaves out an update it
// gave before, answers that are not JSON, update ids that start again.
// Tests use these one at a time, or all at random with Chaos.

// pollQuirk changes one getUpdates answer.
type pollQuirk struct {
	empty     bool // answer [] at once, whatever is pending
	limit     int  // answer at most this many updates
	skipFirst bool // leave out the first pending update
}

// AnswerPollsEmpty makes the next n getUpdates calls answer at once with no
// updates, whatever is pending and however long they asked to wait.
func (s *injector) AnswerPollsEmpty(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.pollQuirks = append(s.pollQuirks, pollQuirk{empty: true})
	}
}

// CutNextPoll makes the next getUpdates answer at most limit updates, as a
// server that cuts an album across two polls does.
func (s *injector) CutNextPoll(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pollQuirks = append(s.pollQuirks, pollQuirk{limit: limit})
}

// SkipFirstOnNextPoll makes the next getUpdates leave out the first pending
// update, which stays pending: a re-poll that answers a different set.
func (s *injector) SkipFirstOnNextPoll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pollQuirks = append(s.pollQuirks, pollQuirk{skipFirst: true})
}

// RestartUpdateIDs makes the next update's id next, as a self-hosted Bot
// API server that lost its state does. The restarted server has forgotten
// the bot's offset: a getUpdates offset above every id it issued since
// confirms nothing.
func (s *injector) RestartUpdateIDs(next int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpdateID = next
	s.restarted = true
}

// ChaosOptions are the odds of each misbehaviour per call, 0 to 1.
type ChaosOptions struct {
	Seed uint64
	// ServerErrors: any call but getMe fails without effect with a 500,
	// 502 (half of them an HTML page) or 503.
	ServerErrors float64
	// EmptyPolls: a getUpdates answers [] at once.
	EmptyPolls float64
	// Reorder: a getUpdates answers its updates shuffled.
	Reorder float64
	// Repeat: a getUpdates answers one of its updates twice.
	Repeat float64
}

type chaos struct {
	opts ChaosOptions
	rng  *rand.Rand
}

// Chaos turns random misbehaviour on (nil options off) for every call
// from now on; the injected faults of FailNext and friends come first.
func (s *injector) Chaos(opts *ChaosOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if opts == nil {
		s.chaos = nil
		return
	}
	s.chaos = &chaos{opts: *opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))}
}

func (c *chaos) roll(p float64) bool { return p > 0 && c.rng.Float64() < p }

// chaosFailureLocked picks the random failure of one call, if any.
func (s *faults) chaosFailureLocked(method string) *apiError {
	c := s.chaos
	if c == nil || method == "getMe" || !c.roll(c.opts.ServerErrors) {
		return nil
	}
	switch c.rng.IntN(4) {
	case 0:
		return injectedError(http.StatusInternalServerError, 0)
	case 1:
		return injectedError(http.StatusServiceUnavailable, 0)
	case 2:
		return &apiError{code: http.StatusBadGateway, raw: []byte("<html><body><h1>502 Bad Gateway</h1></body></html>")}
	}
	return &apiError{code: http.StatusBadGateway, raw: []byte{}}
}

// pollQuirkLocked takes the quirk of one getUpdates: a queued one, or a
// random one in chaos.
func (s *faults) pollQuirkLocked() pollQuirk {
	if len(s.pollQuirks) > 0 {
		q := s.pollQuirks[0]
		s.pollQuirks = s.pollQuirks[1:]
		return q
	}
	if c := s.chaos; c != nil && c.roll(c.opts.EmptyPolls) {
		return pollQuirk{empty: true}
	}
	return pollQuirk{}
}

// shuffleLocked reorders or repeats a getUpdates answer in chaos.
func (s *faults) shuffleLocked(ups []json.RawMessage) []json.RawMessage {
	c := s.chaos
	if c == nil || len(ups) == 0 {
		return ups
	}
	if c.roll(c.opts.Repeat) {
		ups = append(ups, ups[c.rng.IntN(len(ups))])
	}
	if c.roll(c.opts.Reorder) {
		c.rng.Shuffle(len(ups), func(i, j int) { ups[i], ups[j] = ups[j], ups[i] })
	}
	return ups
}
