package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// attempts is the Store's part that counts ownership-proof attempts
// (flows.OwnershipAttempts): failed answers per buyer and order, and the
// lockout they lead to.
type attempts struct{ conn }

// Locked implements flows.OwnershipAttempts.
func (s *attempts) Locked(ctx context.Context, userID int64, orderID string, limit int) (time.Duration, error) {
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
func (s *attempts) Fail(ctx context.Context, userID int64, orderID string, limit int, lockFor time.Duration) (int, error) {
	n, err := s.rdb.Eval(ctx, failScript, []string{s.failKey(userID, orderID)}, limit, lockFor.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("record proof failure of user %d order %s: %w", userID, orderID, err)
	}
	return n, nil
}
