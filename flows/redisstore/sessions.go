package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
)

// sessions is the turn runtime's side (flows.SessionStore): a chat's lease,
// its session, its flood counter and the handled-update marks, read and
// written by two scripts per turn.
type sessions struct {
	conn
	sessionTTL time.Duration
	// queue is the send queue a commit pushes the turn's messages onto,
	// in the same script.
	queue sendQueue
}

// LeaseTTL is how long a lease lasts unless extended.
func (s *sessions) LeaseTTL() time.Duration { return s.opts.LeaseTTL }

// beginScript takes a chat's lease and reads its session in one round trip.
// KEYS: lease, fence counter, session, flood counter, epoch, top id,
// escalation mark, the chat's album order, the agent-chat mark (a staff
// member's private chat, which has no flood limit: an agent holding five
// chats answers more than a buyer types), the user's ownership locks
// (attempts.go), then the update marks. ARGV: lease ms, flood window ms,
// flood limit (0: none), mark TTL ms, the input's highest update id (-1:
// none), RestartGap, its lowest update id (-1: none).
// Answers {"busy", ms left}, {"dup"}, {"flood", inputs}, or {"ok", fence,
// restarted (0/1), escalation mark (0/1), locks (order, ms left, ...)[,
// session]}. An id far below the highest seen starts a new
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
for i = 11, #KEYS do
  if redis.call('GET', KEYS[i]) == epoch then return {'dup'} end
end
local limit = tonumber(ARGV[3])
if limit > 0 and redis.call('EXISTS', KEYS[9]) == 1 then limit = 0 end
local n = 0
if limit > 0 then n = redis.call('INCR', KEYS[4]) end
if n == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[2]) end
if limit > 0 and n > limit then
  for i = 11, #KEYS do redis.call('SET', KEYS[i], epoch, 'PX', ARGV[4]) end
  return {'flood', n}
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], fence, 'PX', ARGV[1])
local marked = redis.call('EXISTS', KEYS[7])
local locks = redis.call('HGETALL', KEYS[10])
local left = {}
if #locks > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for i = 1, #locks, 2 do
    local ms = tonumber(locks[i + 1]) - now
    if ms > 0 then
      left[#left + 1] = locks[i]
      left[#left + 1] = ms
    end
  end
end
local sess = redis.call('GET', KEYS[3])
if sess then return {'ok', fence, restarted, marked, left, sess} end
return {'ok', fence, restarted, marked, left}`)

// Begin implements flows.SessionStore.
func (s *sessions) Begin(ctx context.Context, chatID int64, updateIDs []int) (flows.Claim, error) {
	keys := make([]string, 10, 10+len(updateIDs))
	keys[0], keys[1], keys[2], keys[3] = s.leaseKey(chatID), s.fenceKey(), s.sessionKey(chatID), s.floodKey(chatID)
	keys[4], keys[5], keys[6], keys[7] = s.epochKey(), s.topKey(), s.escalatedKey(chatID), s.albumOrderKey(chatID)
	// A private chat's ID is its user's, whose locks these are; a group
	// proves no ownership and has none.
	keys[8], keys[9] = s.agentChatKey(chatID), s.locksKey(chatID)
	top, low := -1, -1 // no ids: nothing to compare
	for i, id := range updateIDs {
		keys = append(keys, s.updateKey(id))
		top = max(top, id)
		if i == 0 || id < low {
			low = id
		}
	}
	for {
		res, err := s.begin(ctx, chatID, keys, top, low)
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
			// a crashed one's lease runs out.
			wait := maxLeaseWait
			if left := time.Duration(res[1].(int64)) * time.Millisecond; left > 0 {
				wait = min(left, wait)
			}
			if err := flows.Sleep(ctx, max(wait, time.Millisecond)); err != nil {
				return flows.Claim{}, fmt.Errorf("begin chat %d: wait for its lease: %w", chatID, err)
			}
			continue
		}
		claim := flows.Claim{Fence: res[1].(int64), IDsRestarted: res[2].(int64) == 1, MaybeEscalated: res[3].(int64) == 1}
		claim.OwnershipLocks = ownershipLocks(res[4])
		if len(res) > 5 {
			raw, _ := res[5].(string)
			// A session this version cannot read is dropped rather than
			// wedging the chat forever; the buyer starts again.
			if err := json.Unmarshal([]byte(raw), &claim.Session); err != nil {
				claim.Session = flows.Session{}
			}
		}
		return claim, nil
	}
}

// ownershipLocks reads beginScript's locks: order ID, ms left, and so on.
func ownershipLocks(res any) map[string]time.Duration {
	flat, _ := res.([]any)
	if len(flat) == 0 {
		return nil
	}
	locks := make(map[string]time.Duration, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		order, _ := flat[i].(string)
		ms, _ := flat[i+1].(int64)
		locks[order] = time.Duration(ms) * time.Millisecond
	}
	return locks
}

// begin runs beginScript.
func (s *sessions) begin(ctx context.Context, chatID int64, keys []string, topID, lowID int) ([]any, error) {
	// Only private chats have a flood limit: a group's inputs are many
	// people's, and in the agents' team chat a dropped message would be
	// an agent's answer to a buyer.
	limit := s.opts.FloodLimit
	if chatID < 0 {
		limit = 0
	}
	args := []any{s.opts.LeaseTTL.Milliseconds(), s.opts.FloodWindow.Milliseconds(), limit, s.markTTL.Milliseconds(),
		topID, RestartGap, lowID}
	// The dispatcher's waiting calls ride along (rides.go).
	cmd, _ := s.queue.carry(ctx, beginScript, keys, args, nil)
	return cmd.Slice()
}

// commitScript saves a turn only if its lease is still held, marking its
// updates handled in the current era of ids and queueing its messages, all
// or nothing: a turn is never saved without its replies, nor its replies
// sent without the turn.
// KEYS: lease, session, epoch, send queue due set and fence, the update
// marks, then per message its queue and claim. ARGV: fence, session JSON
// ("" deletes it), session TTL ms, mark TTL ms, claim TTL ms, then per
// message chat and JSON. Answers -1 for a lost lease, else the queue
// claims (pushLua).
var commitScript = redis.NewScript(nowLua + `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
local marks = tonumber(ARGV[6])
local epoch = redis.call('GET', KEYS[3]) or '1'
for i = 6, 5 + marks do redis.call('SET', KEYS[i], epoch, 'PX', ARGV[4]) end
redis.call('DEL', KEYS[1])
local due, fence, claimTTL = KEYS[4], KEYS[5], tonumber(ARGV[5])
local kfirst, afirst = 6 + marks, 7
local claimed = {}
` + pushLua + `
return claimed`)

// Commit implements flows.SessionStore.
func (s *sessions) Commit(ctx context.Context, chatID int64, fence int64, sess *flows.Session, updateIDs []int,
	out []flows.Envelope) ([]flows.Batch, error) {
	var raw []byte
	if sess != nil {
		var err error
		if raw, err = json.Marshal(sess); err != nil {
			return nil, fmt.Errorf("encode session of chat %d: %w", chatID, err)
		}
	}
	keys := make([]string, 5, 5+len(updateIDs)+2*len(out))
	keys[0], keys[1], keys[2] = s.leaseKey(chatID), s.sessionKey(chatID), s.epochKey()
	keys[3], keys[4] = s.dueKey(), s.queueFenceKey()
	for _, id := range updateIDs {
		keys = append(keys, s.updateKey(id))
	}
	args := []any{fence, raw, s.sessionTTL.Milliseconds(), s.markTTL.Milliseconds(), s.queue.ClaimTTL().Milliseconds(),
		len(updateIDs)}
	keys, args, err := s.queue.queueArgs(keys, args, out)
	if err != nil {
		return nil, err
	}
	res, booked, err := s.commit(ctx, chatID, keys, args, replies(chatID, out))
	if err != nil {
		return nil, fmt.Errorf("commit chat %d: %w", chatID, err)
	}
	claims, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("commit chat %d with fence %d: %w", chatID, fence, flows.ErrLeaseLost)
	}
	bs, err := claimedBatches(claims, out)
	if err != nil {
		return nil, err
	}
	for i := range bs {
		if bs[i].ChatID == chatID {
			bs[i].Booked = booked
		}
	}
	return bs, nil
}

// replies counts the messages a turn sends to a private chat, those the
// limiter counts: a menu losing its buttons is not one.
func replies(chatID int64, out []flows.Envelope) int {
	if chatID <= 0 {
		return 0
	}
	n := 0
	for _, env := range out {
		if env.ChatID == chatID && env.Unbutton == 0 {
			n++
		}
	}
	return n
}

// commit runs commitScript and, with a Booker and replies to book, books
// them in the same round trip. The booking is made whether or not the
// commit claims the chat; it is used only when it does, which it does
// unless the chat's queue was already busy (rarely, for a buyer): then the
// slots go unused and the chat's later messages wait that much longer.
//
// The dispatcher's marks of sent messages ride along (rides.go), in front,
// so that a chat whose last message was just sent is free again for this
// commit to claim (and book).
func (s *sessions) commit(ctx context.Context, chatID int64, keys []string, args []any, replies int) (any, []time.Time, error) {
	var (
		book func() ([]time.Duration, error)
		also func(redis.Pipeliner)
	)
	if s.opts.Booker != nil && replies > 0 {
		also = func(pipe redis.Pipeliner) { book = s.opts.Booker.QueueReserve(ctx, pipe, chatID, replies) }
	}
	cmd, alone := s.queue.carry(ctx, commitScript, keys, args, also)
	res, err := cmd.Result()
	if alone || book == nil {
		// Nothing booked, or Redis had lost the script and it went again
		// by itself: the replies are booked as they go.
		return res, nil, err
	}
	waits, berr := book()
	if err != nil || berr != nil {
		return res, nil, err
	}
	now := time.Now()
	booked := make([]time.Time, len(waits))
	for i, w := range waits {
		booked[i] = now.Add(w)
	}
	return res, booked, nil
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
func (s *sessions) Release(ctx context.Context, chatID int64, fence int64) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.leaseKey(chatID)}, fence).Err(); err != nil {
		return fmt.Errorf("release chat %d: %w", chatID, err)
	}
	return nil
}

// Extend implements flows.SessionStore.
func (s *sessions) Extend(ctx context.Context, chatID int64, fence int64) error {
	held, err := extendScript.Run(ctx, s.rdb, []string{s.leaseKey(chatID)}, fence, s.opts.LeaseTTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("extend lease of chat %d: %w", chatID, err)
	}
	if held == 0 {
		return fmt.Errorf("extend lease of chat %d with fence %d: %w", chatID, fence, flows.ErrLeaseLost)
	}
	return nil
}
