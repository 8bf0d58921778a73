package redisstore

import (
	"context"
	"fmt"
	"time"
)

// attempts is the Store's part that counts ownership-proof attempts
// (flows.OwnershipAttempts): failed answers per buyer and order, and the
// lockout they lead to, which Begin hands each turn (Claim.OwnershipLocks).
type attempts struct{ conn }

// failScript counts a failure: the first starts the counting window, the
// one that reaches the limit restarts the TTL as the lockout, so the lock
// lasts the full period from the last wrong answer, and writes the lock
// into the user's locks, which Begin reads. KEYS: counter, locks. ARGV:
// limit, lock ms, order ID.
const failScript = nowLua + `
local n = redis.call('INCR', KEYS[1])
if n == 1 or n >= tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[2], ARGV[3], now + tonumber(ARGV[2]))
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
end
return n`

// Fail implements flows.OwnershipAttempts.
func (s *attempts) Fail(ctx context.Context, userID int64, orderID string, limit int, lockFor time.Duration) (int, error) {
	n, err := s.rdb.Eval(ctx, failScript, []string{s.failKey(userID, orderID), s.locksKey(userID)}, limit,
		lockFor.Milliseconds(), orderID).Int()
	if err != nil {
		return 0, fmt.Errorf("record proof failure of user %d order %s: %w", userID, orderID, err)
	}
	return n, nil
}
