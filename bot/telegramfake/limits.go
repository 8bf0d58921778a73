package telegramfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Limits are the sending limits the fake enforces when asked to, as
// Telegram does: a message past one is refused with 429 Too Many Requests
// and a retry_after. Each is a sliding window: at most Max messages in any
// Per.
type Limits struct {
	// Global counts every message of the bot.
	Global Window
	// Chat counts a private chat's; Group a group's (negative chat IDs).
	Chat  Window
	Group Window
}

// Window is Max messages in any Per.
type Window struct {
	Max int
	Per time.Duration
}

// TelegramLimits are Telegram's published limits: 30 messages a second
// per bot, about one a second per chat with short bursts, 20 a minute per
// group.
func TelegramLimits() Limits {
	return Limits{
		Global: Window{Max: 30, Per: time.Second},
		Chat:   Window{Max: 3, Per: time.Second},
		Group:  Window{Max: 20, Per: time.Minute},
	}
}

// edgeSlack is how much of a window's edge the fake forgives: the bot
// paces by Redis's clock and the fake counts by its own, a request takes
// a moment to arrive, and a pace that is exact to the window (a group's
// 21st message 60 s after its 1st) must not hang on microseconds.
const edgeSlack = 50 * time.Millisecond

// limiter is the fake's record of what it accepted, per chat and in all.
type limiter struct {
	limits  Limits
	global  []time.Time
	chats   map[int64][]time.Time
	refused int
}

// EnforceLimits makes every send, album and edit count against l from now
// on; past a limit the call is refused with 429, as Telegram would.
func (s *injector) EnforceLimits(l Limits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limiter = &limiter{limits: l, chats: map[int64][]time.Time{}}
}

// LimitRefusals counts the calls refused for a limit since EnforceLimits.
func (s *observer) LimitRefusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limiter == nil {
		return 0
	}
	return s.limiter.refused
}

// limitedMessages is how many messages a call delivers, for the methods
// the limits count.
func limitedMessages(method string, req *request) int {
	switch method {
	case "sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption", "copyMessage",
		"forwardMessage":
		return 1
	case "sendMediaGroup":
		var media []json.RawMessage
		if json.Unmarshal([]byte(req.str("media")), &media) != nil || len(media) == 0 {
			return 1
		}
		return len(media)
	}
	return 0
}

// Block makes the chat refuse everything the bot sends it, as a user who
// blocked the bot does (403 "Forbidden: bot was blocked by the user"),
// until Unblock.
func (s *injector) Block(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked == nil {
		s.blocked = map[int64]bool{}
	}
	s.blocked[chatID] = true
}

// Unblock lets the bot send to the chat again.
func (s *injector) Unblock(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, chatID)
}

// refuse answers what Telegram would refuse before doing a call: a send to
// a chat that blocked the bot, or one past the limits.
func (s *world) refuse(method string, req *request) *apiError {
	n := limitedMessages(method, req)
	if n == 0 {
		return nil
	}
	chat, err := strconv.ParseInt(req.str("chat_id"), 10, 64)
	if err != nil {
		return nil // the method answers its own 400
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[chat] {
		return injectedError(http.StatusForbidden, 0)
	}
	return s.overLimitLocked(chat, n)
}

// overLimitLocked books the call's messages, or refuses it with 429 when
// one of the windows is full. A refused call books nothing.
func (s *faults) overLimitLocked(chat int64, n int) *apiError {
	l := s.limiter
	if l == nil {
		return nil
	}
	w := l.limits.Chat
	if chat < 0 {
		w = l.limits.Group
	}
	now := time.Now()
	global := trim(l.global, now, l.limits.Global.Per)
	inChat := trim(l.chats[chat], now, w.Per)
	wait := max(waitFor(global, n, l.limits.Global, now), waitFor(inChat, n, w, now))
	if wait > 0 {
		l.global, l.chats[chat] = global, inChat
		l.refused++
		secs := int(math.Ceil(wait.Seconds()))
		return &apiError{code: http.StatusTooManyRequests, retryAfter: secs,
			desc: fmt.Sprintf("Too Many Requests: retry after %d", secs)}
	}
	for range n {
		global, inChat = append(global, now), append(inChat, now)
	}
	l.global, l.chats[chat] = global, inChat
	return nil
}

// trim drops the times that left the window.
func trim(times []time.Time, now time.Time, per time.Duration) []time.Time {
	i := 0
	for i < len(times) && now.Sub(times[i]) >= per-edgeSlack {
		i++
	}
	return times[i:]
}

// waitFor is how long until n more messages fit the window; 0 when they
// fit now. A window that can never hold n (Max below n) waits a whole Per.
func waitFor(times []time.Time, n int, w Window, now time.Time) time.Duration {
	if w.Max <= 0 || len(times)+n <= w.Max {
		return 0
	}
	if n > w.Max || len(times) == 0 {
		return w.Per
	}
	// The oldest messages must leave until n fit.
	leave := min(len(times)+n-w.Max, len(times))
	return times[leave-1].Add(w.Per - edgeSlack).Sub(now)
}
