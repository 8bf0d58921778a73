package redisstore

import "strconv"

// keys names every Redis key the store uses, all under one prefix, so that
// tests and deployments can share a Redis and a newcomer finds the whole
// layout in one place. Two scripts name keys themselves from the prefix,
// and must stay in step with this file: claimScript (sendqueue.go) builds
// a claimed chat's queue and claim keys, and the due set's members are the
// chat ids those keys end with.
type keys struct {
	prefix string
}

// Per chat: the turn runtime's keys (redisstore.go).

func (k keys) sessionKey(chatID int64) string {
	return k.prefix + "sess:" + strconv.FormatInt(chatID, 10)
}

func (k keys) leaseKey(chatID int64) string {
	return k.prefix + "lease:" + strconv.FormatInt(chatID, 10)
}

func (k keys) floodKey(chatID int64) string {
	return k.prefix + "flood:" + strconv.FormatInt(chatID, 10)
}

// fenceKey counts leases ever given, across all chats: one counter keeps
// fences growing even when a chat's keys have expired.
func (k keys) fenceKey() string { return k.prefix + "fence" }

// The handled-update marks, which beginScript checks and sets, and the
// eras of update ids, which ClaimBot starts anew for another bot
// (updates.go).

func (k keys) updateKey(id int) string { return k.prefix + "upd:" + strconv.Itoa(id) }

// epochKey holds the era of the update ids: a mark counts only when it was
// made in the current era, so that when the Bot API's ids start again (a
// self-hosted server lost its state, another bot behind the same prefix)
// the marks of the old ids do not swallow the new ones. Absent means era 1,
// the value marks had before eras existed.
func (k keys) epochKey() string { return k.prefix + "upd:epoch" }

// topKey holds the highest update id seen in the current era.
func (k keys) topKey() string { return k.prefix + "upd:top" }

// botKey holds the bot's Telegram id the marks were made for.
func (k keys) botKey() string { return k.prefix + "upd:bot" }

// The send queues (sendqueue.go).

func (k keys) queueKey(chatID int64) string {
	return k.queueKeyOf(strconv.FormatInt(chatID, 10))
}

// queueKeyOf is queueKey for a chat as the due set names it.
func (k keys) queueKeyOf(member string) string { return k.prefix + "out:q:" + member }

func (k keys) claimKey(chatID int64) string {
	return k.prefix + "out:claim:" + strconv.FormatInt(chatID, 10)
}

func (k keys) dueKey() string { return k.prefix + "out:due" }

func (k keys) queueFenceKey() string { return k.prefix + "out:fence" }

// Webhook albums (album.go, which describes each key).

func (k keys) albumKey(chatID int64, group, part string) string {
	return k.prefix + "album:" + strconv.FormatInt(chatID, 10) + ":" + group + ":" + part
}

func (k keys) albumOrderKey(chatID int64) string {
	return k.prefix + "album-order:" + strconv.FormatInt(chatID, 10)
}

func (k keys) albumClaimsKey() string { return k.prefix + "album:claims" }

// albumKeys are the keys every album script starts with, in this order:
// items, taken, due, claim, the claims index, the chat's album order.
func (k keys) albumKeys(chatID int64, group string) []string {
	return []string{k.albumKey(chatID, group, "items"), k.albumKey(chatID, group, "taken"),
		k.albumKey(chatID, group, "due"), k.albumKey(chatID, group, "claim"), k.albumClaimsKey(),
		k.albumOrderKey(chatID)}
}

// The desk's marks (marks.go) and ownership-proof attempts (attempts.go).

// escalatedKey marks a chat that may have an open escalation
// (flows.EscalationMarks).
func (k keys) escalatedKey(chatID int64) string {
	return k.prefix + "esc:" + strconv.FormatInt(chatID, 10)
}

func (k keys) agentChatKey(userID int64) string {
	return k.prefix + "agentchat:" + strconv.FormatInt(userID, 10)
}

func (k keys) failKey(userID int64, orderID string) string {
	return k.prefix + "proof:" + strconv.FormatInt(userID, 10) + ":" + orderID
}

// locksKey holds a user's locked orders, order ID → locked until (Unix
// ms): Begin reads it with the session, so the order step learns of a
// lock without a round trip of its own.
func (k keys) locksKey(userID int64) string {
	return k.prefix + "locks:" + strconv.FormatInt(userID, 10)
}
