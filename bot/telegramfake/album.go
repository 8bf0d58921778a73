package telegramfake

import (
	"encoding/json"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// inputMedia is one InputMedia of sendMediaGroup. The fake takes files by
// file_id only; attach:// uploads are refused as not modelled.
type inputMedia struct {
	Type      string `json:"type"`
	Media     string `json:"media"`
	Caption   string `json:"caption"`
	ParseMode string `json:"parse_mode"`
}

// sendMediaGroup sends 2-10 photos or 2-10 documents as one album: every
// item is checked before any is sent, as Telegram answers an album whole,
// and the items share a media_group_id.
func (s *botAPI) sendMediaGroup(r *request) (json.RawMessage, *apiError) {
	var media []inputMedia
	if err := json.Unmarshal([]byte(r.str("media")), &media); err != nil {
		return nil, badRequest("can't parse media JSON object")
	}
	if len(media) < 2 || len(media) > 10 {
		return nil, badRequest("wrong number of messages specified")
	}
	outs := make([]outgoing, len(media))
	documents := 0
	for i, m := range media {
		switch m.Type {
		case kindPhoto:
		case kindDocument:
			documents++
		default:
			return nil, badRequest("unsupported media type \"" + m.Type + "\"")
		}
		if strings.HasPrefix(m.Media, "attach://") {
			return nil, badRequest("attach:// uploads are not modelled by the fake")
		}
		plain, entities, aerr := render(m.Caption, m.ParseMode)
		if aerr == nil {
			aerr = checkCaption(plain)
		}
		if aerr != nil {
			return nil, aerr
		}
		outs[i] = outgoing{text: m.Caption, parseMode: m.ParseMode, plain: plain, entities: entities}
	}
	if documents != 0 && documents != len(media) {
		return nil, badRequest("document can't be mixed with other media types")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	files := make([]*storedFile, len(media))
	for i, m := range media {
		f, aerr := s.fileByRefLocked(m.Media, m.Type)
		if aerr != nil {
			return nil, aerr
		}
		files[i] = f
	}
	if _, aerr := s.knownChatLocked(r.str("chat_id")); aerr != nil {
		return nil, aerr
	}
	group := "album-" + strconv.Itoa(s.nextMessageID)
	sent := make([]json.RawMessage, len(media))
	for i, f := range files {
		out := outs[i]
		raw, aerr := s.sendLocked(r, "sendMediaGroup", out, func(m *tgbotapi.Message) (string, *apiError) {
			m.MediaGroupID = group
			m.Caption, m.CaptionEntities = out.plain, out.entities
			if f.kind == kindPhoto {
				m.Photo = f.photo
				return f.photo[len(f.photo)-1].FileID, nil
			}
			m.Document = f.document
			return f.document.FileID, nil
		})
		if aerr != nil {
			// Only the first item can fail (chat, topic, reply target),
			// before anything was sent.
			return nil, aerr
		}
		sent[i] = raw
	}
	return jsonOf(sent), nil
}
