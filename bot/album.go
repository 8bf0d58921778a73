package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

// Telegram's bounds on one album (sendMediaGroup).
const (
	minAlbum = 2
	maxAlbum = 10
)

// albumItem is one InputMediaPhoto or InputMediaDocument of sendMediaGroup,
// sent again by its file ID.
type albumItem struct {
	Type    string `json:"type"`
	Media   string `json:"media"`
	Caption string `json:"caption,omitempty"`
}

// PostAlbum implements flows.Sender: 2 to 10 files of one kind go as one
// album, replying to base.ReplyTo in base.ThreadID's topic; the IDs of the
// album's messages come back in order. Telegram counts every file of an
// album against the chat's limits, so each is paced.
func (s *Sender) PostAlbum(ctx context.Context, chatID int64, files []refund.Evidence, base flows.Message) ([]int, error) {
	if len(files) < minAlbum || len(files) > maxAlbum {
		return nil, fmt.Errorf("sendMediaGroup: an album holds %d to %d files, not %d", minAlbum, maxAlbum, len(files))
	}
	items := make([]albumItem, len(files))
	for i, f := range files {
		if f.Kind != files[0].Kind {
			// Telegram refuses documents mixed with photos.
			return nil, fmt.Errorf("sendMediaGroup: %s mixed with %s: %w", f.Kind, files[0].Kind, errFileKind)
		}
		caption, _ := cutText(f.Caption, maxCaptionLen)
		items[i] = albumItem{Type: string(f.Kind), Media: f.FileID, Caption: caption}
	}
	media, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("sendMediaGroup: encode media: %w", err)
	}
	to := destination{chatID: chatID, threadID: base.ThreadID}
	p := to.params(base.ReplyTo)
	p["media"] = string(media)
	for range files {
		if err := s.pace(ctx, chatID); err != nil {
			return nil, fmt.Errorf("sendMediaGroup: %w", err)
		}
	}
	resp, err := s.request(ctx, "sendMediaGroup", p)
	if err != nil {
		return nil, err
	}
	var sent []sentMessage
	if err := json.Unmarshal(resp.Result, &sent); err != nil || len(sent) != len(files) {
		return nil, fmt.Errorf("sendMediaGroup to chat %s: %w: %.200s", strconv.FormatInt(chatID, 10), errUnreadable, resp.Result)
	}
	ids := make([]int, len(sent))
	for i, m := range sent {
		ids[i] = m.MessageID
	}
	return ids, nil
}
