// Package flows is the turn runtime of refundbot's dialogs: it claims a
// chat's session, hands the input to a Handler, and saves the session with
// what the handler said queued for delivery, so that every update is
// handled once, in order per chat, and none is confirmed to Telegram
// unhandled; a Dispatcher delivers the queued messages within the
// messenger's limits. The dialogs
// themselves live in flows/buyer (the refund dialog) and flows/desk (the
// agents' desk); flows knows nothing of Telegram: the bot adapter hands it
// an Input and a Sender.
package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// RuntimeConfig wires a Runtime.
type RuntimeConfig struct {
	Sessions SessionStore
	Texts    *locales.Bundle
	// Handler serves every turn (flows.Route picks the dialog).
	Handler Handler
	// Dispatcher delivers the messages turns queue with their commit.
	Dispatcher *Dispatcher
	// LeaseTTL is how long Sessions keeps a chat's lease; a turn running
	// longer extends it every third of that. Zero never extends.
	LeaseTTL time.Duration
	// Observer counts floods, for metrics; nil counts nothing.
	Observer Observer
	Now      func() time.Time
	Logger   *slog.Logger
}

// Observer is told of the chats that flood the bot and of the updates
// dropped as handled before.
type Observer interface {
	BuyerFlooded()
	UpdateDuplicate()
}

// Runtime runs turns: one Begin and one Commit round trip to the session
// store around the handler. Deduplication, the flood limit and the chat's
// lease are checked in that same Begin, not as middleware of their own,
// because each would otherwise cost a round trip of every update.
type Runtime struct {
	cfg RuntimeConfig
	// outage remembers which chats were told of an outage, so that each
	// redelivery of their updates does not tell them again.
	outage outageNotices
}

// NewRuntime checks cfg and returns a Runtime; a missing part is named.
func NewRuntime(cfg RuntimeConfig) (*Runtime, error) {
	switch {
	case cfg.Sessions == nil:
		return nil, errors.New("flows: the runtime needs Sessions")
	case cfg.Texts == nil:
		return nil, errors.New("flows: the runtime needs Texts")
	case cfg.Handler == nil:
		return nil, errors.New("flows: the runtime needs a Handler")
	case cfg.Dispatcher == nil:
		return nil, errors.New("flows: the runtime needs a Dispatcher")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{cfg: cfg, outage: outageNotices{told: map[int64]time.Time{}}}, nil
}

// DeliveryError means the replies of an update could not all be sent. The
// update was not marked handled, so handling it again is safe and right.
type DeliveryError struct{ Err error }

func (e *DeliveryError) Error() string { return "deliver replies: " + e.Err.Error() }

// Unwrap returns the send error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// RetryError means an input could not be handled because a server the
// dialog needs (Redis, the database) was out, and nothing of it was saved:
// the adapter must not confirm the update to Telegram, so that it comes
// again once the server is back.
type RetryError struct{ Err error }

func (e *RetryError) Error() string { return "postponed: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RetryError) Unwrap() error { return e.Err }

// Handle runs one input: claim the session, let the handler decide, answer
// a pressed button, then save the session and queue the replies in one
// atomic commit, which the Dispatcher delivers: the turn never waits for
// Telegram's limits, and a crash loses neither a reply nor the turn. send
// answers buttons and the notices of an outage or a flood, which have no
// turn to commit with. Errors the user was already told about kindly are
// returned for logging only; a *DeliveryError or a *RetryError means the
// input should be handled again.
func (r *Runtime) Handle(ctx context.Context, in Input, send Sender) error {
	claim, err := r.cfg.Sessions.Begin(ctx, in.ChatID, in.UpdateIDs)
	if err != nil {
		err = fmt.Errorf("load session of chat %d: %w", in.ChatID, err)
		if refund.Unavailable(err) {
			return r.postpone(ctx, in, send, err)
		}
		t := NewTurn(in, Session{}, r.cfg.Texts)
		t.Say(locales.InternalError, nil)
		if derr := t.deliver(ctx, send, r.cfg.Logger); derr != nil {
			return errors.Join(err, derr)
		}
		return err
	}
	if claim.IDsRestarted {
		r.cfg.Logger.WarnContext(ctx, "update ids started again far below the highest seen: a new era of ids begins, "+
			"and the handled-update marks of the old ones no longer count", "update_id", in.UpdateIDs[0])
	}
	switch {
	case claim.Duplicate:
		// Telegram delivers again what was not confirmed in time; a
		// drop is normal, but never silent.
		r.cfg.Logger.DebugContext(ctx, "update dropped: handled before", "chat_id", in.ChatID, "update_ids", in.UpdateIDs)
		if r.cfg.Observer != nil {
			r.cfg.Observer.UpdateDuplicate()
		}
		return nil
	case claim.Flooded:
		return r.flooded(ctx, in, claim, send)
	}
	stopExtending := r.keepLease(ctx, in.ChatID, claim.Fence)
	defer stopExtending()
	sess := claim.Session
	t := NewTurn(in, sess, r.cfg.Texts)
	t.MaybeEscalated = claim.MaybeEscalated
	t.OwnershipLocks = claim.OwnershipLocks
	var problems []error
	if err := r.cfg.Handler.Serve(ctx, t); err != nil {
		err = fmt.Errorf("chat %d in %s: %w", in.ChatID, sess.State, err)
		if refund.Unavailable(err) {
			// Nothing of the turn is kept; the update comes again.
			stopExtending()
			if rerr := r.cfg.Sessions.Release(context.WithoutCancel(ctx), in.ChatID, claim.Fence); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return r.postpone(ctx, in, send, err)
		}
		problems = append(problems, err)
		// Whatever the turn half-did is dropped: the user keeps the state
		// they had and is asked to try again.
		t = NewTurn(in, sess, r.cfg.Texts)
		t.Say(locales.InternalError, nil)
		if in.Callback != nil {
			t.Answer = t.Text(locales.InternalError, nil)
		}
	}
	t.answerCallback(ctx, send, r.cfg.Logger)
	now := r.cfg.Now().UTC()
	t.Sess.UpdatedAt = now
	t.Sess.Version++
	stopExtending()
	claimed, err := r.cfg.Sessions.Commit(ctx, in.ChatID, claim.Fence, &t.Sess, in.UpdateIDs, t.envelopes(now))
	if err != nil {
		err = fmt.Errorf("save session of chat %d: %w", in.ChatID, err)
		if refund.Unavailable(err) {
			// Neither the turn nor its replies are kept: handled again, it
			// answers then.
			return &RetryError{Err: errors.Join(append(problems, err)...)}
		}
		return errors.Join(append(problems, err)...)
	}
	r.cfg.Dispatcher.Start(claimed)
	for _, f := range t.AfterCommit {
		f(ctx)
	}
	return errors.Join(problems...)
}

// outageNoticeEvery is how often, at most, one chat is told that its
// messages wait for an outage to end: each redelivery would tell it again.
const outageNoticeEvery = 5 * time.Minute

// outageNotices remembers, in this process only (the outage may be
// Redis's), when each chat was last told of an outage.
type outageNotices struct {
	mu   sync.Mutex
	told map[int64]time.Time
}

// first reports whether chatID has not been told within outageNoticeEvery,
// and counts it told from now.
func (o *outageNotices) first(chatID int64, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if at, ok := o.told[chatID]; ok && now.Sub(at) < outageNoticeEvery {
		return false
	}
	if len(o.told) >= 10000 {
		for id, at := range o.told {
			if now.Sub(at) >= outageNoticeEvery {
				delete(o.told, id)
			}
		}
	}
	o.told[chatID] = now
	return true
}

// postpone answers an input that an outage kept from being handled: the
// user is told, once, that it will be handled when the bot is back, which
// is true because the returned *RetryError keeps the update unconfirmed.
// A button press is answered every time, or its spinner would turn.
func (r *Runtime) postpone(ctx context.Context, in Input, send Sender, cause error) error {
	r.cfg.Logger.WarnContext(ctx, "a server is out; the update will be handled again", "chat_id", in.ChatID,
		"update_id", in.UpdateIDs[0], "err", cause)
	t := NewTurn(in, Session{}, r.cfg.Texts)
	if in.Callback != nil {
		t.Answer = t.Text(locales.Postponed, nil)
	}
	if in.Chat == ChatPrivate && r.outage.first(in.ChatID, r.cfg.Now()) {
		t.Say(locales.Postponed, nil)
	}
	if err := t.deliver(ctx, send, r.cfg.Logger); err != nil {
		r.cfg.Logger.WarnContext(ctx, "tell the user of an outage", "chat_id", in.ChatID, "err", err)
	}
	return &RetryError{Err: cause}
}

// flooded answers the first input over a chat's flood limit, once; the
// others are dropped unread. Nothing else of the chat is touched, so other
// buyers, and this one a minute later, are served as usual.
func (r *Runtime) flooded(ctx context.Context, in Input, claim Claim, send Sender) error {
	if !claim.FirstFlooded || in.Chat != ChatPrivate {
		return nil
	}
	r.cfg.Logger.WarnContext(ctx, "chat flooded; inputs dropped for the window", "chat_id", in.ChatID, "update_id", in.UpdateIDs[0])
	if r.cfg.Observer != nil {
		r.cfg.Observer.BuyerFlooded()
	}
	t := NewTurn(in, Session{}, r.cfg.Texts)
	t.Say(locales.Flooded, nil)
	t.answerCallback(ctx, send, r.cfg.Logger)
	// Behind the replies to the inputs before the flood, and queued once
	// at most: the update is marked handled already, and a second notice
	// would itself be flooding.
	return r.cfg.Dispatcher.Enqueue(ctx, t.envelopes(r.cfg.Now().UTC())...)
}

// keepLease extends the chat's lease while a turn runs long (a 429 wait,
// a slow Telegram), and returns the function that stops it.
func (r *Runtime) keepLease(ctx context.Context, chatID, fence int64) (stop func()) {
	return Renew(ctx, r.cfg.LeaseTTL/3, func(ctx context.Context) bool {
		if err := r.cfg.Sessions.Extend(ctx, chatID, fence); err != nil {
			r.cfg.Logger.WarnContext(ctx, "extend chat lease", "chat_id", chatID, "err", err)
			return false
		}
		return true
	})
}
