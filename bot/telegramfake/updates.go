package telegramfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// updateQueue is the updates waiting for the bot, and what getUpdates remembers between calls
// (guarded by world.mu).
type updateQueue struct {
	nextUpdateID int
	queue        []queuedUpdate
	allowed      map[string]bool // nil: Telegram's default set
	pollGen      int             // identifies the newest getUpdates, which supersedes older ones
	// restarted is set once RestartUpdateIDs made the ids start again.
	restarted bool
}

// queuedUpdate is an update waiting for the bot to confirm it.
type queuedUpdate struct {
	id   int
	kind string // "message", "callback_query", ...: what allowed_updates filters on
	raw  json.RawMessage
	// replay marks an update forged with an update_id the fake had already used. It is kept
	// until delivered once even if the bot's offset is past it, or it could never arrive.
	replay    bool
	delivered bool
}

// enqueueLocked gives u the next update_id and queues it.
func (s *world) enqueueLocked(u wireUpdate) int {
	u.UpdateID = s.nextUpdateID
	s.nextUpdateID++
	kind := "message"
	if u.CallbackQuery != nil {
		kind = "callback_query"
	}
	s.queue = append(s.queue, queuedUpdate{id: u.UpdateID, kind: kind, raw: jsonOf(u)})
	s.changedLocked()
	return u.UpdateID
}

// EnqueueRaw queues update exactly as given, for updates the helpers do not build and for
// forged or repeated ones. It must be a JSON object with an integer update_id. An update_id the
// fake already used (a duplicate delivery) is still delivered once, even when the bot has
// confirmed past it, and the update_ids the fake hands out later stay above every id seen. Chats,
// messages, callback queries and forum topics in it become known, so the bot can answer them.
func (s *simulation) EnqueueRaw(update json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(update, &fields); err != nil {
		return fmt.Errorf("telegramfake: update is not a JSON object: %w", err)
	}
	var id int
	if err := json.Unmarshal(fields["update_id"], &id); err != nil {
		return errors.New("telegramfake: update has no integer update_id")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, update); err != nil {
		return fmt.Errorf("telegramfake: %w", err)
	}
	var u wireUpdate
	_ = json.Unmarshal(update, &u) // best effort: only used to learn chats, messages, queries and topics

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []*wireMessage{u.Message, u.EditedMessage, u.ChannelPost, u.EditedChannelPost} {
		if m == nil || m.Chat == nil {
			continue
		}
		if _, ok := s.chats[m.Chat.ID]; !ok {
			s.chats[m.Chat.ID] = *m.Chat
		}
		key := msgKey{m.Chat.ID, m.MessageID}
		if _, ok := s.messages[key]; !ok {
			s.messages[key] = &message{msg: *m}
		}
		s.learnTopicLocked(m)
		s.nextMessageID = max(s.nextMessageID, m.MessageID+1)
	}
	if q := u.CallbackQuery; q != nil && q.ID != "" {
		if _, ok := s.queries[q.ID]; !ok {
			s.queries[q.ID] = false
		}
		if q.Message != nil && q.Message.Chat != nil {
			if _, ok := s.chats[q.Message.Chat.ID]; !ok {
				s.chats[q.Message.Chat.ID] = *q.Message.Chat
			}
		}
	}
	s.queue = append(s.queue, queuedUpdate{
		id:     id,
		kind:   updateKind(fields),
		raw:    compact.Bytes(),
		replay: id < s.nextUpdateID,
	})
	s.nextUpdateID = max(s.nextUpdateID, id+1)
	s.changedLocked()
	return nil
}

// updateKind is the name of the one field besides update_id that an update carries.
func updateKind(fields map[string]json.RawMessage) string {
	var kinds []string
	for k, v := range fields {
		if k != "update_id" && string(v) != "null" {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return ""
	}
	sort.Strings(kinds) // a forged update with several is ambiguous: decide the same way every time
	return kinds[0]
}

// Pending counts the updates the bot has not confirmed yet.
func (s *observer) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// confirmLocked applies a getUpdates offset: Telegram forgets every update below a positive
// offset, and all but the last -offset updates for a negative one.
func (s *updateQueue) confirmLocked(offset int) {
	switch {
	case offset < 0:
		if keep := -offset; len(s.queue) > keep {
			s.queue = append([]queuedUpdate(nil), s.queue[len(s.queue)-keep:]...)
		}
	case offset > s.nextUpdateID && s.restarted:
		// A server whose ids restarted has forgotten the bot's old
		// offset: one above every id it issued confirms nothing.
	case offset > 0:
		kept := s.queue[:0:0]
		for _, q := range s.queue {
			if q.id >= offset || (q.replay && !q.delivered) {
				kept = append(kept, q)
			}
		}
		s.queue = kept
	}
}

// takeLocked returns up to limit updates the bot asked for, dropping those it filtered out.
func (s *updateQueue) takeLocked(limit int, skipFirst bool) []json.RawMessage {
	var out []json.RawMessage
	kept := s.queue[:0:0]
	for _, q := range s.queue {
		if !s.allowedLocked(q.kind) {
			continue // Telegram never delivers an update type the bot did not ask for
		}
		if skipFirst {
			skipFirst = false
			kept = append(kept, q)
			continue
		}
		if len(out) < limit {
			q.delivered = true
			out = append(out, q.raw)
		}
		kept = append(kept, q)
	}
	s.queue = kept
	return out
}

func (s *updateQueue) allowedLocked(kind string) bool {
	if s.allowed == nil {
		// Telegram's default: everything except these.
		return kind != "chat_member" && kind != "message_reaction" && kind != "message_reaction_count"
	}
	return s.allowed[kind]
}

// getUpdates long-polls like Telegram: it answers at once when updates are waiting, otherwise
// when one arrives or timeout seconds pass. A newer getUpdates ends an older one with 409.
func (s *botAPI) getUpdates(r *request) (json.RawMessage, *apiError) {
	offset, aerr := intParam(r, "offset", 0)
	if aerr != nil {
		return nil, aerr
	}
	limit, aerr := intParam(r, "limit", 100)
	if aerr != nil {
		return nil, aerr
	}
	limit = min(max(limit, 1), 100)
	timeout, aerr := intParam(r, "timeout", 0)
	if aerr != nil {
		return nil, aerr
	}
	// Telegram keeps allowed_updates for later calls that omit it; tgbotapi sends "null" then.
	var allowed map[string]bool // nil after an empty list: back to the default
	setAllowed := false
	if raw := r.str("allowed_updates"); raw != "" && raw != "null" {
		var list []string
		if err := json.Unmarshal([]byte(raw), &list); err != nil {
			return nil, badRequest("can't parse allowed updates")
		}
		setAllowed = true
		if len(list) > 0 {
			allowed = make(map[string]bool, len(list))
		}
		for _, k := range list {
			allowed[k] = true
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhookURL != "" {
		return nil, &apiError{code: http.StatusConflict, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
	}
	s.pollGen++
	gen := s.pollGen
	s.confirmLocked(offset)
	quirk := s.pollQuirkLocked()
	if quirk.empty {
		return json.RawMessage("[]"), nil
	}
	if quirk.limit > 0 {
		limit = min(limit, quirk.limit)
	}
	if setAllowed {
		s.allowed = allowed
	}
	s.changedLocked()

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		expired = t.C
	}
	for {
		if ups := s.takeLocked(limit, quirk.skipFirst); len(ups) > 0 || expired == nil {
			return updatesJSON(s.shuffleLocked(ups)), nil
		}
		changed := s.changed
		s.mu.Unlock()
		stop := false
		select {
		case <-changed:
		case <-expired:
			stop = true
		case <-s.done:
			stop = true
		case <-r.ctx.Done():
			stop = true
		}
		s.mu.Lock()
		if s.pollGen != gen {
			return nil, &apiError{code: http.StatusConflict, desc: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
		}
		if stop {
			expired = nil
		}
	}
}

func updatesJSON(ups []json.RawMessage) json.RawMessage {
	out := json.RawMessage("[")
	for i, u := range ups {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, u...)
	}
	return append(out, ']')
}

func intParam(r *request, name string, def int) (int, *apiError) {
	v := r.str(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest("invalid " + name + " specified")
	}
	return n, nil
}
