package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The eras of update ids: the handled-update marks (beginScript) count only
// in the current one, and ClaimBot starts a new one for another bot.

// RestartGap is how far below the highest id seen an update's id must be
// to mean the ids started again. Telegram's ids only grow; what comes late
// (a redelivery, a retried batch of at most 100, webhook requests in
// parallel) comes within far fewer.
const RestartGap = 1000

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
func (s *sessions) ClaimBot(ctx context.Context, botID int64) (changed bool, err error) {
	n, err := claimBotScript.Run(ctx, s.rdb, []string{s.botKey(), s.epochKey(), s.topKey()}, botID).Int()
	if err != nil {
		return false, fmt.Errorf("record bot %d for the update marks: %w", botID, err)
	}
	return n == 1, nil
}
