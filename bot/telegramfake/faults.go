package telegramfake

import "time"

// The faults a test injects into single calls (FailNext, DropNext, DelayNext, FailNextRaw), and
// where the world keeps them and the rest of what it does wrong on demand: the misbehaviour of
// other Bot API servers (chaos.go) and Telegram's send limits (limits.go).

// injector is the Server's part a test turns faults and limits on with. Its methods are here,
// in chaos.go and in limits.go.
type injector struct{ *world }

// faults is what the fake does wrong or refuses on a test's demand, waiting for the calls it
// applies to (guarded by world.mu).
type faults struct {
	failures map[string][]failure
	delays   map[string][]delay
	// misbehaviour: what other Bot API servers were seen to do (chaos.go).
	pollQuirks []pollQuirk
	chaos      *chaos
	// limiter, when set, refuses sends past Telegram's limits; blocked
	// chats refuse every send (limits.go).
	limiter *limiter
	blocked map[int64]bool
}

// failure is how the next calls of a method fail, for as many calls as left says.
type failure struct {
	left       int
	code       int
	retryAfter int
	// drop closes the connection instead of answering, as a Bot API
	// behind a broken proxy or a restarting server does.
	drop bool
	// raw is the body answered instead of an error object.
	raw []byte
}

// delay is how long the answers of the next left calls of a method are held back.
type delay struct {
	left int
	d    time.Duration
}

// FailNext makes the next n calls of method fail without effect, answering errorCode with
// Telegram's description for it (403 reads "Forbidden: bot was blocked by the user"; 429
// "Too Many Requests: retry after N"). A positive retryAfter is sent as parameters.retry_after.
// Calls queue up: FailNext("sendMessage", 1, 429, 3) then FailNext("sendMessage", 1, 500, 0)
// fails the next call with 429 and the one after with 500.
func (s *injector) FailNext(method string, n int, errorCode int, retryAfter int) {
	if n <= 0 {
		return
	}
	name, _ := route(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[name] = append(s.failures[name], failure{left: n, code: errorCode, retryAfter: retryAfter})
}

// DropNext makes the next n calls of method fail without effect by closing the connection
// unanswered: the client sees a network error, not a Bot API error. It queues with FailNext.
func (s *injector) DropNext(method string, n int) {
	if n <= 0 {
		return
	}
	name, _ := route(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[name] = append(s.failures[name], failure{left: n, drop: true})
}

// DelayNext holds back the answer to the next n calls of method by d. The call takes effect at
// once, as a send that timed out on the client may still have been delivered by Telegram. The
// wait ends early when the client gives up or the server is closed.
func (s *injector) DelayNext(method string, n int, d time.Duration) {
	if n <= 0 || d <= 0 {
		return
	}
	name, _ := route(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[name] = append(s.delays[name], delay{left: n, d: d})
}

// FailNextRaw makes the next n calls of method fail without effect with an
// HTTP status and a body that is not a Bot API answer (an empty 502, a
// proxy's HTML page). It queues with FailNext.
func (s *injector) FailNextRaw(method string, n, status int, body string) {
	if n <= 0 {
		return
	}
	name, _ := route(method)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[name] = append(s.failures[name], failure{left: n, code: status, raw: []byte(body)})
}

// takeFaultsLocked consumes the injected delay and failure, if any, for one call of method; drop
// means the connection is to be closed unanswered.
func (s *faults) takeFaultsLocked(method string) (wait time.Duration, fail *apiError, drop bool) {
	if ds := s.delays[method]; len(ds) > 0 {
		wait = ds[0].d
		if ds[0].left--; ds[0].left == 0 {
			s.delays[method] = ds[1:]
		}
	}
	if fs := s.failures[method]; len(fs) > 0 {
		if fs[0].drop {
			drop = true
		} else {
			fail = injectedError(fs[0].code, fs[0].retryAfter)
			fail.raw = fs[0].raw
		}
		if fs[0].left--; fs[0].left == 0 {
			s.failures[method] = fs[1:]
		}
	}
	return wait, fail, drop
}
