package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// One long poll: getUpdates asked and its answer read.

// allowedUpdates are the updates the bot asks for; sent with every poll, as
// Telegram keeps the list of the last call that gave one.
const allowedUpdates = `["message","callback_query"]`

// poll calls getUpdates itself rather than through tgbotapi.GetUpdates,
// because tgbotapi's Update has no forum fields: the answer is decoded once
// into tgbotapi's types and once for those fields, update by update.
func (p *Poller) poll(offset, timeoutSeconds int) ([]update, error) {
	params := tgbotapi.Params{"limit": "100", "allowed_updates": allowedUpdates}
	params.AddNonZero("offset", offset)
	params.AddNonZero("timeout", timeoutSeconds)
	resp, err := p.api.MakeRequest("getUpdates", params)
	if err != nil {
		return nil, fmt.Errorf("get updates from %d: %w", offset, err)
	}
	var (
		plain []tgbotapi.Update
		forum []forumFields
	)
	if err := json.Unmarshal(resp.Result, &plain); err != nil {
		return nil, fmt.Errorf("get updates from %d: %w", offset, err)
	}
	if hasForumFields(resp.Result) {
		if err := json.Unmarshal(resp.Result, &forum); err != nil {
			return nil, fmt.Errorf("get updates from %d: forum fields: %w", offset, err)
		}
	} else {
		// Nothing to read: what decoding would give, without its cost
		// (the second decode was 3% of the bot's CPU).
		forum = make([]forumFields, len(plain))
		for i, u := range plain {
			forum[i].UpdateID = u.UpdateID
		}
	}
	if len(forum) != len(plain) { // the same array decoded twice: a guard, not an expected case
		return nil, fmt.Errorf("get updates from %d: %d updates read as %d", offset, len(plain), len(forum))
	}
	updates := make([]update, len(plain))
	for i, u := range plain {
		if forum[i].UpdateID != u.UpdateID {
			return nil, fmt.Errorf("get updates from %d: update %d read as %d", offset, u.UpdateID, forum[i].UpdateID)
		}
		updates[i] = update{Update: u, forum: forum[i]}
	}
	sort.Slice(updates, func(i, j int) bool { return updates[i].UpdateID < updates[j].UpdateID })
	return updates, nil
}

// hasForumFields reports whether an answer of getUpdates may hold a field
// of forumFields: only then is it decoded for them. A key that is in
// someone's text costs a decode, nothing more.
func hasForumFields(result []byte) bool {
	return bytes.Contains(result, []byte(`"is_topic_message"`)) ||
		bytes.Contains(result, []byte(`"message_thread_id"`)) ||
		bytes.Contains(result, []byte(`"forum_topic_created"`))
}

// restOfAlbum waits briefly for album items that arrived after the poll
// returned, re-reading from the same offset (nothing is confirmed by it).
// The two answers are joined by update id: a server whose re-poll leaves
// out an update it gave first must not make the bot lose it.
func (p *Poller) restOfAlbum(ctx context.Context, offset int, updates []update) []update {
	p.sleep(ctx, p.cfg.AlbumWait)
	more, err := p.poll(offset, 0)
	if err != nil {
		return updates
	}
	return joinUpdates(updates, more)
}

// joinUpdates is the updates of a and b, each id once, in id order.
func joinUpdates(a, b []update) []update {
	seen := make(map[int]bool, len(a)+len(b))
	out := make([]update, 0, len(a)+len(b))
	for _, u := range append(append([]update(nil), a...), b...) {
		if !seen[u.UpdateID] {
			seen[u.UpdateID] = true
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpdateID < out[j].UpdateID })
	return out
}
