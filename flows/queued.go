package flows

import (
	"context"
	"fmt"

	"github.com/refundbot/refundbot/refund"
)

// Queued is the Sender of work outside a turn: Send queues the message
// behind the chat's others, so that a notice neither overtakes the replies
// queued before it nor waits for the chat's budget; the calls that need
// Telegram's answer (a message ID to keep, an edit) go to Direct.
type Queued struct {
	Dispatcher *Dispatcher
	Direct     Sender
}

var _ Sender = Queued{}

// Send implements Sender by queueing m.
func (q Queued) Send(ctx context.Context, chatID int64, m Message) error {
	if err := q.Dispatcher.Enqueue(ctx, Envelope{ChatID: chatID, Msg: m}); err != nil {
		return fmt.Errorf("queue a message to chat %d: %w", chatID, err)
	}
	return nil
}

// Post implements Sender directly.
func (q Queued) Post(ctx context.Context, chatID int64, m Message) (int, error) {
	return q.Direct.Post(ctx, chatID, m)
}

// PostAlbum implements Sender directly.
func (q Queued) PostAlbum(ctx context.Context, chatID int64, files []refund.Evidence, base Message) ([]int, error) {
	return q.Direct.PostAlbum(ctx, chatID, files, base)
}

// Edit implements Sender directly.
func (q Queued) Edit(ctx context.Context, chatID int64, messageID int, m Message) error {
	return q.Direct.Edit(ctx, chatID, messageID, m)
}

// AnswerCallback implements Sender directly.
func (q Queued) AnswerCallback(ctx context.Context, callbackID, text string) error {
	return q.Direct.AnswerCallback(ctx, callbackID, text)
}

// RemoveKeyboard implements Sender directly.
func (q Queued) RemoveKeyboard(ctx context.Context, chatID int64, messageID int) error {
	return q.Direct.RemoveKeyboard(ctx, chatID, messageID)
}
