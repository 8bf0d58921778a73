package flows

import (
	"context"
	"fmt"
	"strings"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Core is what the dialog asks of the refund core once a case exists. Its
// methods check that the buyer owns the case and that the action still
// fits its status, so a button on an old notice can do no harm.
type Core interface {
	// Submit stores a new case, due for its first review.
	Submit(ctx context.Context, n refund.NewCase) (refund.Case, error)
	// Review runs the automatic first review of a submitted case.
	Review(ctx context.Context, caseID int64) (refund.Case, error)
	AddEvidence(ctx context.Context, caseID, buyer int64, files []refund.Evidence) (refund.Case, error)
	Appeal(ctx context.Context, caseID, buyer int64, words string, files []refund.Evidence) (refund.Case, error)
	ChooseRoute(ctx context.Context, caseID, buyer int64, route refund.PayoutRoute) (refund.Case, error)
	RetryPayout(ctx context.Context, caseID, buyer int64, account string) (refund.Case, error)
	// Policy is the rulebook, for the choices a case view offers.
	Policy() refund.Policy
}

// policy is the refund core's rulebook, or the default one when the
// dialog runs without a core.
func (t *turn) policy() refund.Policy {
	if t.d.cfg.Core != nil {
		return t.d.cfg.Core.Policy()
	}
	return refund.DefaultPolicy()
}

// createCase submits a case through the refund core, or straight to the
// store when the dialog runs without one.
func (t *turn) createCase(ctx context.Context, n refund.NewCase) (refund.Case, error) {
	if t.d.cfg.Core != nil {
		return t.d.cfg.Core.Submit(ctx, n)
	}
	return t.d.cfg.Store.CreateCase(ctx, n)
}

// review hands a just-submitted case to the refund core. Its verdict
// reaches the buyer as a notice; if the review fails now, the deadline
// sweeper runs it later, so the buyer is not told of an error.
func (t *turn) review(c refund.Case) {
	if t.d.cfg.Core == nil {
		return
	}
	// After delivery, so that "submitted" reaches the buyer before the
	// verdict's notice does.
	t.afterDelivery = append(t.afterDelivery, func(ctx context.Context) {
		if _, err := t.d.cfg.Core.Review(ctx, c.ID); err != nil {
			t.d.cfg.Logger.ErrorContext(ctx, "first review", "case", c.Number(), "err", err)
		}
	})
}

// followUp handles the buttons of a notice about a case.
func (t *turn) followUp(ctx context.Context, action, arg string) error {
	id, _ := caseArg(arg)
	if t.d.cfg.Core == nil {
		t.answer = t.text(locales.InvalidButton, nil)
		return nil
	}
	if action == actMenuCase {
		return t.caseByID(ctx, id)
	}
	c, err := t.ownCase(ctx, id)
	if err != nil || c.ID == 0 {
		return err
	}
	switch action {
	case actMenuOriginal, actMenuBalance:
		route := refund.RouteOriginal
		if action == actMenuBalance {
			route = refund.RouteBalance
		}
		_, err := t.d.cfg.Core.ChooseRoute(ctx, id, t.in.UserID, route)
		return t.coreAnswer(ctx, c, err, locales.RouteChosen)
	}
	ev, want := EventAddInfo, refund.StatusNeedsInfo
	switch action {
	case actMenuAppeal:
		ev, want = EventStartAppeal, refund.StatusRejected
	case actMenuAccount:
		ev, want = EventGiveAccount, refund.StatusPayoutFailed
	}
	if c.Status != want {
		return t.caseMoved(c)
	}
	if !can(t.sess.State, ev) {
		t.say(locales.FinishCurrentFirst, nil)
		t.prompt()
		return nil
	}
	if err := t.move(ctx, ev); err != nil {
		return err
	}
	t.sess.CaseID, t.sess.Evidence, t.sess.Statement = id, nil, ""
	t.prompt()
	return nil
}

// ownCase loads a case the buyer owns. Anyone else's case, or none, gets
// the same "not found" and a zero case.
func (t *turn) ownCase(ctx context.Context, id int64) (refund.Case, error) {
	c, err := t.d.cfg.Store.Case(ctx, id)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND || (err == nil && c.BuyerUserID != t.in.UserID):
		t.say(locales.StatusNotFound, map[string]any{"Query": refund.FormatCaseNumber(id)})
		return refund.Case{}, nil
	case err != nil:
		return refund.Case{}, fmt.Errorf("load case %d: %w", id, err)
	}
	return c, nil
}

func (t *turn) caseMoved(c refund.Case) error {
	t.say(locales.CaseMoved, map[string]any{"Case": c.Number(), "Status": t.text(locales.StatusLabel(c.Status), nil)})
	return nil
}

// coreAnswer tells the buyer how the refund core took their answer. The
// outcome itself arrives as a notice.
func (t *turn) coreAnswer(ctx context.Context, c refund.Case, err error, done locales.Key) error {
	switch refund.ErrorCode(err) {
	case "":
		// The outcome arrives as a notice; a button only gets a short
		// answer, so that no reply can overtake the notice.
		if t.in.Callback != nil {
			t.answer = t.text(done, map[string]any{"Case": c.Number()})
		}
		return nil
	case refund.ECONFLICT:
		fresh, lerr := t.d.cfg.Store.Case(ctx, c.ID)
		if lerr != nil {
			return fmt.Errorf("reload case %d: %w", c.ID, lerr)
		}
		t.say(locales.ActionClosed, map[string]any{"Case": fresh.Number(),
			"Status": t.text(locales.StatusLabel(fresh.Status), nil)})
		return nil
	case refund.ENOTFOUND:
		t.say(locales.StatusNotFound, map[string]any{"Query": c.Number()})
		return nil
	case refund.EINVALID:
		t.say(locales.FollowUpInvalid, nil)
		t.prompt()
		return nil
	}
	return fmt.Errorf("case %s: %w", c.Number(), err)
}

// followUpText handles typed text in a follow-up step.
func (t *turn) followUpText(ctx context.Context, text string) error {
	switch t.sess.State {
	case StateAddingEvidence:
		t.say(locales.EvidenceWantFile, nil, t.followUpButtons()...)
		return nil
	case StateWritingAppeal:
		if n := len([]rune(text)); n > refund.MaxStatementRunes {
			t.say(locales.StatementTooLong, map[string]any{"Len": n, "Max": refund.MaxStatementRunes}, t.followUpButtons()...)
			return nil
		}
		t.sess.Statement = text
		t.say(locales.AppealNoted, nil, t.followUpButtons()...)
		return nil
	case StateGivingAccount:
		if n := len([]rune(text)); n > refund.MaxAccountRunes {
			t.say(locales.TextTooLong, map[string]any{"Len": n, "Max": refund.MaxAccountRunes}, t.followUpButtons()...)
			return nil
		}
		return t.sendFollowUp(ctx)
	}
	return nil
}

// sendFollowUp hands what the buyer gave in a follow-up step to the core.
func (t *turn) sendFollowUp(ctx context.Context) error {
	id, buyer := t.sess.CaseID, t.in.UserID
	var err error
	done := locales.FollowUpSent
	switch t.sess.State {
	case StateAddingEvidence:
		if len(t.sess.Evidence) == 0 {
			t.say(locales.EvidenceWantFile, nil, t.followUpButtons()...)
			return nil
		}
		_, err = t.d.cfg.Core.AddEvidence(ctx, id, buyer, t.sess.Evidence)
	case StateWritingAppeal:
		if strings.TrimSpace(t.sess.Statement) == "" && len(t.sess.Evidence) == 0 {
			t.say(locales.AppealEmpty, nil, t.followUpButtons()...)
			return nil
		}
		_, err = t.d.cfg.Core.Appeal(ctx, id, buyer, t.sess.Statement, t.sess.Evidence)
	case StateGivingAccount:
		_, err = t.d.cfg.Core.RetryPayout(ctx, id, buyer, strings.TrimSpace(t.in.Text))
	}
	switch refund.ErrorCode(err) {
	case refund.EINVALID:
		t.say(locales.FollowUpInvalid, nil, t.followUpButtons()...)
		return nil
	case refund.EINTERNAL:
		// Keep the step and what was collected: the buyer sends again.
		t.d.cfg.Logger.ErrorContext(ctx, "follow-up", "case", refund.FormatCaseNumber(id), "err", err)
		t.say(locales.SubmitRetry, nil, t.followUpButtons()...)
		return nil
	}
	if merr := t.move(ctx, EventFollowUpDone); merr != nil {
		return merr
	}
	t.reset()
	return t.coreAnswer(ctx, refund.Case{ID: id}, err, done)
}

// followUpButtons are Send and Cancel for a follow-up step.
func (t *turn) followUpButtons() [][]Button {
	rows := [][]Button{}
	switch t.sess.State {
	case StateAddingEvidence:
		rows = append(rows, []Button{{Text: t.text(locales.BtnDone, nil), Data: t.step(actEvidenceDone, "")}})
	case StateWritingAppeal:
		rows = append(rows, []Button{{Text: t.text(locales.BtnSubmitAppeal, nil), Data: t.step(actSubmit, "")}})
	}
	return append(rows, t.cancelRow())
}

// followUpPrompt asks the question of a follow-up step.
func (t *turn) followUpPrompt() {
	data := map[string]any{"Case": refund.FormatCaseNumber(t.sess.CaseID), "Max": refund.MaxEvidence,
		"Count": len(t.sess.Evidence)}
	switch t.sess.State {
	case StateAddingEvidence:
		t.say(locales.AskMoreEvidence, data, t.followUpButtons()...)
	case StateWritingAppeal:
		t.say(locales.AskAppeal, data, t.followUpButtons()...)
	case StateGivingAccount:
		t.say(locales.AskAccount, data, t.cancelRow())
	}
}

// caseByID shows a case from its button.
func (t *turn) caseByID(ctx context.Context, id int64) error {
	c, err := t.ownCase(ctx, id)
	if err != nil || c.ID == 0 {
		return err
	}
	return t.showCase(ctx, c)
}
