// Package redisstore keeps dialog sessions, handled-update marks and
// ownership-proof lockouts in Redis. Everything a chat needs per update is
// one pipelined read and one transactional write.
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

// Defaults for how long keys live.
const (
	// DefaultUpdateMarkTTL outlives Telegram's 24 h redelivery window.
	DefaultUpdateMarkTTL = 48 * time.Hour
	// sessionGrace keeps an expired session long enough to tell the buyer
	// that their half-filled request expired.
	sessionGrace = 7 * 24 * time.Hour
)

// Store implements flows.SessionStore and flows.OwnershipAttempts.
type Store struct {
	rdb        redis.UniversalClient
	prefix     string
	sessionTTL time.Duration
	markTTL    time.Duration
}

// New returns a store whose keys all start with prefix (e.g. "refundbot:"),
// so that tests and deployments can share a Redis. idleTTL is the dialog's
// idle timeout; keys live a grace period longer.
func New(rdb redis.UniversalClient, prefix string, idleTTL time.Duration) *Store {
	if idleTTL <= 0 {
		idleTTL = flows.DefaultIdleTTL
	}
	return &Store{rdb: rdb, prefix: prefix, sessionTTL: idleTTL + sessionGrace, markTTL: DefaultUpdateMarkTTL}
}

func (s *Store) sessionKey(chatID int64) string {
	return s.prefix + "sess:" + strconv.FormatInt(chatID, 10)
}

func (s *Store) updateKey(id int) string { return s.prefix + "upd:" + strconv.Itoa(id) }

func (s *Store) failKey(userID int64, orderID string) string {
	return s.prefix + "proof:" + strconv.FormatInt(userID, 10) + ":" + orderID
}

// Begin implements flows.SessionStore.
func (s *Store) Begin(ctx context.Context, chatID int64, updateIDs []int) (flows.Session, bool, error) {
	pipe := s.rdb.Pipeline()
	get := pipe.Get(ctx, s.sessionKey(chatID))
	var marks *redis.IntCmd
	if len(updateIDs) > 0 {
		keys := make([]string, len(updateIDs))
		for i, id := range updateIDs {
			keys[i] = s.updateKey(id)
		}
		marks = pipe.Exists(ctx, keys...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return flows.Session{}, false, fmt.Errorf("begin chat %d: %w", chatID, err)
	}
	if marks != nil && marks.Val() > 0 {
		return flows.Session{}, true, nil
	}
	raw, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return flows.Session{}, false, nil
	}
	if err != nil {
		return flows.Session{}, false, fmt.Errorf("load session of chat %d: %w", chatID, err)
	}
	var sess flows.Session
	if err := json.Unmarshal(raw, &sess); err != nil {
		// A session this version cannot read is dropped rather than
		// wedging the chat forever; the buyer starts again.
		return flows.Session{}, false, nil
	}
	return sess, false, nil
}

// Commit implements flows.SessionStore.
func (s *Store) Commit(ctx context.Context, chatID int64, sess *flows.Session, updateIDs []int) error {
	var raw []byte
	if sess != nil {
		var err error
		if raw, err = json.Marshal(sess); err != nil {
			return fmt.Errorf("encode session of chat %d: %w", chatID, err)
		}
	}
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		if sess == nil {
			pipe.Del(ctx, s.sessionKey(chatID))
		} else {
			pipe.Set(ctx, s.sessionKey(chatID), raw, s.sessionTTL)
		}
		for _, id := range updateIDs {
			pipe.SetNX(ctx, s.updateKey(id), 1, s.markTTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit chat %d: %w", chatID, err)
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
