package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundbot/refundbot/flows"
)

// Albums in webhook mode. Telegram posts an album's messages one webhook
// request at a time (a chat's next update only after the last one was
// answered), so they reach whichever replicas the balancer picks. Each item
// is stored here under its chat and media group, and the first one's
// replica claims the album: it waits until no item came for the quiet
// period, takes what was stored and runs it as one input. The claim is a
// lease like a chat's, listed in an index by when it runs out, so that a
// replica that died holding one is found and replaced by another; the
// items stay stored until the input they made is handled.
//
// Keys, per album: items (a hash, update id → the update's JSON), taken
// (the same for the items handed to the runtime and not yet finished, so
// that a replica taking over runs exactly that batch again), due (when the
// quiet period ends, ms) and claim (the claim's token, a fence). Per chat:
// album-order (the update ids of the chat's album items not yet handled),
// which Begin reads to keep a later update of the chat from overtaking an
// album. Globally: album:claims, every album with a claim, scored by when
// the claim runs out.

// albums is the Store's part that keeps the webhook's albums, as described
// above.
type albums struct{ conn }

// albumOrderTTL bounds how long a chat's later updates wait for an album
// nobody finishes (every replica gone): a live claimer renews it, so only
// order is given up, never an item.
const albumOrderTTL = time.Minute

// maxStaleScan bounds the albums one look at the claims index reads.
const maxStaleScan = 20

// albumMember names an album in the claims index; chat ids hold no colon,
// so the first one ends the chat.
func albumMember(chatID int64, group string) string {
	return strconv.FormatInt(chatID, 10) + ":" + group
}

// redisNowMS is Lua reading Redis's clock in milliseconds: every replica's
// deadlines and claims are measured on the one clock they share.
const redisNowMS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// addAlbumScript stores one album item, unless it is known already
// (stored, taken, or marked handled in the current era of ids), pushes the
// quiet deadline out and claims the album when nobody holds it. An id far
// below the highest seen is never a duplicate: the ids started again, and
// the album's Begin starts their new era (beginScript).
// KEYS: the album keys, fence counter, epoch, top id, the update's mark.
// ARGV: update id, update JSON, quiet ms, claim ms, keep ms, order ms,
// member, RestartGap. Answers {'dup'}, {'stored'} or {'claimed', claim}.
var addAlbumScript = redis.NewScript(redisNowMS + `
local epoch = redis.call('GET', KEYS[8]) or '1'
local top = tonumber(redis.call('GET', KEYS[9]) or '0')
if tonumber(ARGV[1]) >= top - tonumber(ARGV[8]) and redis.call('GET', KEYS[10]) == epoch then
  return {'dup'}
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return {'dup'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[3], now + tonumber(ARGV[3]), 'PX', ARGV[5])
redis.call('ZADD', KEYS[6], ARGV[1], ARGV[1])
redis.call('PEXPIRE', KEYS[6], ARGV[6])
if redis.call('EXISTS', KEYS[4]) == 1 then return {'stored'} end
local claim = redis.call('INCR', KEYS[7])
redis.call('SET', KEYS[4], claim, 'PX', ARGV[4])
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[4]), ARGV[7])
return {'claimed', claim}`)

// AddAlbumItem stores one item of chat's album group: raw is its update's
// JSON, kept until the album's input was handled. It moves the album's
// quiet deadline to quiet from now and, when nobody holds the album,
// claims it for the caller (claim > 0), who must then see it through with
// TakeAlbum and FinishAlbum. dup means the update is stored or handled
// already. One round trip; an error means nothing was stored.
func (s *albums) AddAlbumItem(ctx context.Context, chatID int64, group string, updateID int, raw []byte,
	quiet time.Duration) (claim int64, dup bool, err error) {
	keys := append(s.albumKeys(chatID, group), s.fenceKey(), s.epochKey(), s.topKey(), s.updateKey(updateID))
	res, err := addAlbumScript.Run(ctx, s.rdb, keys, updateID, raw, quiet.Milliseconds(), s.opts.LeaseTTL.Milliseconds(),
		s.markTTL.Milliseconds(), albumOrderTTL.Milliseconds(), albumMember(chatID, group), RestartGap).Slice()
	if err != nil {
		return 0, false, fmt.Errorf("store album item %d of chat %d: %w", updateID, chatID, err)
	}
	switch res[0] {
	case "dup":
		return 0, true, nil
	case "claimed":
		return res[1].(int64), false, nil
	}
	return 0, false, nil
}

// takeAlbumScript hands the claimer the batch to run: the one taken
// before and not finished, if any (the last claimer died with it), else,
// once the quiet deadline passed, every stored item. An album with nothing
// left is given up. Every call renews the claim.
// KEYS: the album keys. ARGV: claim, claim ms, order ms, member.
// Answers {'lost'}, {'empty'}, {'wait', ms} or {'items', {json...}}.
var takeAlbumScript = redis.NewScript(redisNowMS + `
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return {'lost'} end
local function renew()
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), ARGV[4])
  redis.call('PEXPIRE', KEYS[6], ARGV[3])
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[3], KEYS[4])
    redis.call('ZREM', KEYS[5], ARGV[4])
    return {'empty'}
  end
  renew()
  local due = tonumber(redis.call('GET', KEYS[3]) or '0')
  if now < due then return {'wait', due - now} end
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  renew()
end
return {'items', redis.call('HVALS', KEYS[2])}`)

// TakeAlbum gives the holder of claim the items to run as one input. wait
// > 0 means the quiet period is not over: call again after it. No items
// and no wait means the album is over and the claim given up. A claim
// another replica took over is flows.ErrLeaseLost.
func (s *albums) TakeAlbum(ctx context.Context, chatID int64, group string, claim int64) (items [][]byte, wait time.Duration, err error) {
	res, err := takeAlbumScript.Run(ctx, s.rdb, s.albumKeys(chatID, group), claim, s.opts.LeaseTTL.Milliseconds(),
		albumOrderTTL.Milliseconds(), albumMember(chatID, group)).Slice()
	if err != nil {
		return nil, 0, fmt.Errorf("take album %s of chat %d: %w", group, chatID, err)
	}
	switch res[0] {
	case "lost":
		return nil, 0, fmt.Errorf("take album %s of chat %d with claim %d: %w", group, chatID, claim, flows.ErrLeaseLost)
	case "wait":
		return nil, max(time.Duration(res[1].(int64))*time.Millisecond, time.Millisecond), nil
	case "items":
		vals, _ := res[1].([]any)
		for _, v := range vals {
			str, _ := v.(string)
			items = append(items, []byte(str))
		}
		return items, 0, nil
	}
	return nil, 0, nil
}

// extendAlbumScript renews a claim that is still the caller's.
// KEYS: the album keys. ARGV: claim, claim ms, order ms, member.
var extendAlbumScript = redis.NewScript(redisNowMS + `
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[4], ARGV[2])
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[6], ARGV[3])
return 1`)

// ExtendAlbum keeps an album's claim while its input is handled; a claim
// another replica took over is flows.ErrLeaseLost.
func (s *albums) ExtendAlbum(ctx context.Context, chatID int64, group string, claim int64) error {
	held, err := extendAlbumScript.Run(ctx, s.rdb, s.albumKeys(chatID, group), claim, s.opts.LeaseTTL.Milliseconds(),
		albumOrderTTL.Milliseconds(), albumMember(chatID, group)).Int()
	if err != nil {
		return fmt.Errorf("extend claim on album %s of chat %d: %w", group, chatID, err)
	}
	if held == 0 {
		return fmt.Errorf("extend claim on album %s of chat %d with claim %d: %w", group, chatID, claim, flows.ErrLeaseLost)
	}
	return nil
}

// finishAlbumScript drops the batch taken, which was handled, and lets the
// chat's later updates go; the album ends unless items came meanwhile.
// KEYS: the album keys. ARGV: claim, member.
// Answers -1 (claim lost), 0 (album over) or 1 (items wait).
var finishAlbumScript = redis.NewScript(`
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return -1 end
for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do redis.call('ZREM', KEYS[6], id) end
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[2])
return 0`)

// FinishAlbum records that the batch TakeAlbum gave was handled. more means
// items came after it: the claim is kept, for TakeAlbum again; otherwise
// the album is over. A claim another replica took over is
// flows.ErrLeaseLost, and that replica runs the batch again (its updates'
// handled-marks make that a no-op).
func (s *albums) FinishAlbum(ctx context.Context, chatID int64, group string, claim int64) (more bool, err error) {
	n, err := finishAlbumScript.Run(ctx, s.rdb, s.albumKeys(chatID, group), claim, albumMember(chatID, group)).Int()
	if err != nil {
		return false, fmt.Errorf("finish album %s of chat %d: %w", group, chatID, err)
	}
	if n < 0 {
		return false, fmt.Errorf("finish album %s of chat %d with claim %d: %w", group, chatID, claim, flows.ErrLeaseLost)
	}
	return n == 1, nil
}

// staleAlbumsScript lists albums whose claim ran out. KEYS: the claims
// index. ARGV: how many at most.
var staleAlbumsScript = redis.NewScript(redisNowMS + `
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))`)

// reclaimAlbumScript claims an album whose claimer is gone; one whose claim
// was renewed late gets its index entry back in step instead.
// KEYS: the album keys, fence counter. ARGV: claim ms, order ms, member.
// Answers the new claim, or 0.
var reclaimAlbumScript = redis.NewScript(redisNowMS + `
local left = redis.call('PTTL', KEYS[4])
if left > 0 then
  redis.call('ZADD', KEYS[5], now + left, ARGV[3])
  return 0
end
local claim = redis.call('INCR', KEYS[7])
redis.call('SET', KEYS[4], claim, 'PX', ARGV[1])
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[6], ARGV[2])
return claim`)

// ClaimStaleAlbum claims an album whose claimer died (its claim ran out),
// for the caller to see through like one it claimed itself; claim is 0
// when there is none. A round trip, plus one per album found.
func (s *albums) ClaimStaleAlbum(ctx context.Context) (chatID int64, group string, claim int64, err error) {
	members, err := staleAlbumsScript.Run(ctx, s.rdb, []string{s.albumClaimsKey()}, maxStaleScan).StringSlice()
	if err != nil {
		return 0, "", 0, fmt.Errorf("find albums whose claim ran out: %w", err)
	}
	for _, m := range members {
		chat, group, ok := strings.Cut(m, ":")
		chatID, perr := strconv.ParseInt(chat, 10, 64)
		if !ok || perr != nil {
			// Not written by this version: dropped, or it would be read
			// at every look.
			if err := s.rdb.ZRem(ctx, s.albumClaimsKey(), m).Err(); err != nil {
				return 0, "", 0, fmt.Errorf("drop unreadable album entry %q: %w", m, err)
			}
			continue
		}
		keys := append(s.albumKeys(chatID, group), s.fenceKey())
		claim, err := reclaimAlbumScript.Run(ctx, s.rdb, keys, s.opts.LeaseTTL.Milliseconds(),
			albumOrderTTL.Milliseconds(), m).Int64()
		if err != nil {
			return 0, "", 0, fmt.Errorf("claim album %s of chat %d: %w", group, chatID, err)
		}
		if claim > 0 {
			return chatID, group, claim, nil
		}
	}
	return 0, "", 0, nil
}
