package buyer

import (
	"context"
	"fmt"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// followUps are what a buyer does with a submitted case: answer a request
// for more evidence, appeal, choose where the money goes, look at it. They
// run on the turn of the dialog they interrupt or continue.
type followUps struct{ *turn }

func (t *turn) followUps() followUps { return followUps{t} }

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
	// Reads, for the status view and the order step.
	Case(ctx context.Context, id int64) (refund.Case, error)
	Order(ctx context.Context, id string) (refund.Order, error)
	CasesByOrder(ctx context.Context, orderID string) ([]refund.Case, error)
	Events(ctx context.Context, caseID int64) ([]refund.Event, error)
}

func (d *Dialog) policy() refund.Policy { return d.cfg.Core.Policy() }

// followUp handles the buttons of a notice about a case.
func (t followUps) followUp(ctx context.Context, action, arg string) error {
	id, _ := flows.ParseID(arg)
	if t.d.cfg.Core == nil {
		t.Answer = t.Text(locales.InvalidButton, nil)
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
		_, err := t.d.cfg.Core.ChooseRoute(ctx, id, t.In.UserID, route)
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
	if !t.d.machines.can(t.Sess.State, ev) {
		t.Say(locales.FinishCurrentFirst, nil)
		t.prompt()
		return nil
	}
	if err := t.move(ctx, ev); err != nil {
		return err
	}
	t.Sess.CaseID, t.Sess.Evidence, t.Sess.Statement = id, nil, ""
	t.prompt()
	return nil
}

// ownCase loads a case the buyer owns. Anyone else's case, or none, gets
// the same "not found" and a zero case.
func (t followUps) ownCase(ctx context.Context, id int64) (refund.Case, error) {
	c, err := t.d.cfg.Core.Case(ctx, id)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND || (err == nil && c.BuyerUserID != t.In.UserID):
		t.Say(locales.StatusNotFound, map[string]any{"Query": refund.FormatCaseNumber(id)})
		return refund.Case{}, nil
	case err != nil:
		return refund.Case{}, fmt.Errorf("load case %d: %w", id, err)
	}
	return c, nil
}

func (t followUps) caseMoved(c refund.Case) error {
	t.Say(locales.CaseMoved, map[string]any{"Case": c.Number(), "Status": t.Text(locales.StatusLabel(c.Status), nil)})
	return nil
}

// coreAnswer tells the buyer how the refund core took their answer. The
// outcome itself arrives as a notice.
func (t followUps) coreAnswer(ctx context.Context, c refund.Case, err error, done locales.Key) error {
	switch refund.ErrorCode(err) {
	case "":
		// The outcome arrives as a notice; a button only gets a short
		// answer, so that no reply can overtake the notice.
		if t.In.Callback != nil {
			t.Answer = t.Text(done, map[string]any{"Case": c.Number()})
		}
		return nil
	case refund.ECONFLICT:
		fresh, lerr := t.d.cfg.Core.Case(ctx, c.ID)
		if lerr != nil {
			return fmt.Errorf("reload case %d: %w", c.ID, lerr)
		}
		t.Say(locales.ActionClosed, map[string]any{"Case": fresh.Number(),
			"Status": t.Text(locales.StatusLabel(fresh.Status), nil)})
		return nil
	case refund.ENOTFOUND:
		t.Say(locales.StatusNotFound, map[string]any{"Query": c.Number()})
		return nil
	case refund.EINVALID:
		t.Say(locales.FollowUpInvalid, nil)
		t.prompt()
		return nil
	}
	return fmt.Errorf("case %s: %w", c.Number(), err)
}

// followUpText handles typed text in a follow-up step.
func (t followUps) followUpText(ctx context.Context, text string) error {
	switch t.Sess.State {
	case StateAddingEvidence:
		t.Say(locales.EvidenceWantFile, nil, t.keys().followUp()...)
		return nil
	case StateWritingAppeal:
		if n := len([]rune(text)); n > refund.MaxStatementRunes {
			t.Say(locales.StatementTooLong, map[string]any{"Len": n, "Max": refund.MaxStatementRunes}, t.keys().followUp()...)
			return nil
		}
		t.Sess.Statement = text
		t.Say(locales.AppealNoted, nil, t.keys().followUp()...)
		return nil
	case StateGivingAccount:
		if n := len([]rune(text)); n > refund.MaxAccountRunes {
			t.Say(locales.TextTooLong, map[string]any{"Len": n, "Max": refund.MaxAccountRunes}, t.keys().followUp()...)
			return nil
		}
		return t.sendFollowUp(ctx)
	}
	return nil
}

// sendFollowUp hands what the buyer gave in a follow-up step to the core.
func (t followUps) sendFollowUp(ctx context.Context) error {
	id, buyer := t.Sess.CaseID, t.In.UserID
	var err error
	done := locales.FollowUpSent
	switch t.Sess.State {
	case StateAddingEvidence:
		if len(t.Sess.Evidence) == 0 {
			t.Say(locales.EvidenceWantFile, nil, t.keys().followUp()...)
			return nil
		}
		_, err = t.d.cfg.Core.AddEvidence(ctx, id, buyer, t.Sess.Evidence)
	case StateWritingAppeal:
		if strings.TrimSpace(t.Sess.Statement) == "" && len(t.Sess.Evidence) == 0 {
			t.Say(locales.AppealEmpty, nil, t.keys().followUp()...)
			return nil
		}
		_, err = t.d.cfg.Core.Appeal(ctx, id, buyer, t.Sess.Statement, t.Sess.Evidence)
	case StateGivingAccount:
		_, err = t.d.cfg.Core.RetryPayout(ctx, id, buyer, strings.TrimSpace(t.In.Text))
	}
	switch refund.ErrorCode(err) {
	case refund.EINVALID:
		t.Say(locales.FollowUpInvalid, nil, t.keys().followUp()...)
		return nil
	case refund.EINTERNAL:
		// Keep the step and what was collected: the buyer sends again.
		t.d.cfg.Logger.ErrorContext(ctx, "follow-up", "case", refund.FormatCaseNumber(id), "err", err)
		t.Say(locales.SubmitRetry, nil, t.keys().followUp()...)
		return nil
	}
	if merr := t.move(ctx, EventFollowUpDone); merr != nil {
		return merr
	}
	t.reset()
	return t.coreAnswer(ctx, refund.Case{ID: id}, err, done)
}

// followUpPrompt asks the question of a follow-up step.
func (t followUps) followUpPrompt() {
	data := map[string]any{"Case": refund.FormatCaseNumber(t.Sess.CaseID), "Max": refund.MaxEvidence,
		"Count": len(t.Sess.Evidence)}
	switch t.Sess.State {
	case StateAddingEvidence:
		t.Say(locales.AskMoreEvidence, data, t.keys().followUp()...)
	case StateWritingAppeal:
		t.Say(locales.AskAppeal, data, t.keys().followUp()...)
	case StateGivingAccount:
		t.Say(locales.AskAccount, data, t.keys().cancelRow())
	}
}

// caseByID shows a case from its button.
func (t followUps) caseByID(ctx context.Context, id int64) error {
	c, err := t.ownCase(ctx, id)
	if err != nil || c.ID == 0 {
		return err
	}
	return t.lookup().showCase(ctx, c)
}
