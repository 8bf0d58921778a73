package flows

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Handler handles one turn: it reads the input and the session and fills
// in the replies. The runtime delivers them and saves the session.
type Handler interface {
	Serve(ctx context.Context, t *Turn) error
}

// HandlerFunc makes a function a Handler.
type HandlerFunc func(ctx context.Context, t *Turn) error

// Serve calls f.
func (f HandlerFunc) Serve(ctx context.Context, t *Turn) error { return f(ctx, t) }

// Middleware wraps a Handler, as net/http middleware wraps an http.Handler.
type Middleware func(Handler) Handler

// Route sends the inputs of the agents' team chat to team and those of
// every other chat to buyers. A zero teamChatID has no team chat.
func Route(teamChatID int64, team, buyers Handler) Handler {
	return HandlerFunc(func(ctx context.Context, t *Turn) error {
		if teamChatID != 0 && t.In.ChatID == teamChatID {
			return team.Serve(ctx, t)
		}
		return buyers.Serve(ctx, t)
	})
}

// Turn is one input being handled: the session it may change and what it
// answers.
type Turn struct {
	In   Input
	Sess Session
	// Lang is the language the chat is answered in.
	Lang string
	// Out are the replies to the input's chat, in order.
	Out []Message
	// Answer is the callback answer text; every callback is answered, with
	// an empty text when there is nothing to say.
	Answer         string
	RemoveKeyboard bool
	// Postings go to other chats than the input's (buyer <-> agents),
	// after the replies.
	Postings []Posting
	// AfterCommit runs once the turn is saved and its messages queued, for
	// work whose own messages must come after them.
	AfterCommit []func(context.Context)
	// Escalation is the chat's open escalation, when the desk found one.
	Escalation *refund.Escalation
	// MaybeEscalated is the session store's hint that the chat may have an
	// open escalation (Claim.MaybeEscalated).
	MaybeEscalated bool
	// OwnershipLocks are the orders the user may not prove ownership of
	// for now, with the time left (Claim.OwnershipLocks).
	OwnershipLocks map[string]time.Duration
	// Rated is the escalation the turn's button press rated, set by the
	// desk before the dialog runs, so that the dialog may ask for a
	// comment on the rating.
	Rated int64

	texts *locales.Bundle
}

// Posting is a message to another chat than the input's; Link, when set,
// ties the sent message to an escalation.
type Posting struct {
	ChatID int64
	Msg    Message
	Link   *Link
	// Fallback is posted instead when Telegram refuses this one for good
	// (Envelope.Fallback).
	Fallback *Posting
}

// NewTurn starts a turn for in with the chat's session. A session without
// a language takes the one the user's Telegram speaks, when it is known.
func NewTurn(in Input, sess Session, texts *locales.Bundle) *Turn {
	if sess.Lang == "" {
		sess.Lang = texts.Match(in.LanguageCode)
	}
	return &Turn{In: in, Sess: sess, Lang: sess.Lang, texts: texts}
}

// Texts is the bundle the turn renders from.
func (t *Turn) Texts() *locales.Bundle { return t.texts }

// Text renders key in the turn's language.
func (t *Turn) Text(key locales.Key, data map[string]any) string {
	return t.texts.Text(t.Lang, key, data)
}

// TextIn renders key in lang (matched to a language the bundle has): for
// messages to another chat than the input's.
func (t *Turn) TextIn(lang string, key locales.Key, data map[string]any) string {
	return t.texts.Text(t.texts.Match(lang), key, data)
}

// Say adds a reply to the input's chat.
func (t *Turn) Say(key locales.Key, data map[string]any, rows ...[]Button) {
	t.Out = append(t.Out, Message{Text: t.Text(key, data), Buttons: rows})
}

// Post adds a message to another chat, sent after the replies.
func (t *Turn) Post(chatID int64, m Message, link *Link) {
	t.Postings = append(t.Postings, Posting{ChatID: chatID, Msg: m, Link: link})
}

// PostOr is Post with a fallback, posted instead if Telegram refuses the
// message for good.
func (t *Turn) PostOr(p, fallback Posting) {
	p.Fallback = &fallback
	t.Postings = append(t.Postings, p)
}

// answerCallback answers the pressed button at once: Telegram shows a
// spinner until then, and the answer is not a message the limits count.
// A failed answer only leaves the spinner, so it is logged, not retried.
func (t *Turn) answerCallback(ctx context.Context, send Sender, logger *slog.Logger) {
	if cb := t.In.Callback; cb != nil {
		if err := send.AnswerCallback(ctx, cb.ID, t.Answer); err != nil {
			logger.WarnContext(ctx, "answer callback", "chat_id", t.In.ChatID, "err", err)
		}
	}
}

// envelopes are the turn's messages for the send queues, in the order they
// go: the pressed menu's buttons off, the replies, then the postings.
func (t *Turn) envelopes(now time.Time) []Envelope {
	out := make([]Envelope, 0, 1+len(t.Out)+len(t.Postings))
	if cb := t.In.Callback; cb != nil && t.RemoveKeyboard && cb.MessageID != 0 {
		out = append(out, Envelope{ChatID: t.In.ChatID, Unbutton: cb.MessageID, QueuedAt: now})
	}
	for _, m := range t.Out {
		out = append(out, Envelope{ChatID: t.In.ChatID, Msg: m, QueuedAt: now})
	}
	for _, p := range t.Postings {
		out = append(out, p.envelope(now))
	}
	return out
}

func (p Posting) envelope(now time.Time) Envelope {
	env := Envelope{ChatID: p.ChatID, Msg: p.Msg, Link: p.Link, QueuedAt: now}
	if p.Fallback != nil {
		fb := p.Fallback.envelope(now)
		env.Fallback = &fb
	}
	return env
}

// deliver sends the turn's answer and replies itself, waiting for each: for
// the few answers given without a session to commit them with (an outage,
// a flood notice).
func (t *Turn) deliver(ctx context.Context, send Sender, logger *slog.Logger) error {
	t.answerCallback(ctx, send, logger)
	for _, m := range t.Out {
		if err := send.Send(ctx, t.In.ChatID, m); err != nil {
			return &DeliveryError{Err: fmt.Errorf("send to chat %d: %w", t.In.ChatID, err)}
		}
	}
	return nil
}
