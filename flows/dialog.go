// Package flows holds refundbot's dialogs: finite-state machines built on
// github.com/looplab/fsm that turn a buyer's messages and button presses
// into replies and refund cases. It knows nothing of Telegram: the bot
// adapter hands it an Input and a Sender.
package flows

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Ownership proof limits: three wrong phone-digit answers lock the order
// for the user for an hour, which makes guessing 10,000 combinations useless.
const (
	MaxOwnershipFailures = 3
	OwnershipLockout     = time.Hour
)

// DefaultIdleTTL is how long a half-filled request waits for the buyer.
const DefaultIdleTTL = 24 * time.Hour

// maxAnswerRunes bounds one-line answers (order IDs, phone digits); longer
// text in those steps is answered with a clear "too long".
const maxAnswerRunes = 200

// Config wires a Dialog to its stores and settings.
type Config struct {
	Store refund.Store
	// Core reviews submitted cases and takes the buyer's follow-ups; nil
	// leaves cases submitted (the first slice's behaviour).
	Core     Core
	Sessions SessionStore
	Attempts OwnershipAttempts
	Texts    *locales.Bundle
	// Location is the shop's time zone; times are shown in it.
	Location *time.Location
	// IdleTTL is how long a half-filled request is kept; DefaultIdleTTL if 0.
	IdleTTL time.Duration
	// OrderIDPattern finds order IDs in free text; DefaultOrderIDPattern if nil.
	OrderIDPattern *regexp.Regexp
	// BotUsername is the bot's @username, for links from group chats.
	BotUsername string
	// Desk connects buyers with agents; nil means no humans are wired.
	Desk *Desk
	// LeaseTTL is how long Sessions keeps a chat's lease; a turn running
	// longer extends it every third of that. Zero never extends.
	LeaseTTL time.Duration
	// Observer counts what the dialog does, for metrics; nil counts nothing.
	Observer Observer
	Now      func() time.Time
	Logger   *slog.Logger
}

// Dialog is the buyer's refund dialog.
type Dialog struct {
	cfg Config
	// reasonWords maps each reason to the words, in every language, that
	// name it in free text.
	reasonWords map[refund.Reason][]string
	// outage remembers which chats were told of an outage, so that each
	// redelivery of their updates does not tell them again.
	outage outageNotices
}

// New checks the configuration and builds a Dialog.
func New(cfg Config) (*Dialog, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("flows: Store is required")
	case cfg.Sessions == nil:
		return nil, errors.New("flows: Sessions is required")
	case cfg.Attempts == nil:
		return nil, errors.New("flows: Attempts is required")
	case cfg.Texts == nil:
		return nil, errors.New("flows: Texts is required")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = DefaultIdleTTL
	}
	if cfg.OrderIDPattern == nil {
		cfg.OrderIDPattern = regexp.MustCompile(DefaultOrderIDPattern)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dialog{cfg: cfg, reasonWords: map[refund.Reason][]string{}, outage: outageNotices{told: map[int64]time.Time{}}}
	for _, r := range refund.AllReasons() {
		for _, lang := range cfg.Texts.Languages() {
			for _, w := range strings.Split(cfg.Texts.Text(lang, locales.ReasonKeywords(r), nil), "|") {
				if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
					d.reasonWords[r] = append(d.reasonWords[r], w)
				}
			}
		}
	}
	return d, nil
}

// Observer is told of the dialog's progress: the steps buyers reach (and
// so where they give up) and the chats that flood the bot.
type Observer interface {
	StepEntered(step string)
	// DialogEnded: how is submitted, cancelled or expired.
	DialogEnded(step, how string)
	BuyerFlooded()
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

// Handle runs one input through the dialog: load the session, decide, send
// the replies, save the session. Replies go out before the save so that a
// crash in between repeats a reply rather than losing one. Errors the buyer
// was already told about kindly are returned for logging only; a
// *DeliveryError means the input should be handled again.
func (d *Dialog) Handle(ctx context.Context, in Input, send Sender) error {
	claim, err := d.cfg.Sessions.Begin(ctx, in.ChatID, in.UpdateIDs)
	if err != nil {
		err = fmt.Errorf("load session of chat %d: %w", in.ChatID, err)
		if refund.Unavailable(err) {
			return d.postpone(ctx, in, send, err)
		}
		t := d.newTurn(in, Session{})
		t.say(locales.InternalError, nil)
		if derr := t.deliver(ctx, send); derr != nil {
			return errors.Join(err, derr)
		}
		return err
	}
	switch {
	case claim.Duplicate:
		return nil
	case claim.Flooded:
		return d.flooded(ctx, in, claim, send)
	}
	stopExtending := d.keepLease(ctx, in.ChatID, claim.Fence)
	defer stopExtending()
	sess := claim.Session
	t := d.newTurn(in, sess)
	expired := t.expired()
	var problems []error
	if err := t.run(ctx); err != nil {
		err = fmt.Errorf("chat %d in %s: %w", in.ChatID, sess.State, err)
		if refund.Unavailable(err) {
			// Nothing of the turn is kept; the update comes again.
			stopExtending()
			if rerr := d.cfg.Sessions.Release(context.WithoutCancel(ctx), in.ChatID, claim.Fence); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return d.postpone(ctx, in, send, err)
		}
		problems = append(problems, err)
		// Whatever the turn half-did is dropped: the buyer keeps the state
		// they had and is asked to try again.
		t = d.newTurn(in, sess)
		t.say(locales.InternalError, nil)
		if in.Callback != nil {
			t.answer = t.text(locales.InternalError, nil)
		}
	}
	if err := t.deliver(ctx, send); err != nil {
		stopExtending()
		// The update is handled again later; until then the chat is free.
		if rerr := d.cfg.Sessions.Release(context.WithoutCancel(ctx), in.ChatID, claim.Fence); rerr != nil {
			problems = append(problems, rerr)
		}
		return errors.Join(append(problems, err)...)
	}
	for _, f := range t.afterDelivery {
		f(ctx)
	}
	t.sess.UpdatedAt = d.cfg.Now().UTC()
	t.sess.Version++
	d.observeSteps(sess.State, t, expired)
	stopExtending()
	if err := d.cfg.Sessions.Commit(ctx, in.ChatID, claim.Fence, &t.sess, in.UpdateIDs); err != nil {
		err = fmt.Errorf("save session of chat %d: %w", in.ChatID, err)
		if refund.Unavailable(err) {
			// The replies are out but the turn is not saved: handled
			// again, it repeats them rather than losing the input.
			return &RetryError{Err: errors.Join(append(problems, err)...)}
		}
		problems = append(problems, err)
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
// buyer is told, once, that it will be handled when the bot is back, which
// is true because the returned *RetryError keeps the update unconfirmed.
// A button press is answered every time, or its spinner would turn.
func (d *Dialog) postpone(ctx context.Context, in Input, send Sender, cause error) error {
	d.cfg.Logger.WarnContext(ctx, "a server is out; the update will be handled again", "chat_id", in.ChatID,
		"update_id", in.UpdateIDs[0], "err", cause)
	t := d.newTurn(in, Session{})
	if in.Callback != nil {
		t.answer = t.text(locales.Postponed, nil)
	}
	if in.Chat == ChatPrivate && d.outage.first(in.ChatID, d.cfg.Now()) {
		t.say(locales.Postponed, nil)
	}
	if err := t.deliver(ctx, send); err != nil {
		d.cfg.Logger.WarnContext(ctx, "tell the buyer of an outage", "chat_id", in.ChatID, "err", err)
	}
	return &RetryError{Err: cause}
}

// observeSteps tells the observer which step the turn entered and, when
// a dialog ended, where and how: the funnel and its drop-off.
func (d *Dialog) observeSteps(from State, t *turn, expired bool) {
	obs := d.cfg.Observer
	if obs == nil {
		return
	}
	if from == "" {
		from = StateIdle
	}
	switch {
	case expired:
		obs.DialogEnded(string(from), "expired")
	case t.submitted:
		obs.DialogEnded(string(from), "submitted")
	case from != StateIdle && t.sess.State == StateIdle:
		obs.DialogEnded(string(from), "cancelled")
	}
	if t.sess.State != from {
		obs.StepEntered(string(t.sess.State))
	}
}

// flooded answers the first input over a chat's flood limit, once; the
// others are dropped unread. Nothing else of the chat is touched, so other
// buyers, and this one a minute later, are served as usual.
func (d *Dialog) flooded(ctx context.Context, in Input, claim Claim, send Sender) error {
	if !claim.FirstFlooded || in.Chat != ChatPrivate {
		return nil
	}
	d.cfg.Logger.WarnContext(ctx, "chat flooded; inputs dropped for the window", "chat_id", in.ChatID, "update_id", in.UpdateIDs[0])
	if d.cfg.Observer != nil {
		d.cfg.Observer.BuyerFlooded()
	}
	t := d.newTurn(in, Session{})
	t.say(locales.Flooded, nil)
	// Delivered once at most: the update is marked handled already, and a
	// second notice would itself be flooding.
	return t.deliver(ctx, send)
}

// keepLease extends the chat's lease while a turn runs long (a 429 wait,
// a slow Telegram), and returns the function that stops it.
func (d *Dialog) keepLease(ctx context.Context, chatID, fence int64) (stop func()) {
	every := d.cfg.LeaseTTL / 3
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := d.cfg.Sessions.Extend(ctx, chatID, fence); err != nil {
					d.cfg.Logger.WarnContext(ctx, "extend chat lease", "chat_id", chatID, "err", err)
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// turn is one input being handled: the session it changes and the replies
// it collects.
type turn struct {
	d    *Dialog
	in   Input
	sess Session
	lang string
	out  []Message
	// answer is the callback answer text; every callback is answered, with
	// an empty text when there is nothing to say.
	answer         string
	removeKeyboard bool
	// afterDelivery runs once the replies are out, for work whose own
	// messages must come after them.
	afterDelivery []func(context.Context)
	// postings go to other chats than the input's (buyer <-> agents).
	postings []posting
	// queued is the buyer's escalation waiting for an agent, if any.
	queued *refund.Escalation
	// submitted is set by the turn that submitted a case.
	submitted bool
}

func (d *Dialog) newTurn(in Input, sess Session) *turn {
	if sess.State == "" {
		sess.State = StateIdle
	}
	if sess.Lang == "" {
		sess.Lang = d.cfg.Texts.Match(in.LanguageCode)
	}
	return &turn{d: d, in: in, sess: sess, lang: sess.Lang}
}

func (t *turn) deliver(ctx context.Context, send Sender) error {
	if cb := t.in.Callback; cb != nil {
		// A failed answer only leaves a spinner on the buyer's button, so
		// it is logged, not retried.
		if err := send.AnswerCallback(ctx, cb.ID, t.answer); err != nil {
			t.d.cfg.Logger.WarnContext(ctx, "answer callback", "chat_id", t.in.ChatID, "err", err)
		}
		if t.removeKeyboard {
			if err := send.RemoveKeyboard(ctx, t.in.ChatID, cb.MessageID); err != nil {
				t.d.cfg.Logger.WarnContext(ctx, "remove keyboard", "chat_id", t.in.ChatID, "err", err)
			}
		}
	}
	if b, ok := send.(Booker); ok && len(t.out) > 0 {
		// Unbooked replies are paced one by one instead: slower, not lost.
		if err := b.Book(ctx, t.in.ChatID, len(t.out)); err != nil {
			t.d.cfg.Logger.WarnContext(ctx, "book replies", "chat_id", t.in.ChatID, "err", err)
		}
	}
	for _, m := range t.out {
		if err := send.Send(ctx, t.in.ChatID, m); err != nil {
			return &DeliveryError{Err: fmt.Errorf("send to chat %d: %w", t.in.ChatID, err)}
		}
	}
	for _, p := range t.postings {
		id, err := send.Post(ctx, p.chatID, p.msg)
		if err != nil {
			return &DeliveryError{Err: fmt.Errorf("send to chat %d: %w", p.chatID, err)}
		}
		if p.link != nil {
			// A lost link only means a reply to that message is not
			// recognised; the message itself is out, so no redelivery.
			if err := p.link(ctx, id); err != nil {
				t.d.cfg.Logger.ErrorContext(ctx, "link message to escalation", "chat_id", p.chatID, "message_id", id, "err", err)
			}
		}
	}
	return nil
}

func (t *turn) text(key locales.Key, data map[string]any) string {
	return t.d.cfg.Texts.Text(t.lang, key, data)
}

func (t *turn) say(key locales.Key, data map[string]any, rows ...[]Button) {
	t.out = append(t.out, Message{Text: t.text(key, data), Buttons: rows})
}

func (t *turn) run(ctx context.Context) error {
	if t.desk() != nil && t.in.ChatID == t.desk().ChatID {
		return t.agentChat(ctx)
	}
	if e, held, err := t.held(ctx); err != nil {
		return err
	} else if held {
		return t.relayToAgent(ctx, e)
	} else if e.Open() {
		t.queued = &e
	}
	if t.expired() {
		orderID := t.sess.PendingOrderID
		if t.sess.Order != nil {
			orderID = t.sess.Order.ID
		}
		t.say(locales.SessionExpired, map[string]any{"OrderID": orderID})
		t.reset()
		if t.in.Callback != nil {
			t.removeKeyboard = true
			return nil
		}
	}
	switch {
	case t.in.Chat == ChatGroup:
		t.inGroup()
		return nil
	case t.in.Callback != nil:
		return t.pressed(ctx, *t.in.Callback)
	case t.in.Forward != nil && t.in.Chat == ChatPrivate:
		// A forwarded message is the buyer asking "is this really staff?".
		return t.verify(ctx)
	case t.in.Text != "" && looksLikeScam(t.in.Text) && len(t.in.Files) == 0:
		t.scam()
		return nil
	case t.in.Command != "":
		return t.command(ctx)
	case t.in.Unsupported != "":
		t.unsupported()
		return nil
	case len(t.in.Files) > 0:
		if looksLikeScam(t.in.Text) {
			t.say(locales.ScamWarning, nil)
			t.flagToTeam()
		}
		t.files()
		return nil
	}
	return t.typed(ctx)
}

func (t *turn) expired() bool {
	return t.sess.State != StateIdle && !t.sess.UpdatedAt.IsZero() &&
		t.d.cfg.Now().Sub(t.sess.UpdatedAt) > t.d.cfg.IdleTTL
}

// reset ends the dialog, keeping only the buyer's language.
func (t *turn) reset() {
	t.sess = Session{State: StateIdle, Lang: t.sess.Lang}
}

// move fires ev and gives the new step a fresh nonce, which makes the
// buttons of earlier steps stale.
func (t *turn) move(ctx context.Context, ev Event) error {
	next, err := fire(ctx, t.sess.State, ev)
	if err != nil {
		return err
	}
	t.sess.State = next
	t.sess.Nonce = newNonce()
	return nil
}

func newNonce() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, nonceLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (t *turn) inGroup() {
	if t.in.Callback != nil {
		t.answer = t.text(locales.GroupPrivateOnly, map[string]any{"Bot": t.d.cfg.BotUsername})
		return
	}
	if t.in.Command == "" || (t.in.CommandTarget != "" && !strings.EqualFold(t.in.CommandTarget, t.d.cfg.BotUsername)) {
		return // chatter in a group is not for the bot
	}
	switch t.in.Command {
	case "start", "refund", "status", "help", "cancel":
		t.say(locales.GroupPrivateOnly, map[string]any{"Bot": t.d.cfg.BotUsername},
			[]Button{{Text: t.text(locales.BtnOpenPrivate, nil), URL: "https://t.me/" + t.d.cfg.BotUsername}})
	}
}

func (t *turn) scam() {
	t.say(locales.ScamWarning, nil)
	t.flagToTeam()
	if t.sess.State == StateWritingStatement && len([]rune(t.in.Text)) <= refund.MaxStatementRunes {
		// The buyer may be describing the scam they met; keep the words
		// until they say whether this is their statement.
		t.sess.PendingStatement = t.in.Text
		t.say(locales.StatementScam, nil,
			[]Button{{Text: t.text(locales.BtnKeepStatement, nil), Data: stepData(t.sess.Nonce, actKeepStatement, "")}})
	}
}

func (t *turn) unsupported() {
	switch t.sess.State {
	case StateCollectingEvidence:
		t.say(locales.EvidenceWantFile, nil, t.evidenceButtons()...)
		return
	case StateAddingEvidence, StateWritingAppeal:
		t.say(locales.EvidenceWantFile, nil, t.followUpButtons()...)
		return
	}
	t.say(locales.WantText, nil)
}

func (t *turn) command(ctx context.Context) error {
	args := strings.TrimSpace(t.in.Text)
	switch t.in.Command {
	case "start":
		t.out = append(t.out, Message{
			Text:    t.text(locales.Greeting, map[string]any{"Name": t.in.FirstName}) + "\n\n" + t.text(locales.ScamWarning, nil),
			Buttons: t.menuButtons(),
		})
		if t.sess.State != StateIdle {
			t.prompt()
		}
		return nil
	case "help":
		t.say(locales.Help, nil)
		return nil
	case "refund":
		return t.startRefund(ctx, args)
	case "status":
		if args == "" {
			t.say(locales.StatusAsk, nil)
			return nil
		}
		return t.status(ctx, args)
	case "cancel":
		return t.cancel(ctx)
	case "agent", "human":
		return t.escalate(ctx, refund.EscalateAsked)
	case "verify":
		return t.verify(ctx)
	case "lang":
		switch lang := t.d.cfg.Texts.Match(args); {
		case args == "":
			t.say(locales.LangUsage, nil)
		default:
			t.sess.Lang, t.lang = lang, lang
			t.say(locales.LangSet, nil)
		}
		return nil
	}
	t.say(locales.UnknownCommand, map[string]any{"Command": t.in.Command})
	return nil
}

func (t *turn) menuButtons() [][]Button {
	return [][]Button{{
		{Text: t.text(locales.BtnRefund, nil), Data: menuData(actMenuRefund, "")},
		{Text: t.text(locales.BtnStatus, nil), Data: menuData(actMenuStatus, "")},
	}}
}

func (t *turn) cancel(ctx context.Context) error {
	if t.sess.State == StateIdle {
		t.say(locales.NothingToCancel, nil, t.menuButtons()...)
		return nil
	}
	if err := t.move(ctx, EventCancel); err != nil {
		return err
	}
	t.reset()
	t.say(locales.Cancelled, nil, t.menuButtons()...)
	return nil
}

// typed handles plain text according to the step the buyer is at.
func (t *turn) typed(ctx context.Context) error {
	text := strings.TrimSpace(t.in.Text)
	if text == "" {
		t.prompt()
		return nil
	}
	switch t.sess.State {
	case StateIdle:
		return t.idleText(ctx, text)
	case StateAwaitingOrder:
		if n := len([]rune(text)); n > maxAnswerRunes {
			t.say(locales.TextTooLong, map[string]any{"Len": n, "Max": maxAnswerRunes}, t.navButtons()...)
			return nil
		}
		id, ok := parseOrderAnswer(t.d.cfg.OrderIDPattern, text)
		if !ok {
			t.say(locales.OrderIDInvalid, map[string]any{"Max": refund.MaxOrderIDLength}, t.navButtons()...)
			return nil
		}
		return t.orderGiven(ctx, id)
	case StateAwaitingPhone:
		return t.phoneGiven(ctx, text)
	case StateWritingStatement:
		return t.statementGiven(ctx, t.in.Text)
	case StateCollectingEvidence:
		t.say(locales.EvidenceWantFile, nil, t.evidenceButtons()...)
		return nil
	case StateAddingEvidence, StateWritingAppeal, StateGivingAccount:
		return t.followUpText(ctx, text)
	}
	// Steps answered by buttons: show the step again.
	t.prompt()
	return nil
}

func (t *turn) idleText(ctx context.Context, text string) error {
	if askedForPerson.MatchString(text) {
		return t.escalate(ctx, refund.EscalateAsked)
	}
	if hasRefundIntent(text) {
		return t.startRefund(ctx, text)
	}
	if _, ok := findCaseNumber(text); ok {
		return t.status(ctx, text)
	}
	if _, ok := findOrderID(t.d.cfg.OrderIDPattern, text); ok {
		return t.status(ctx, text)
	}
	if t.queued != nil {
		// Waiting for a person: say where they are rather than the menu.
		return t.escalate(ctx, t.queued.Reason)
	}
	if t.repeated(text) {
		return t.escalate(ctx, refund.EscalateRepeated)
	}
	t.say(locales.UnknownText, nil, t.menuButtons()...)
	return nil
}

// repeatLimit is how many times the same complaint the bot did not
// understand brings in a person.
const repeatLimit = 3

// repeated counts the buyer saying the same thing the bot cannot place.
func (t *turn) repeated(text string) bool {
	norm := strings.Join(strings.Fields(strings.ToLower(text)), " ")
	if norm == t.sess.RepeatText {
		t.sess.RepeatCount++
	} else {
		t.sess.RepeatText, t.sess.RepeatCount = norm, 1
	}
	if t.sess.RepeatCount >= repeatLimit && t.deskEnabled() {
		t.sess.RepeatText, t.sess.RepeatCount = "", 0
		return true
	}
	return false
}

// startRefund begins a new request; free text may already name the order
// and the reason ("我要退款 订单号KM20261120001 卡密无效").
func (t *turn) startRefund(ctx context.Context, text string) error {
	lang := t.sess.Lang
	if err := t.move(ctx, EventStart); err != nil {
		return err
	}
	t.sess = Session{State: t.sess.State, Nonce: t.sess.Nonce, Lang: lang, SubmissionKey: newNonce() + newNonce(),
		ReasonHint: t.reasonIn(text)}
	if id, ok := findOrderID(t.d.cfg.OrderIDPattern, text); ok {
		return t.orderGiven(ctx, id)
	}
	t.prompt()
	return nil
}

func (t *turn) reasonIn(text string) refund.Reason {
	lower := strings.ToLower(text)
	for _, r := range refund.AllReasons() {
		for _, w := range t.d.reasonWords[r] {
			if strings.Contains(lower, w) {
				return r
			}
		}
	}
	return ""
}

func (t *turn) orderGiven(ctx context.Context, id string) error {
	locked, err := t.d.cfg.Attempts.Locked(ctx, t.in.UserID, id, MaxOwnershipFailures)
	if err != nil {
		return fmt.Errorf("check lock of order %s: %w", id, err)
	}
	if locked > 0 {
		t.say(locales.OwnershipLocked, map[string]any{"OrderID": id, "Minutes": minutesCeil(locked)}, t.navButtons()...)
		return nil
	}
	order, found, err := t.order(ctx, id)
	if err != nil {
		return err
	}
	if found && order.BoundTo(t.in.UserID) {
		return t.owned(ctx, order, EventOrderOwned)
	}
	// Unbound, someone else's and unknown orders all take the same path, so
	// that the answers do not tell which order IDs exist.
	t.sess.PendingOrderID = id
	if err := t.move(ctx, EventOrderNeedsProof); err != nil {
		return err
	}
	t.prompt()
	return nil
}

func (t *turn) order(ctx context.Context, id string) (refund.Order, bool, error) {
	order, err := t.d.cfg.Store.Order(ctx, id)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		return refund.Order{}, false, nil
	case err != nil:
		return refund.Order{}, false, fmt.Errorf("load order %s: %w", id, err)
	}
	return order, true, nil
}

func (t *turn) phoneGiven(ctx context.Context, text string) error {
	if !isFourDigits(text) {
		t.say(locales.PhoneFormat, nil, t.navButtons()...)
		return nil
	}
	id := t.sess.PendingOrderID
	order, found, err := t.order(ctx, id)
	if err != nil {
		return err
	}
	if found && order.BuyerTelegramID == 0 && order.PhoneLast4Matches(text) {
		return t.owned(ctx, order, EventPhoneOK)
	}
	failures, err := t.d.cfg.Attempts.Fail(ctx, t.in.UserID, id, MaxOwnershipFailures, OwnershipLockout)
	if err != nil {
		return fmt.Errorf("count failed proof for order %s: %w", id, err)
	}
	if err := t.move(ctx, EventPhoneFailed); err != nil {
		return err
	}
	t.sess.PendingOrderID = ""
	if failures >= MaxOwnershipFailures {
		t.say(locales.OwnershipLocked, map[string]any{"OrderID": id, "Minutes": minutesCeil(OwnershipLockout)}, t.navButtons()...)
		return nil
	}
	t.say(locales.OwnershipFailed, map[string]any{"Left": MaxOwnershipFailures - failures}, t.navButtons()...)
	return nil
}

func minutesCeil(d time.Duration) int {
	return int((d + time.Minute - 1) / time.Minute)
}

// owned records the proven order and moves to the reason, or past it when
// the buyer's first message already named a reason that fits.
func (t *turn) owned(ctx context.Context, o refund.Order, ev Event) error {
	t.sess.PendingOrderID = ""
	t.sess.Order = &OrderSnapshot{ID: o.ID, Product: o.Product, Category: o.Category, AmountPaid: o.AmountPaid,
		Currency: o.Currency, PurchasedAt: o.PurchasedAt}
	if err := t.move(ctx, ev); err != nil {
		return err
	}
	hint := t.sess.ReasonHint
	t.sess.ReasonHint = ""
	if hint != "" && hint.Fits(o.Category) {
		t.sess.Reason = hint
		if err := t.move(ctx, EventReasonChosen); err != nil {
			return err
		}
		t.say(locales.ReasonDetected, map[string]any{"Reason": t.text(locales.ReasonLabel(hint), nil)})
	}
	t.prompt()
	return nil
}

func (t *turn) statementGiven(ctx context.Context, text string) error {
	text = strings.TrimSpace(text)
	if n := len([]rune(text)); n > refund.MaxStatementRunes {
		t.say(locales.StatementTooLong, map[string]any{"Len": n, "Max": refund.MaxStatementRunes}, t.navButtons()...)
		return nil
	}
	t.sess.Statement = text
	t.sess.PendingStatement = ""
	if err := t.move(ctx, EventStatementSet); err != nil {
		return err
	}
	t.prompt()
	return nil
}

func (t *turn) files() {
	buttons := t.evidenceButtons
	switch t.sess.State {
	case StateCollectingEvidence:
	case StateAddingEvidence, StateWritingAppeal:
		buttons = t.followUpButtons
	default:
		t.say(locales.FileNotNow, nil)
		return
	}
	seen := map[string]bool{}
	for _, e := range t.sess.Evidence {
		seen[e.FileUniqueID] = true
	}
	added, duplicates, ignored := 0, 0, 0
	for _, f := range t.in.Files {
		switch {
		case seen[f.FileUniqueID]:
			duplicates++
		case len(t.sess.Evidence) >= refund.MaxEvidence:
			ignored++
		default:
			seen[f.FileUniqueID] = true
			t.sess.Evidence = append(t.sess.Evidence, f)
			added++
		}
	}
	if duplicates > 0 {
		t.say(locales.EvidenceDuplicate, nil)
	}
	if ignored > 0 {
		t.say(locales.EvidenceFull, map[string]any{"Max": refund.MaxEvidence, "Ignored": ignored})
	}
	t.say(locales.EvidenceReceived, map[string]any{"Count": len(t.sess.Evidence), "Max": refund.MaxEvidence}, buttons()...)
}
