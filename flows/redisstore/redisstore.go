// Package redisstore keeps dialog sessions, chat leases, handled-update
// marks, flood counters and ownership-proof lockouts in Redis. Everything a
// chat needs per update is two scripts: one takes the lease and reads, one
// writes and gives the lease back.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
)

// Defaults for how long keys live and how much a chat may send.
const (
	// DefaultUpdateMarkTTL outlives Telegram's 24 h redelivery window.
	DefaultUpdateMarkTTL = 48 * time.Hour
	// DefaultLeaseTTL bounds how long a crashed replica can keep a chat
	// waiting; a live one extends its lease long before it runs out.
	DefaultLeaseTTL = 10 * time.Second
	// DefaultFloodLimit inputs within DefaultFloodWindow is far more than
	// a person types or taps; past it a chat's inputs are dropped.
	DefaultFloodLimit  = 40
	DefaultFloodWindow = time.Minute
	// sessionGrace keeps an expired session long enough to tell the buyer
	// that their half-filled request expired.
	sessionGrace = 7 * 24 * time.Hour
	// maxLeaseWait bounds one wait for a busy chat between two reads of
	// its lease's remaining time.
	maxLeaseWait = 50 * time.Millisecond
)

// Store implements flows.SessionStore, flows.OwnershipAttempts and
// flows.EscalationMarks.
type Store struct {
	rdb        redis.UniversalClient
	prefix     string
	sessionTTL time.Duration
	markTTL    time.Duration
	opts       Options
}

// Options tunes the chat lease and the flood limit; zero fields take the
// defaults.
type Options struct {
	// LeaseTTL is how long a chat's lease lasts unless extended.
	LeaseTTL time.Duration
	// FloodLimit inputs per FloodWindow are handled; the rest are dropped.
	FloodLimit  int
	FloodWindow time.Duration
	// Prebook, when set, books one reply to a private chat in the round
	// trip that begins its turn, and hands the booking to Booked: nearly
	// every turn in a private chat answers, so the turn's own booking is
	// then only needed for its further replies. Groups are not prebooked:
	// most of what is said there is not for the bot, and their budget is
	// 20 messages a minute.
	Prebook Prebooker
	Booked  func(chatID int64, waits []time.Duration)
}

// Prebooker queues a booking of sends on a pipeline; sendlimit.Limiter
// implements it.
type Prebooker interface {
	QueueReserve(ctx context.Context, pipe redis.Pipeliner, chatID int64, n int) (read func() ([]time.Duration, error))
}

// New returns a store whose keys all start with prefix (e.g. "refundbot:"),
// so that tests and deployments can share a Redis. idleTTL is the dialog's
// idle timeout; keys live a grace period longer.
func New(rdb redis.UniversalClient, prefix string, idleTTL time.Duration) *Store {
	return NewWithOptions(rdb, prefix, idleTTL, Options{})
}

// NewWithOptions is New with the lease and flood limit set.
func NewWithOptions(rdb redis.UniversalClient, prefix string, idleTTL time.Duration, opts Options) *Store {
	if idleTTL <= 0 {
		idleTTL = flows.DefaultIdleTTL
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.FloodLimit <= 0 {
		opts.FloodLimit = DefaultFloodLimit
	}
	if opts.FloodWindow <= 0 {
		opts.FloodWindow = DefaultFloodWindow
	}
	return &Store{rdb: rdb, prefix: prefix, sessionTTL: idleTTL + sessionGrace, markTTL: DefaultUpdateMarkTTL, opts: opts}
}

// LeaseTTL is how long a lease lasts unless extended.
func (s *Store) LeaseTTL() time.Duration { return s.opts.LeaseTTL }

func (s *Store) sessionKey(chatID int64) string {
	return s.prefix + "sess:" + strconv.FormatInt(chatID, 10)
}

func (s *Store) leaseKey(chatID int64) string {
	return s.prefix + "lease:" + strconv.FormatInt(chatID, 10)
}

func (s *Store) floodKey(chatID int64) string {
	return s.prefix + "flood:" + strconv.FormatInt(chatID, 10)
}

// fenceKey counts leases ever given, across all chats: one counter keeps
// fences growing even when a chat's keys have expired.
func (s *Store) fenceKey() string { return s.prefix + "fence" }

func (s *Store) updateKey(id int) string { return s.prefix + "upd:" + strconv.Itoa(id) }

// epochKey holds the era of the update ids: a mark counts only when it was
// made in the current era, so that when the Bot API's ids start again (a
// self-hosted server lost its state, another bot behind the same prefix)
// the marks of the old ids do not swallow the new ones. Absent means era 1,
// the value marks had before eras existed.
func (s *Store) epochKey() string { return s.prefix + "upd:epoch" }

// topKey holds the highest update id seen in the current era.
func (s *Store) topKey() string { return s.prefix + "upd:top" }

// escalatedKey marks a chat that may have an open escalation
// (flows.EscalationMarks).
func (s *Store) escalatedKey(chatID int64) string {
	return s.prefix + "esc:" + strconv.FormatInt(chatID, 10)
}

// MarkEscalated implements flows.EscalationMarks. The mark has no expiry:
// an escalation may stay open for days; a stray one is cleared by the desk.
func (s *Store) MarkEscalated(ctx context.Context, chatID int64) error {
	if err := s.rdb.Set(ctx, s.escalatedKey(chatID), 1, 0).Err(); err != nil {
		return fmt.Errorf("mark chat %d escalated: %w", chatID, err)
	}
	return nil
}

// ClearEscalated implements flows.EscalationMarks.
func (s *Store) ClearEscalated(ctx context.Context, chatID int64) error {
	if err := s.rdb.Del(ctx, s.escalatedKey(chatID)).Err(); err != nil {
		return fmt.Errorf("clear the escalation mark of chat %d: %w", chatID, err)
	}
	return nil
}

func (s *Store) agentChatKey(userID int64) string {
	return s.prefix + "agentchat:" + strconv.FormatInt(userID, 10)
}

// SetAgentChat implements flows.AgentChats.
func (s *Store) SetAgentChat(ctx context.Context, userID int64, open bool) error {
	var err error
	if open {
		err = s.rdb.Set(ctx, s.agentChatKey(userID), 1, 0).Err()
	} else {
		err = s.rdb.Del(ctx, s.agentChatKey(userID)).Err()
	}
	if err != nil {
		return fmt.Errorf("record agent %d's private chat: %w", userID, err)
	}
	return nil
}

// AgentChat implements flows.AgentChats.
func (s *Store) AgentChat(ctx context.Context, userID int64) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.agentChatKey(userID)).Result()
	if err != nil {
		return false, fmt.Errorf("agent %d's private chat: %w", userID, err)
	}
	return n == 1, nil
}

// botKey holds the bot's Telegram id the marks were made for.
func (s *Store) botKey() string { return s.prefix + "upd:bot" }

// RestartGap is how far below the highest id seen an update's id must be
// to mean the ids started again. Telegram's ids only grow; what comes late
// (a redelivery, a retried batch of at most 100, webhook requests in
// parallel) comes within far fewer.
const RestartGap = 1000

func (s *Store) failKey(userID int64, orderID string) string {
	return s.prefix + "proof:" + strconv.FormatInt(userID, 10) + ":" + orderID
}

// beginScript takes a chat's lease and reads its session in one round trip.
// KEYS: lease, fence counter, session, flood counter, epoch, top id,
// escalation mark, the chat's album order, then the update marks. ARGV: lease ms, flood window ms, flood limit (0: none),
// mark TTL ms, the input's highest update id (-1: none), RestartGap, its
// lowest update id (-1: none).
// Answers {"busy", ms left}, {"dup"}, {"flood", inputs}, or {"ok", fence,
// restarted (0/1), escalation mark (0/1)[, session]}. An id far below the highest seen starts a new
// era of ids first (restarted 1). A duplicate is not counted against the
// flood limit, and an input over the limit is marked handled at once, so
// that it costs nothing more and a redelivery is dropped too. An input
// that came after an album item of the chat not yet handled (album.go) is
// busy (ms left -1) until that album's turn is over: a "done" pressed
// right after an album must see the album's files.
var beginScript = redis.NewScript(`
local left = redis.call('PTTL', KEYS[1])
if left ~= -2 then return {'busy', left} end
local low = tonumber(ARGV[7])
if low >= 0 and #redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', '(' .. low, 'LIMIT', 0, 1) > 0 then
  return {'busy', -1}
end
local epoch = redis.call('GET', KEYS[5]) or '1'
local id = tonumber(ARGV[5])
local top = tonumber(redis.call('GET', KEYS[6]) or '0')
local restarted = 0
if id >= 0 and id < top - tonumber(ARGV[6]) then
  epoch = tostring(tonumber(epoch) + 1)
  redis.call('SET', KEYS[5], epoch)
  redis.call('SET', KEYS[6], id)
  restarted = 1
elseif id > top then
  redis.call('SET', KEYS[6], id)
end
for i = 9, #KEYS do
  if redis.call('GET', KEYS[i]) == epoch then return {'dup'} end
end
local limit = tonumber(ARGV[3])
local n = 0
if limit > 0 then n = redis.call('INCR', KEYS[4]) end
if n == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[2]) end
if limit > 0 and n > limit then
  for i = 9, #KEYS do redis.call('SET', KEYS[i], epoch, 'PX', ARGV[4]) end
  return {'flood', n}
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
local marked = redis.call('EXISTS', KEYS[7])
local sess = redis.call('GET', KEYS[3])
if sess then return {'ok', fence, restarted, marked, sess} end
return {'ok', fence, restarted, marked}`)

// Begin implements flows.SessionStore.
func (s *Store) Begin(ctx context.Context, chatID int64, updateIDs []int) (flows.Claim, error) {
	keys := make([]string, 8, 8+len(updateIDs))
	keys[0], keys[1], keys[2], keys[3] = s.leaseKey(chatID), s.fenceKey(), s.sessionKey(chatID), s.floodKey(chatID)
	keys[4], keys[5], keys[6], keys[7] = s.epochKey(), s.topKey(), s.escalatedKey(chatID), s.albumOrderKey(chatID)
	top, low := -1, -1 // no ids: nothing to compare
	for i, id := range updateIDs {
		keys = append(keys, s.updateKey(id))
		top = max(top, id)
		if i == 0 || id < low {
			low = id
		}
	}
	prebook := s.opts.Prebook != nil && s.opts.Booked != nil && chatID > 0
	for {
		res, err := s.begin(ctx, chatID, keys, top, low, prebook)
		if err != nil {
			return flows.Claim{}, fmt.Errorf("begin chat %d: %w", chatID, err)
		}
		switch res[0] {
		case "dup":
			return flows.Claim{Duplicate: true}, nil
		case "flood":
			return flows.Claim{Flooded: true, FirstFlooded: res[1].(int64) == int64(s.opts.FloodLimit)+1}, nil
		case "busy":
			// Another handler has the chat; its turn takes milliseconds,
			// a crashed one's lease runs out. The booking made with this
			// try is the first the turn uses, once it gets the lease.
			prebook = false
			wait := maxLeaseWait
			if left := time.Duration(res[1].(int64)) * time.Millisecond; left > 0 {
				wait = min(left, wait)
			}
			if err := sleep(ctx, max(wait, time.Millisecond)); err != nil {
				return flows.Claim{}, fmt.Errorf("begin chat %d: wait for its lease: %w", chatID, err)
			}
			continue
		}
		claim := flows.Claim{Fence: res[1].(int64), IDsRestarted: res[2].(int64) == 1, MaybeEscalated: res[3].(int64) == 1}
		if len(res) > 4 {
			raw, _ := res[4].(string)
			// A session this version cannot read is dropped rather than
			// wedging the chat forever; the buyer starts again.
			if err := json.Unmarshal([]byte(raw), &claim.Session); err != nil {
				claim.Session = flows.Session{}
			}
		}
		return claim, nil
	}
}

// begin runs beginScript, with the prebooking in the same round trip when
// asked. A failed prebooking costs nothing but the turn booking its first
// reply itself.
func (s *Store) begin(ctx context.Context, chatID int64, keys []string, topID, lowID int, prebook bool) ([]any, error) {
	// Only private chats have a flood limit: a group's inputs are many
	// people's, and in the agents' team chat a dropped message would be
	// an agent's answer to a buyer.
	limit := s.opts.FloodLimit
	if chatID < 0 {
		limit = 0
	}
	args := []any{s.opts.LeaseTTL.Milliseconds(), s.opts.FloodWindow.Milliseconds(), limit, s.markTTL.Milliseconds(),
		topID, RestartGap, lowID}
	if !prebook {
		return beginScript.Run(ctx, s.rdb, keys, args...).Slice()
	}
	pipe := s.rdb.Pipeline()
	cmd := beginScript.EvalSha(ctx, pipe, keys, args...)
	booked := s.opts.Prebook.QueueReserve(ctx, pipe, chatID, 1)
	_, _ = pipe.Exec(ctx) // each command's own error is read below
	if waits, err := booked(); err == nil {
		s.opts.Booked(chatID, waits)
	}
	res, err := cmd.Slice()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Redis lost its scripts (a restart): Run loads it again.
		return beginScript.Run(ctx, s.rdb, keys, args...).Slice()
	}
	return res, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// commitScript saves a turn only if its lease is still held, marking its
// updates handled in the current era of ids.
// KEYS: lease, session, epoch, then the update marks. ARGV: fence, session
// JSON ("" deletes it), session TTL ms, mark TTL ms.
var commitScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
local epoch = redis.call('GET', KEYS[3]) or '1'
for i = 4, #KEYS do redis.call('SET', KEYS[i], epoch, 'PX', ARGV[4]) end
redis.call('DEL', KEYS[1])
return 1`)

// Commit implements flows.SessionStore.
func (s *Store) Commit(ctx context.Context, chatID int64, fence int64, sess *flows.Session, updateIDs []int) error {
	var raw []byte
	if sess != nil {
		var err error
		if raw, err = json.Marshal(sess); err != nil {
			return fmt.Errorf("encode session of chat %d: %w", chatID, err)
		}
	}
	keys := make([]string, 3, 3+len(updateIDs))
	keys[0], keys[1], keys[2] = s.leaseKey(chatID), s.sessionKey(chatID), s.epochKey()
	for _, id := range updateIDs {
		keys = append(keys, s.updateKey(id))
	}
	saved, err := commitScript.Run(ctx, s.rdb, keys, fence, raw, s.sessionTTL.Milliseconds(), s.markTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("commit chat %d: %w", chatID, err)
	}
	if saved == 0 {
		return fmt.Errorf("commit chat %d with fence %d: %w", chatID, fence, flows.ErrLeaseLost)
	}
	return nil
}

// claimBotScript records the bot the update marks are for; another bot
// (a new token behind the same prefix) starts a new era of ids.
// KEYS: bot, epoch, top id. ARGV: the bot's id. Answers 1 when it changed.
var claimBotScript = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
if old == false or old == ARGV[1] then return 0 end
redis.call('SET', KEYS[2], tonumber(redis.call('GET', KEYS[2]) or '1') + 1)
redis.call('DEL', KEYS[3])
return 1`)

// ClaimBot records that the updates are botID's. It reports whether the
// prefix held another bot's marks, which no longer count from now on.
func (s *Store) ClaimBot(ctx context.Context, botID int64) (changed bool, err error) {
	n, err := claimBotScript.Run(ctx, s.rdb, []string{s.botKey(), s.epochKey(), s.topKey()}, botID).Int()
	if err != nil {
		return false, fmt.Errorf("record bot %d for the update marks: %w", botID, err)
	}
	return n == 1, nil
}

// releaseScript drops a lease only if it is still the caller's; extendScript
// renews it on the same condition. KEYS: lease. ARGV: fence[, lease ms].
var (
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`)
	extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`)
)

// Release implements flows.SessionStore.
func (s *Store) Release(ctx context.Context, chatID int64, fence int64) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.leaseKey(chatID)}, fence).Err(); err != nil {
		return fmt.Errorf("release chat %d: %w", chatID, err)
	}
	return nil
}

// Extend implements flows.SessionStore.
func (s *Store) Extend(ctx context.Context, chatID int64, fence int64) error {
	held, err := extendScript.Run(ctx, s.rdb, []string{s.leaseKey(chatID)}, fence, s.opts.LeaseTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("extend lease of chat %d: %w", chatID, err)
	}
	if held == 0 {
		return fmt.Errorf("extend lease of chat %d with fence %d: %w", chatID, fence, flows.ErrLeaseLost)
	}
	return nil
}

// Locked implements flows.OwnershipAttempts.
func (s *Store) Locked(ctx context.Context, userID int64, orderID string, limit int) (time.Duration, error) {
	key := s.failKey(userID, orderID)
	pipe := s.rdb.Pipeline()
	count := pipe.Get(ctx, key)
	ttl := pipe.PTTL(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read proof failures of user %d order %s: %w", userID, orderID, err)
	}
	n, err := count.Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read proof failures of user %d order %s: %w", userID, orderID, err)
	}
	if n < limit || ttl.Val() <= 0 {
		return 0, nil
	}
	return ttl.Val(), nil
}

// failScript counts a failure: the first starts the counting window, the
// one that reaches the limit restarts the TTL as the lockout, so the lock
// lasts the full period from the last wrong answer.
const failScript = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or n >= tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return n`

// Fail implements flows.OwnershipAttempts.
func (s *Store) Fail(ctx context.Context, userID int64, orderID string, limit int, lockFor time.Duration) (int, error) {
	n, err := s.rdb.Eval(ctx, failScript, []string{s.failKey(userID, orderID)}, limit, lockFor.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("record proof failure of user %d order %s: %w", userID, orderID, err)
	}
	return n, nil
}
