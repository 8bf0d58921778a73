// Package sendlimit paces the bot's messages within Telegram's limits —
// about 30 messages a second per bot, one a second per chat, 20 a minute per
// group — with buckets in Redis that every replica draws from, so that N
// replicas together stay within what one bot may send.
//
// Each bucket is a GCRA (generic cell rate algorithm) cell: one timestamp
// per key, the theoretical arrival time of the next message. A reservation
// books messages in order and returns when each may go; it never fails and
// never needs a retry, so booking a turn's replies costs one round trip
// however many there are and however busy the bot is.
package sendlimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rate is a bucket's pace: Count messages per Per, with Burst of them
// allowed back to back after a quiet spell. The global rate's Per is a
// second and its Burst unused: its calendar allows Count in any second.
type Rate struct {
	Count int
	Per   time.Duration
	Burst int
}

// interval is the time one message costs.
func (r Rate) interval() time.Duration { return r.Per / time.Duration(r.Count) }

// tolerance is how far ahead of its pace a bucket may run.
func (r Rate) tolerance() time.Duration { return time.Duration(max(r.Burst, 1)-1) * r.interval() }

// Valid reports whether the rate can pace anything.
func (r Rate) Valid() bool { return r.Count > 0 && r.Per > 0 && r.Burst >= 0 }

// Limits are the three buckets a message draws from.
type Limits struct {
	// Global is shared by every message of the bot.
	Global Rate
	// Chat is per private chat; Group per group or supergroup (negative
	// chat IDs).
	Chat  Rate
	Group Rate
}

// DefaultLimits keep within Telegram's published limits. The bot books 25
// messages a second, not 30, because what Telegram counts is arrivals: a
// replica held up for a moment sends a few booked messages late, into the
// next second's. At 28 booked, three loaded replicas were seen to land 32
// in one second; at 25 they stay under 30. A chat may get a
// turn's few replies at once, as Telegram tolerates short bursts; a group
// gets one every 3 s and no burst, because a burst of 3 after a quiet
// spell lets a minute hold 22, and Telegram counts any 60 s.
func DefaultLimits() Limits {
	return Limits{
		Global: Rate{Count: 25, Per: time.Second, Burst: 1},
		Chat:   Rate{Count: 1, Per: time.Second, Burst: 3},
		Group:  Rate{Count: 20, Per: time.Minute, Burst: 1},
	}
}

// Limiter books messages against the shared buckets.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	limits Limits
}

// New returns a Limiter whose keys start with prefix.
func New(rdb redis.UniversalClient, prefix string, limits Limits) (*Limiter, error) {
	for name, r := range map[string]Rate{"global": limits.Global, "chat": limits.Chat, "group": limits.Group} {
		if !r.Valid() {
			return nil, fmt.Errorf("send limit %s: %+v is no rate", name, r)
		}
	}
	if limits.Global.Per != time.Second {
		return nil, fmt.Errorf("send limit global: per %v; the global calendar counts messages per second", limits.Global.Per)
	}
	return &Limiter{rdb: rdb, prefix: prefix, limits: limits}, nil
}

// reserveScript books n messages in order. Redis's clock is the one clock
// all replicas share, so times are Redis's, in microseconds.
//
// The chat's bucket is one GCRA cell. The global bucket is a calendar of
// one-second slots, each cut into as many places as the rate allows in a
// second (25 places of 40 ms at 25/s), a bitmap of the places taken: a
// message takes the first free place at or after the time its chat lets
// it go. So a message its chat makes wait books the second it will go in
// and neither blocks the other chats now nor goes unaccounted then, and a
// place booked late in a second does not push earlier ones after it. No
// calendar second holds more than the rate, and no sliding one more than
// the rate and one.
//
// KEYS: the chat's bucket, then the prefix of the global slots.
// ARGV: n, the global interval, the chat's interval and tolerance, all µs.
// Answers each message's wait in µs from now.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n, gi, ci, ct = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local places = math.floor(1000000 / gi)
local c = tonumber(redis.call('GET', KEYS[1]) or now)
local waits = {}
local at = now
for i = 1, n do
  at = math.max(at, c - ct)
  for _ = 1, 3600 do
    local slot = math.floor(at / 1000000)
    local base = slot * 1000000
    local key = KEYS[2] .. slot
    local place = math.floor((at - base) / gi)
    local taken = false
    while place < places do
      if redis.call('GETBIT', key, place) == 0 then
        redis.call('SETBIT', key, place, 1)
        redis.call('PEXPIREAT', key, math.ceil((base + 2000000) / 1000))
        at = math.max(at, base + place * gi)
        taken = true
        break
      end
      place = place + 1
    end
    if taken then break end
    at = base + 1000000
  end
  c = math.max(c, at) + ci
  waits[i] = at - now
end
redis.call('SET', KEYS[1], string.format('%d', c), 'PX', math.ceil((c - now) / 1000) + 1000)
return waits`)

// Reserve books n messages to chatID and returns how long from now to wait
// before sending each, in order. The waits only grow, so messages to one
// chat stay in the order they were booked.
func (l *Limiter) Reserve(ctx context.Context, chatID int64, n int) ([]time.Duration, error) {
	if n <= 0 {
		return nil, nil
	}
	res, err := reserveScript.Run(ctx, l.rdb, l.reserveKeys(chatID), l.reserveArgs(chatID, n)...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("reserve %d sends to chat %d: %w", n, chatID, err)
	}
	return microseconds(res), nil
}

func (l *Limiter) reserveKeys(chatID int64) []string {
	return []string{l.chatKey(chatID), l.globalKey()}
}

func (l *Limiter) reserveArgs(chatID int64, n int) []any {
	chat, g := l.chatRate(chatID), l.limits.Global
	return []any{n, g.interval().Microseconds(), chat.interval().Microseconds(), chat.tolerance().Microseconds()}
}

func microseconds(res []int64) []time.Duration {
	waits := make([]time.Duration, len(res))
	for i, us := range res {
		waits[i] = time.Duration(us) * time.Microsecond
	}
	return waits
}

// holdScript pushes a bucket's next arrival so that nothing may go before
// now + hold. KEYS: the bucket. ARGV: hold and the bucket's tolerance, in µs.
var holdScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local c = tonumber(redis.call('GET', KEYS[1]) or 0)
if c < until_ then
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', math.ceil((until_ - now) / 1000) + 1000)
end
return 0`)

// Hold stops every replica from sending to chatID for d: Telegram answered
// 429 with retry_after d, and a message another replica sent meanwhile
// would be refused too and lengthen the wait.
func (l *Limiter) Hold(ctx context.Context, chatID int64, d time.Duration) error {
	if err := holdScript.Run(ctx, l.rdb, []string{l.chatKey(chatID)}, d.Microseconds(), l.chatRate(chatID).tolerance().Microseconds()).Err(); err != nil {
		return fmt.Errorf("hold sends to chat %d for %v: %w", chatID, d, err)
	}
	return nil
}

// chatRate is the bucket of a private chat or, for negative IDs, a group.
func (l *Limiter) chatRate(chatID int64) Rate {
	if chatID < 0 {
		return l.limits.Group
	}
	return l.limits.Chat
}

// globalKey prefixes the calendar's slots. Its name changed with the slots'
// shape (a number, then a bitmap of places), so that replicas of the two
// versions during a rolling deploy keep calendars of their own rather than
// misread each other's.
func (l *Limiter) globalKey() string { return l.prefix + "send:places:" }

func (l *Limiter) chatKey(chatID int64) string {
	return l.prefix + "send:" + strconv.FormatInt(chatID, 10)
}

// QueueReserve queues on pipe the booking of n messages to chatID, for a
// caller that books in a round trip it makes anyway (the session store, as
// a turn commits). The returned read gives the waits once pipe has run. A
// Redis that lost its scripts (a restart) answers NOSCRIPT here; the
// messages are then booked one by one as they go, which loads the script
// again.
func (l *Limiter) QueueReserve(ctx context.Context, pipe redis.Pipeliner, chatID int64, n int) (read func() ([]time.Duration, error)) {
	cmd := reserveScript.EvalSha(ctx, pipe, l.reserveKeys(chatID), l.reserveArgs(chatID, n)...)
	return func() ([]time.Duration, error) {
		res, err := cmd.Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("reserve %d sends to chat %d: %w", n, chatID, err)
		}
		return microseconds(res), nil
	}
}
