// Package buyer is the buyer's refund dialog: a looplab/fsm transition
// table (machine.go, drawn in testdata/dialog.mmd.golden) walked by one
// turn per input (this file). The turn sends what it got to the step it
// is at, and each step of some size is a small type of its own over the
// turn: the order (order.go) and its ownership proof (ownership.go), the
// statement (statement.go), the evidence (evidence.go), the summary and
// the submit (summary.go); steps.go asks each step's question. Beside the
// steps: button presses (press.go, their data in callback.go), commands
// (commands.go), idle free text (idle.go), scam warnings (scam.go), the
// status view (status.go), the follow-ups a submitted case asks for
// (followup.go), the comment on a rating (comment.go), and the notices
// the refund core sends (notice.go). It
// reaches a person through the Desk interface and the refund core through
// Core, and runs inside the flows runtime.
package buyer

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Config wires a Dialog: the refund core is its one door to the domain,
// the desk its way to a person.
type Config struct {
	Core Core
	// Desk reaches the agents; NoDesk when the shop has none.
	Desk     Desk
	Attempts flows.OwnershipAttempts
	Texts    *locales.Bundle
	// Location is the shop's time zone; times are shown in it.
	Location *time.Location
	// IdleTTL is how long a half-filled request is kept; flows.DefaultIdleTTL if 0.
	IdleTTL time.Duration
	// OrderIDPattern finds order IDs in free text; DefaultOrderIDPattern if nil.
	OrderIDPattern *regexp.Regexp
	// BotUsername is the bot's @username, for links from group chats.
	BotUsername string
	// Observer counts what the dialog does, for metrics; nil counts nothing.
	Observer Observer
	Now      func() time.Time
	Logger   *slog.Logger
}

// Desk is what the dialog needs of the agents' desk (flows/desk).
type Desk interface {
	// Enabled reports whether a person can be reached at all.
	Enabled() bool
	// Escalate queues the buyer's chat for a person, about caseID if
	// there is one, and tells the buyer their place in t.
	Escalate(ctx context.Context, t *flows.Turn, caseID int64, reason refund.EscalationReason) error
	// Flag tells the team of a buyer's message that smells of a deposit
	// scam: someone may be working on them outside the bot.
	Flag(ctx context.Context, t *flows.Turn)
	// Verify answers "is this account really staff?", for a forwarded
	// message or "/verify @name".
	Verify(ctx context.Context, t *flows.Turn) error
	// KeepForAgent keeps text the dialog cannot place, written while the
	// buyer waits in the queue, for the agent who takes the chat, and
	// tells the buyer so; false when the chat is not waiting there.
	KeepForAgent(ctx context.Context, t *flows.Turn) (bool, error)
	// Comment records the buyer's comment on the rating they gave an
	// escalation and thanks them; done is false when the words do not fit
	// and the buyer may send them again.
	Comment(ctx context.Context, t *flows.Turn, escalationID int64, text string) (done bool, err error)
}

// Dialog is the buyer's refund dialog, a flows.Handler.
type Dialog struct {
	cfg Config
	// reasonWords maps each reason to the words, in every language, that
	// name it in free text.
	reasonWords map[refund.Reason][]string
	machines    machines
}

// New checks the configuration and builds a Dialog; a missing part is
// named.
func New(cfg Config) (*Dialog, error) {
	switch {
	case cfg.Core == nil:
		return nil, errors.New("buyer: Core is required")
	case cfg.Desk == nil:
		return nil, errors.New("buyer: Desk is required (buyer.NoDesk{} when there are no agents)")
	case cfg.Attempts == nil:
		return nil, errors.New("buyer: Attempts is required")
	case cfg.Texts == nil:
		return nil, errors.New("buyer: Texts is required")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = flows.DefaultIdleTTL
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
	d := &Dialog{cfg: cfg, reasonWords: map[refund.Reason][]string{}}
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

// Observer is told of the dialog's progress: the steps buyers reach, and
// so where they give up.
type Observer interface {
	StepEntered(step string)
	// DialogEnded: how is submitted, cancelled or expired.
	DialogEnded(step, how string)
}

// NoDesk is the Desk of a shop without agents: buyers asking for a person
// are told none is available, and nobody is vouched for as staff.
type NoDesk struct{}

// Enabled implements Desk.
func (NoDesk) Enabled() bool { return false }

// Escalate implements Desk: there is nobody to escalate to.
func (NoDesk) Escalate(_ context.Context, t *flows.Turn, _ int64, _ refund.EscalationReason) error {
	t.Say(locales.NoAgents, nil)
	return nil
}

// Flag implements Desk: there is no team to tell.
func (NoDesk) Flag(context.Context, *flows.Turn) {}

// KeepForAgent implements Desk: nobody queues without agents.
func (NoDesk) KeepForAgent(context.Context, *flows.Turn) (bool, error) { return false, nil }

// Comment implements Desk: without agents nothing is rated.
func (NoDesk) Comment(context.Context, *flows.Turn, int64, string) (bool, error) { return true, nil }

// Verify implements Desk: without staff, nobody is staff.
func (NoDesk) Verify(_ context.Context, t *flows.Turn) error {
	who := strings.TrimSpace(t.In.Text)
	if f := t.In.Forward; f != nil {
		who = f.Name
	}
	t.Say(locales.VerifyNotStaff, map[string]any{"Who": who})
	return nil
}

// Serve implements flows.Handler: one buyer input.
func (d *Dialog) Serve(ctx context.Context, ft *flows.Turn) error {
	if ft.Sess.State == "" {
		ft.Sess.State = StateIdle
	}
	t := &turn{Turn: ft, d: d}
	t.followLanguage()
	from := t.Sess.State
	expired := t.d.expired(t.Sess)
	if err := t.run(ctx); err != nil {
		return err
	}
	d.observeSteps(from, t, expired)
	return nil
}

// observeSteps tells the observer which step the turn entered and, when
// a dialog ended, where and how: the funnel and its drop-off.
func (d *Dialog) observeSteps(from State, t *turn, expired bool) {
	obs := d.cfg.Observer
	if obs == nil {
		return
	}
	switch {
	case expired:
		obs.DialogEnded(string(from), "expired")
	case t.submitted:
		obs.DialogEnded(string(from), "submitted")
	case from == StateRatingComment:
		// A comment on a rating is no refund request to end.
	case from != StateIdle && t.Sess.State == StateIdle:
		obs.DialogEnded(string(from), "cancelled")
	}
	if t.Sess.State != from {
		obs.StepEntered(string(t.Sess.State))
	}
}

// turn is one buyer input being handled. Its own methods are the routing
// (run, typed, prompt, command), the moves every step makes (move, reset,
// cancel, askPerson) and the ways into a step's type: ownership, statement,
// evidence, summary, press, idle, followUps and lookup each wrap the turn
// for one part of the dialog, so that a part reads on its own and the turn
// stays the list of steps.
type turn struct {
	*flows.Turn
	d *Dialog
	// submitted is set by the turn that submitted a case.
	submitted bool
}

// run answers the input: an expired dialog is ended first, then the input
// goes where its kind says (a group, a button, a forward, a scam, a
// command, a file, a call for a person) and plain text to the step.
func (t *turn) run(ctx context.Context) error {
	if t.Sess.State == StateRatingComment && !t.comment().awaited() {
		if err := t.comment().end(ctx); err != nil {
			return err
		}
	}
	if t.d.expired(t.Sess) {
		orderID := t.Sess.PendingOrderID
		if t.Sess.Order != nil {
			orderID = t.Sess.Order.ID
		}
		t.Say(locales.SessionExpired, map[string]any{"OrderID": orderID})
		t.reset()
		if t.In.Callback != nil {
			t.RemoveKeyboard = true
			return nil
		}
	}
	switch {
	case t.In.Chat == flows.ChatGroup:
		t.inGroup()
		return nil
	case t.Rated != 0:
		// The desk took a rating button's press; a comment may follow.
		return t.comment().ask(ctx, t.Rated)
	case t.In.Callback != nil:
		return t.press().handle(ctx, *t.In.Callback)
	case t.In.Forward != nil && t.In.Chat == flows.ChatPrivate:
		// A forwarded message is the buyer asking "is this really staff?".
		return t.d.cfg.Desk.Verify(ctx, t.Turn)
	case t.In.Text != "" && flows.SmellsOfScam(t.In.Text) && len(t.In.Files) == 0:
		return t.scam(ctx)
	case t.In.Command != "":
		return t.command(ctx)
	case t.In.Unsupported != "":
		t.unsupported()
		return nil
	case len(t.In.Files) > 0:
		if flows.SmellsOfScam(t.In.Text) {
			t.Say(locales.ScamWarning, nil)
			t.d.cfg.Desk.Flag(ctx, t.Turn)
		}
		t.evidence().add()
		return nil
	case asksForPerson(t.In.Text):
		// At any step: the step is not answered by it, and the dialog
		// goes on from there when the agent hands the chat back.
		return t.askPerson(ctx, refund.EscalateAsked)
	}
	return t.typed(ctx)
}

// askPerson queues the chat for a person. The buyer's place in the dialog
// is kept, and they are told so when they were in the middle of it.
func (t *turn) askPerson(ctx context.Context, reason refund.EscalationReason) error {
	if err := t.d.cfg.Desk.Escalate(ctx, t.Turn, t.Sess.CaseID, reason); err != nil {
		return err
	}
	if t.Sess.State != StateIdle && t.d.cfg.Desk.Enabled() {
		t.Say(locales.PersonStepKept, nil)
	}
	return nil
}

// expired reports a half-filled request left longer than IdleTTL; the
// comment step ends on its own, sooner (commentWindow).
func (d *Dialog) expired(s flows.Session) bool {
	return s.State != StateIdle && s.State != StateRatingComment && !s.UpdatedAt.IsZero() &&
		d.cfg.Now().Sub(s.UpdatedAt) > d.cfg.IdleTTL
}

// reset ends the dialog, keeping only the buyer's language.
func (t *turn) reset() {
	t.Sess = flows.Session{State: StateIdle, Lang: t.Sess.Lang, LangChosen: t.Sess.LangChosen}
}

// move fires ev and gives the new step a fresh nonce, which makes the
// buttons of earlier steps stale.
func (t *turn) move(ctx context.Context, ev Event) error {
	next, err := t.d.machines.fire(ctx, t.Sess.State, ev)
	if err != nil {
		return err
	}
	t.Sess.State = next
	t.Sess.Nonce = newNonce()
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

// followLanguage answers in the language the buyer writes in, unless they
// chose one with /lang: a buyer whose Telegram is set to Chinese but who
// writes English sentences gets English answers. The language is taken
// from what starts a conversation, not from an answer inside a request (a
// statement may quote a Chinese error message).
func (t *turn) followLanguage() {
	if t.Sess.LangChosen || t.Sess.State != StateIdle || t.In.Callback != nil || t.In.Command != "" || t.In.Text == "" {
		return
	}
	code := textLanguage(t.In.Text)
	if code == "" {
		return
	}
	if lang := t.d.cfg.Texts.Match(code); lang != t.Sess.Lang {
		t.Sess.Lang, t.Lang = lang, lang
	}
}

// reasonFromWords takes a reason the buyer's own words named (in their
// first message, or typed at the reason step), says so, and goes on to
// the statement, as the reason's button would.
func (t *turn) reasonFromWords(ctx context.Context, r refund.Reason) error {
	t.Sess.Reason = r
	if err := t.move(ctx, EventReasonChosen); err != nil {
		return err
	}
	t.Say(locales.ReasonDetected, map[string]any{"Reason": t.Text(locales.ReasonLabel(r), nil)})
	t.prompt()
	return nil
}

// typed handles plain text according to the step the buyer is at.
func (t *turn) typed(ctx context.Context) error {
	text := strings.TrimSpace(t.In.Text)
	if text == "" {
		t.prompt()
		return nil
	}
	switch t.Sess.State {
	case StateIdle:
		return t.idle().read(ctx, text)
	case StateAwaitingOrder:
		return t.ownership().orderTyped(ctx, text)
	case StateAwaitingPhone:
		return t.ownership().phoneGiven(ctx, text)
	case StateChoosingReason:
		// A buyer may type the reason instead of pressing it ("卡密无效"):
		// one that names a reason of this product takes it, as the button
		// would; anything else shows the buttons again.
		if r := t.d.reasonIn(text); r != "" && t.Sess.Order != nil && r.Fits(t.Sess.Order.Category) {
			return t.reasonFromWords(ctx, r)
		}
	case StateWritingStatement:
		return t.statement().given(ctx, t.In.Text)
	case StateCollectingEvidence:
		t.Say(locales.EvidenceWantFile, nil, t.keys().evidence()...)
		return nil
	case StateAddingEvidence, StateWritingAppeal, StateGivingAccount:
		return t.followUps().followUpText(ctx, text)
	case StateRatingComment:
		return t.comment().given(ctx, text)
	}
	// Steps answered by buttons: show the step again.
	t.prompt()
	return nil
}
