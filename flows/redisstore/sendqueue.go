package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
)

// The send queues (flows.SendQueue): per chat a list of envelopes, oldest
// first; one sorted set of the chats that have any, scored by when they are
// due (now, the end of a claim, or the end of a wait after a failure); and
// per chat a claim, the token of the dispatcher delivering it, with a TTL
// so that a replica that dies only holds its chats for ClaimTTL.
//
// The scripts name the keys of the chats they find in the sorted set
// themselves, from the prefix, which a single Redis (or one with
// replicas) allows; a Redis Cluster would need the keys under one hash
// tag.

// sendQueue is the Store's part that keeps the send queues
// (flows.SendQueue), as described above. A turn's commit pushes onto them
// too (sessions.Commit), in its own script.
type sendQueue struct {
	conn
	// rides are the marks of sent messages waiting for a round trip
	// (rides.go), shared with the sessions part, whose turns carry them.
	rides *rides
}

// maxClaim bounds the chats one Claim takes.
const maxClaim = 200

// pushLua queues envelopes; it is the tail of the commit script and the
// whole of the enqueue script. The first envelope of an idle, empty queue
// claims the chat for the caller, whose dispatcher sends it at once; any
// other makes the chat due now unless it is claimed or waiting already.
// Locals: now (ms), claimTTL (ms), due and fence keys, first (index of the
// first envelope's KEYS and ARGV). Per envelope KEYS: queue, claim; ARGV:
// chat ID, envelope JSON. Appends chat, token, envelope index to claimed.
const pushLua = `
local n = (#KEYS - kfirst + 1) / 2
for i = 0, n - 1 do
  local q, c = KEYS[kfirst + 2 * i], KEYS[kfirst + 2 * i + 1]
  local chat, env = ARGV[afirst + 2 * i], ARGV[afirst + 2 * i + 1]
  if redis.call('RPUSH', q, env) == 1 and redis.call('EXISTS', c) == 0 then
    local token = redis.call('INCR', fence)
    redis.call('SET', c, token, 'PX', claimTTL)
    redis.call('ZADD', due, now + claimTTL, chat)
    claimed[#claimed + 1] = chat
    claimed[#claimed + 1] = token
    claimed[#claimed + 1] = i
  else
    redis.call('ZADD', due, 'NX', now, chat)
  end
end
`

const nowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// enqueueScript: KEYS due, fence, then per envelope queue and claim. ARGV
// claim TTL ms, then per envelope chat and JSON.
var enqueueScript = redis.NewScript(nowLua + `
local due, fence, claimTTL = KEYS[1], KEYS[2], tonumber(ARGV[1])
local kfirst, afirst = 3, 2
local claimed = {}
` + pushLua + `
return claimed`)

// queueArgs appends the per-envelope keys and arguments of pushLua.
func (s *sendQueue) queueArgs(keys []string, args []any, envs []flows.Envelope) ([]string, []any, error) {
	for _, env := range envs {
		raw, err := json.Marshal(env)
		if err != nil {
			return nil, nil, fmt.Errorf("encode message to chat %d: %w", env.ChatID, err)
		}
		keys = append(keys, s.queueKey(env.ChatID), s.claimKey(env.ChatID))
		args = append(args, env.ChatID, raw)
	}
	return keys, args, nil
}

// claimedBatches reads pushLua's claims: the queues this caller delivers.
func claimedBatches(res []any, envs []flows.Envelope) ([]flows.Batch, error) {
	var bs []flows.Batch
	for i := 0; i+2 < len(res); i += 3 {
		chat, err1 := toInt64(res[i])
		token, err2 := toInt64(res[i+1])
		idx, err3 := toInt64(res[i+2])
		if err1 != nil || err2 != nil || err3 != nil || idx < 0 || int(idx) >= len(envs) {
			return nil, fmt.Errorf("read queue claims: unexpected answer %v", res)
		}
		b := flows.Batch{ChatID: chat, Token: token, Head: envs[idx]}
		// The queue was empty: what the same call pushed after the head
		// follows it there, in order.
		for _, env := range envs[idx+1:] {
			if env.ChatID == chat {
				b.Then = append(b.Then, env)
			}
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// Enqueue implements flows.SendQueue.
func (s *sendQueue) Enqueue(ctx context.Context, envs []flows.Envelope) ([]flows.Batch, error) {
	if len(envs) == 0 {
		return nil, nil
	}
	keys, args, err := s.queueArgs([]string{s.dueKey(), s.queueFenceKey()}, []any{s.ClaimTTL().Milliseconds()}, envs)
	if err != nil {
		return nil, err
	}
	// What rides goes first: a chat whose last message was just sent is
	// free again, and this call claims it.
	cmd, _ := s.carry(ctx, enqueueScript, keys, args, nil)
	res, err := cmd.Slice()
	if err != nil {
		return nil, fmt.Errorf("queue %d messages: %w", len(envs), err)
	}
	return claimedBatches(res, envs)
}

// claimScript claims due chats nobody delivers, with their first
// messages; a chat whose queue is gone is dropped from the set.
// KEYS: due, fence. ARGV: prefix, max, claim TTL ms. Answers chat, token,
// envelope JSON for each claim.
var claimScript = redis.NewScript(nowLua + `
local due, fence, prefix, claimTTL = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[3])
local out = {}
for _, chat in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))) do
  local head = redis.call('LINDEX', prefix .. 'out:q:' .. chat, 0)
  local c = prefix .. 'out:claim:' .. chat
  if not head then
    redis.call('ZREM', due, chat)
    redis.call('DEL', c)
  elseif redis.call('EXISTS', c) == 0 then
    local token = redis.call('INCR', fence)
    redis.call('SET', c, token, 'PX', claimTTL)
    redis.call('ZADD', due, now + claimTTL, chat)
    out[#out + 1] = chat
    out[#out + 1] = token
    out[#out + 1] = head
  else
    redis.call('ZADD', due, now + redis.call('PTTL', c), chat)
  end
end
return out`)

// Claim implements flows.SendQueue.
func (s *sendQueue) Claim(ctx context.Context, max int) ([]flows.Batch, error) {
	max = min(max, maxClaim)
	if max <= 0 {
		return nil, nil
	}
	// Polled every few hundred milliseconds: it rides on a turn's round
	// trip (rides.go).
	cmds, err := s.ride(ctx, func(ctx context.Context, pipe redis.Pipeliner) []*redis.Cmd {
		return []*redis.Cmd{claimScript.EvalSha(ctx, pipe, []string{s.dueKey(), s.queueFenceKey()}, s.prefix, max,
			s.ClaimTTL().Milliseconds())}
	})
	var res []any
	if err == nil {
		res, err = cmds[0].Slice()
	}
	if err != nil {
		return nil, fmt.Errorf("claim send queues: %w", err)
	}
	var bs []flows.Batch
	for i := 0; i+2 < len(res); i += 3 {
		chat, err1 := toInt64(res[i])
		token, err2 := toInt64(res[i+1])
		raw, ok := res[i+2].(string)
		if err1 != nil || err2 != nil || !ok {
			return nil, fmt.Errorf("claim send queues: unexpected answer %v", res)
		}
		b := flows.Batch{ChatID: chat, Token: token}
		if err := json.Unmarshal([]byte(raw), &b.Head); err != nil {
			return nil, fmt.Errorf("decode queued message to chat %d: %w", chat, err)
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// doneScript pops the messages sent (the head and those sent before it
// under the claim) if the claim is still the caller's, and answers the
// next one, or gives the claim up when none is left.
// KEYS: queue, claim, due. ARGV: chat, token, claim TTL ms, messages sent.
// Answers -1 for a lost claim, 0 for an empty queue, else the next
// envelope.
var doneScript = redis.NewScript(nowLua + `
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
for i = 1, tonumber(ARGV[4]) do redis.call('LPOP', KEYS[1]) end
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[1])
return head`)

// doneAnswer reads one doneScript answer.
func doneAnswer(b flows.Batch, cmd *redis.Cmd) flows.Sent {
	res, err := cmd.Result()
	if err != nil {
		return flows.Sent{Err: fmt.Errorf("mark message to chat %d sent: %w", b.ChatID, err)}
	}
	switch v := res.(type) {
	case int64:
		if v < 0 {
			return flows.Sent{Err: fmt.Errorf("mark message to chat %d sent: %w", b.ChatID, flows.ErrClaimLost)}
		}
		return flows.Sent{}
	case string:
		next := flows.Batch{ChatID: b.ChatID, Token: b.Token}
		if err := json.Unmarshal([]byte(v), &next.Head); err != nil {
			return flows.Sent{Err: fmt.Errorf("decode queued message to chat %d: %w", b.ChatID, err)}
		}
		return flows.Sent{Next: next, More: true}
	}
	return flows.Sent{Err: fmt.Errorf("mark message to chat %d sent: unexpected answer %v", b.ChatID, res)}
}

// laterScript gives a claim up, making the chat due after a wait, and
// pops the messages sent under it before its head. KEYS: claim, due,
// queue. ARGV: chat, token, wait ms, messages sent.
var laterScript = redis.NewScript(nowLua + `
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
for i = 1, tonumber(ARGV[4]) do redis.call('LPOP', KEYS[3]) end
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1`)

// Later implements flows.SendQueue.
func (s *sendQueue) Later(ctx context.Context, b flows.Batch, d time.Duration) error {
	if err := laterScript.Run(ctx, s.rdb, []string{s.claimKey(b.ChatID), s.dueKey(), s.queueKey(b.ChatID)}, b.ChatID,
		b.Token, d.Milliseconds(), b.Sent).Err(); err != nil {
		return fmt.Errorf("give back the send queue of chat %d: %w", b.ChatID, err)
	}
	return nil
}

// extendClaimsScript renews the claims still held. KEYS: due, then the claims.
// ARGV: claim TTL ms, then per claim chat and token.
var extendClaimsScript = redis.NewScript(nowLua + `
local ttl = tonumber(ARGV[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2 * i - 1] then
    redis.call('PEXPIRE', KEYS[i], ttl)
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[2 * i - 2])
  end
end
return 0`)

// KeepClaims implements flows.SendQueue.
func (s *sendQueue) KeepClaims(ctx context.Context, bs []flows.Batch) error {
	keys := []string{s.dueKey()}
	args := []any{s.ClaimTTL().Milliseconds()}
	for _, b := range bs {
		keys = append(keys, s.claimKey(b.ChatID))
		args = append(args, b.ChatID, b.Token)
	}
	// Every few seconds: it rides on a turn's round trip (rides.go).
	cmds, err := s.ride(ctx, func(ctx context.Context, pipe redis.Pipeliner) []*redis.Cmd {
		return []*redis.Cmd{extendClaimsScript.EvalSha(ctx, pipe, keys, args...)}
	})
	if err == nil {
		err = cmds[0].Err()
	}
	if err != nil {
		return fmt.Errorf("extend %d send queue claims: %w", len(bs), err)
	}
	return nil
}

// Queued counts the messages waiting in every send queue, for /metrics
// and the tests.
func (s *sendQueue) Queued(ctx context.Context) (int, error) {
	chats, err := s.rdb.ZRange(ctx, s.dueKey(), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("list send queues: %w", err)
	}
	pipe := s.rdb.Pipeline()
	lens := make([]*redis.IntCmd, len(chats))
	for i, chat := range chats {
		lens[i] = pipe.LLen(ctx, s.queueKeyOf(chat))
	}
	if len(chats) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, fmt.Errorf("count queued messages: %w", err)
		}
	}
	n := 0
	for _, l := range lens {
		n += int(l.Val())
	}
	return n, nil
}

// ClaimTTL is how long a chat's send queue stays with a dispatcher that
// stopped renewing its claim (it died) before another takes it: the chat
// lease's TTL unless Options.ClaimTTL says otherwise, since a dead
// replica's chats are then free again all at once.
func (s *sendQueue) ClaimTTL() time.Duration {
	if s.opts.ClaimTTL > 0 {
		return s.opts.ClaimTTL
	}
	return s.opts.LeaseTTL
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("not a number: %v", v)
}
