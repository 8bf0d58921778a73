package refund

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxAccountRunes bounds the payout account a buyer may type.
const MaxAccountRunes = 100

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Store  LifecycleStore
	Policy Policy
	// Location is the shop's time zone, where business days are counted.
	Location *time.Location
	Now      func() time.Time
	// Kick, when set, is told which outbox just got work, so that its
	// worker need not wait for its next poll.
	Kick func(OutboxKind)
}

// Service is the refund core: it reviews cases, takes decisions, moves
// money and keeps deadlines, always through the lifecycle and one atomic
// Change at a time.
type Service struct {
	store  LifecycleStore
	policy Policy
	loc    *time.Location
	now    func() time.Time
	kick   func(OutboxKind)
}

// NewService returns a Service; the policy must be valid.
func NewService(cfg ServiceConfig) (*Service, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("refund policy: %w", err)
	}
	s := &Service{store: cfg.Store, policy: cfg.Policy, loc: cfg.Location, now: cfg.Now, kick: cfg.Kick}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.kick == nil {
		s.kick = func(OutboxKind) {}
	}
	return s, nil
}

// Policy returns the rulebook the service applies.
func (s *Service) Policy() Policy { return s.policy }

// plan is a Change being built: each step checks the lifecycle.
type plan struct {
	s      *Service
	c      Case
	order  Order
	status Status
	ch     Change
	notice *Notice
	// agentNotice, when set, goes to the agents' outbox as well.
	agentNotice *Notice
}

func (s *Service) plan(c Case, o Order, actor string) *plan {
	return s.planAt(c, o, actor, s.now().UTC())
}

// planAt is plan for a change decided at a time already taken.
func (s *Service) planAt(c Case, o Order, actor string, at time.Time) *plan {
	return &plan{s: s, c: c, order: o, status: c.Status,
		ch: Change{CaseID: c.ID, From: c.Status, Actor: actor, At: at}}
}

// move fires a lifecycle event and records it.
func (p *plan) move(ev CaseEvent, e EventDraft) error {
	to, err := NextStatus(p.status, ev)
	if err != nil {
		return err
	}
	p.status = to
	e.Type, e.Status = EventStatusChanged, to
	p.ch.Events = append(p.ch.Events, e)
	return nil
}

// note records an event that does not change the status.
func (p *plan) note(t EventType, e EventDraft) {
	e.Type, e.Status = t, p.status
	p.ch.Events = append(p.ch.Events, e)
}

func (p *plan) due(kind DueKind, at time.Time) { p.ch.Due = &Due{Kind: kind, At: at.UTC()} }

func (p *plan) clearDue() { p.ch.Due = &Due{} }

// tell sets the notice the buyer gets for this change.
func (p *plan) tell(kind NoticeKind) *Notice {
	p.notice = p.newNotice(kind)
	return p.notice
}

// tellAgents sets the notice the agents get for this change.
func (p *plan) tellAgents(kind NoticeKind) *Notice {
	p.agentNotice = p.newNotice(kind)
	return p.agentNotice
}

// newNotice describes the change as planned so far.
func (p *plan) newNotice(kind NoticeKind) *Notice {
	o, c := p.order, p.c
	amounts := c.Decided
	if p.ch.Decided != nil {
		amounts = *p.ch.Decided
	}
	n := &Notice{Kind: kind, CaseID: c.ID, OrderID: c.OrderID, ChatID: c.ChatID, UserID: c.BuyerUserID,
		Language: c.Language, Status: p.status, Amount: amounts.Refund, Fee: amounts.Fee,
		Deduction: amounts.Deduction, Paid: o.AmountPaid, Currency: c.Currency, Method: o.PaymentMethod,
		PayoutDays: p.s.policy.PayoutDays[o.PaymentMethod], Routes: p.s.policy.Routes(o), At: p.ch.At}
	if len(p.ch.Events) > 0 {
		n.Rules = p.ch.Events[len(p.ch.Events)-1].Rules
	}
	return n
}

// apply writes the change with its notices and wakes the outboxes.
func (p *plan) apply(ctx context.Context) (Case, error) {
	p.ch.To = p.status
	for _, n := range []struct {
		notice *Notice
		kind   OutboxKind
	}{{p.notice, OutboxNotice}, {p.agentNotice, OutboxAgent}} {
		if n.notice == nil {
			continue
		}
		payload, err := json.Marshal(n.notice)
		if err != nil {
			return Case{}, fmt.Errorf("encode notice of case %d: %w", p.c.ID, err)
		}
		// The change itself is applied at most once (the store checks
		// From), so the key only has to be unique: a random part keeps two
		// changes within one clock tick apart.
		p.ch.Outbox = append(p.ch.Outbox, OutboxMessage{Kind: n.kind,
			Key: fmt.Sprintf("%d:%s:%s:%s", p.c.ID, n.notice.Kind, p.status, rand.Text()), Payload: payload})
	}
	kicks := map[OutboxKind]bool{}
	for _, m := range p.ch.Outbox {
		kicks[m.Kind] = true
	}
	c, err := p.s.store.Apply(ctx, p.ch)
	if err != nil {
		return Case{}, fmt.Errorf("case %s %s -> %s: %w", p.c.Number(), p.ch.From, p.ch.To, err)
	}
	for k := range kicks {
		p.s.kick(k)
	}
	return c, nil
}

// load returns a case and its order. A case of another buyer is reported
// exactly like a missing one, when buyer is not 0.
func (s *Service) load(ctx context.Context, caseID, buyer int64) (Case, Order, error) {
	c, o, err := s.store.CaseWithOrder(ctx, caseID)
	if err != nil {
		return Case{}, Order{}, fmt.Errorf("load case %d with its order: %w", caseID, err)
	}
	if buyer != 0 && c.BuyerUserID != buyer {
		return Case{}, Order{}, Errorf(ENOTFOUND, "case %s not found", FormatCaseNumber(caseID))
	}
	return c, o, nil
}

// FirstReviewGrace is how long a submitted case waits for the review the
// dialog runs at once before the deadline sweeper runs it instead.
const FirstReviewGrace = time.Minute

// Submit stores a new case. Its first review is the caller's next step
// (the dialog runs it once the buyer has the case number); if that never
// happens, the case is due for it after FirstReviewGrace and the sweeper
// runs it, so no case is left waiting in submitted.
func (s *Service) Submit(ctx context.Context, n NewCase) (Case, error) {
	n.Due = Due{Kind: DueFirstReview, At: s.now().UTC().Add(FirstReviewGrace)}
	c, err := s.store.CreateCase(ctx, n)
	if err != nil {
		return Case{}, fmt.Errorf("submit case for order %s: %w", n.OrderID, err)
	}
	return c, nil
}

// Review runs the automatic first review of a submitted case. A case
// already past it is returned as it is, so that the dialog and the
// deadline sweeper can both call Review without harm.
func (s *Service) Review(ctx context.Context, caseID int64) (Case, error) {
	// The facts come with the case, so the review reads the store once;
	// the change adds no files, so the stored case is the one to assess.
	at := s.now().UTC()
	c, o, facts, err := s.store.CaseForReview(ctx, caseID, at.Add(-s.policy.FrequentRefundPeriod))
	if err != nil {
		return Case{}, fmt.Errorf("load case %d for review: %w", caseID, err)
	}
	if c.Status != StatusSubmitted {
		return c, nil
	}
	p := s.planAt(c, o, ActorSystem, at)
	if err := p.move(CaseReview, EventDraft{}); err != nil {
		return Case{}, err
	}
	if err := s.assess(ctx, p, len(c.Evidence), facts); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// autoReview assesses a case in auto_review and plans the outcome.
func (s *Service) autoReview(ctx context.Context, p *plan, files int) error {
	// Facts looks at the files of the case it is given: include the ones
	// this change adds, so that a file reused from another case is caught
	// when it comes in as an answer too.
	withNew := p.c
	withNew.Evidence = append(append([]Evidence(nil), p.c.Evidence...), p.ch.Evidence...)
	facts, err := s.store.Facts(ctx, withNew, p.ch.At.Add(-s.policy.FrequentRefundPeriod))
	if err != nil {
		return fmt.Errorf("facts of case %d: %w", p.c.ID, err)
	}
	return s.assess(ctx, p, files, facts)
}

// assess runs the policy on a case in auto_review with its facts and
// plans the outcome.
func (s *Service) assess(ctx context.Context, p *plan, files int, facts CaseFacts) error {
	d := s.policy.Assess(Facts{Order: p.order, Reason: p.c.Reason, Evidence: files, AskedAt: p.c.CreatedAt,
		RefundedBefore: facts.RefundedBefore, BuyerRefunds: facts.BuyerRefunds, ReusedEvidence: facts.ReusedEvidence})
	p.ch.Decided = &Amounts{Refund: d.Amount, Fee: d.Fee, Deduction: d.Deduction}
	e := EventDraft{Rules: d.Rules, Amount: d.Amount}
	switch d.Outcome {
	case OutcomeApprove:
		if err := p.move(CaseApprove, e); err != nil {
			return err
		}
		if err := s.approved(ctx, p); err != nil {
			return err
		}
	case OutcomeReject:
		if err := p.move(CaseReject, e); err != nil {
			return err
		}
		s.rejected(p)
	case OutcomeNeedsInfo:
		if err := p.move(CaseAskInfo, e); err != nil {
			return err
		}
		s.askedInfo(p)
	default:
		if err := p.move(CaseEscalate, e); err != nil {
			return err
		}
		s.escalated(p)
	}
	p.notice.UsedPercent = d.UsedPercent
	if p.agentNotice != nil {
		p.agentNotice.UsedPercent = d.UsedPercent
	}
	return nil
}

// approved plans what follows an approval: with one possible route the
// money moves at once, with two the buyer chooses.
func (s *Service) approved(ctx context.Context, p *plan) error {
	routes := s.policy.Routes(p.order)
	if len(routes) == 1 {
		return s.startPayout(ctx, p, routes[0], "")
	}
	deadline := p.ch.At.Add(s.policy.PayoutChoiceTimeout)
	p.due(DueRoute, deadline)
	p.tell(NoticeStatus).Deadline = deadline
	return nil
}

func (s *Service) rejected(p *plan) {
	canAppeal := p.c.Appeals == 0
	if canAppeal {
		p.due(DueAppeal, p.ch.At.Add(s.policy.AppealWindow))
	} else {
		p.clearDue()
	}
	n := p.tell(NoticeStatus)
	n.CanAppeal = canAppeal
	if canAppeal {
		n.Deadline = p.ch.Due.At
	}
}

func (s *Service) askedInfo(p *plan) {
	p.due(DueReminder, p.ch.At.Add(s.policy.NeedsInfoTimeout/2))
	p.tell(NoticeStatus).Deadline = p.ch.At.Add(s.policy.NeedsInfoTimeout)
}

func (s *Service) escalated(p *plan) {
	due := s.policy.Calendar.AddBusinessDays(p.ch.At, s.policy.ReviewBusinessDays, s.loc)
	p.due(DueReview, due)
	p.tell(NoticeStatus).Deadline = due
	// The agents get the same facts, to put the case in their queue.
	p.tellAgents(NoticeEscalated).Deadline = due
}

// startPayout plans the payout of the decided amount: credited to the
// balance at once, or handed to the shop through the payout outbox.
func (s *Service) startPayout(ctx context.Context, p *plan, route PayoutRoute, account string) error {
	amount := p.c.Decided.Refund
	if p.ch.Decided != nil {
		amount = p.ch.Decided.Refund
	}
	// A payout is only made by start_payout, which leaves the case
	// payout_pending, and no path leads from there back to approved
	// (TestLifecycleNoPayoutBeforeApproval holds the lifecycle to it). So
	// a payout that starts from approved is the case's first, and only a
	// retry after a failed payout needs the store to count. Apply refuses
	// the change if the case has left the status it was decided on, and
	// payout IDs are unique in the store, so a wrong count could not pay
	// twice.
	number := 1
	if p.status != StatusApproved {
		previous, err := s.store.PayoutsByCase(ctx, p.c.ID)
		if err != nil {
			return fmt.Errorf("payouts of case %d: %w", p.c.ID, err)
		}
		number = len(previous) + 1
	}
	payout := Payout{ID: fmt.Sprintf("P%06d-%d", p.c.ID, number), CaseID: p.c.ID, OrderID: p.c.OrderID,
		BuyerUserID: p.c.BuyerUserID, Route: route, Method: p.order.PaymentMethod, Amount: amount,
		Currency: p.c.Currency, Account: account, Status: PayoutPending, CreatedAt: p.ch.At}
	if err := p.move(CaseStartPayout, EventDraft{Amount: amount, Note: payout.ID}); err != nil {
		return err
	}
	p.ch.Route = route
	p.clearDue()
	if route == RouteBalance {
		payout.Status, payout.SettledAt = PayoutConfirmed, p.ch.At
		p.ch.Payout, p.ch.Credit = &payout, amount
		if err := p.move(CasePaid, EventDraft{Amount: amount, Note: payout.ID}); err != nil {
			return err
		}
		n := p.tell(NoticeStatus)
		n.Route = RouteBalance
		return nil
	}
	body, err := json.Marshal(PayoutRequest{PayoutID: payout.ID, Case: p.c.Number(), OrderID: p.c.OrderID,
		Amount: amount.String(), Currency: payout.Currency, Method: payout.Method, Account: account, CreatedAt: p.ch.At})
	if err != nil {
		return fmt.Errorf("encode payout %s: %w", payout.ID, err)
	}
	p.ch.Payout = &payout
	p.ch.Outbox = append(p.ch.Outbox, OutboxMessage{Kind: OutboxPayout, Key: payout.ID, Payload: body})
	n := p.tell(NoticeStatus)
	n.Route = RouteOriginal
	return nil
}

// AddEvidence adds a buyer's files to a case waiting for them and reviews
// it again.
func (s *Service) AddEvidence(ctx context.Context, caseID, buyer int64, files []Evidence) (Case, error) {
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusNeedsInfo {
		return Case{}, Errorf(ECONFLICT, "case %s is %s, not waiting for evidence", c.Number(), c.Status)
	}
	fresh := newFiles(c.Evidence, files)
	if len(fresh) == 0 {
		return Case{}, FieldError("evidence", "no new files")
	}
	if len(c.Evidence)+len(fresh) > MaxEvidence {
		return Case{}, FieldError("evidence", "at most %d files", MaxEvidence)
	}
	p := s.plan(c, o, ActorBuyer)
	p.ch.Evidence = fresh
	p.note(EventEvidenceAdded, EventDraft{Note: fmt.Sprintf("%d", len(fresh))})
	if err := p.move(CaseInfoAdded, EventDraft{}); err != nil {
		return Case{}, err
	}
	if err := s.autoReview(ctx, p, len(c.Evidence)+len(fresh)); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// newFiles drops files the case already has, and repeats.
func newFiles(have, add []Evidence) []Evidence {
	seen := make(map[string]bool)
	for _, e := range have {
		seen[e.FileUniqueID] = true
	}
	var out []Evidence
	for _, e := range add {
		if !seen[e.FileUniqueID] {
			seen[e.FileUniqueID] = true
			out = append(out, e)
		}
	}
	return out
}

// Appeal contests a refusal, once, within the appeal window, with words,
// files or both. A human reviews it.
func (s *Service) Appeal(ctx context.Context, caseID, buyer int64, words string, files []Evidence) (Case, error) {
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	words = strings.TrimSpace(words)
	fresh := newFiles(c.Evidence, files)
	switch {
	case c.Status != StatusRejected:
		return Case{}, Errorf(ECONFLICT, "case %s is %s; only a refusal can be appealed", c.Number(), c.Status)
	case c.Appeals > 0:
		return Case{}, Errorf(ECONFLICT, "case %s was already appealed", c.Number())
	case c.Due.Kind != DueAppeal || s.now().After(c.Due.At):
		return Case{}, Errorf(ECONFLICT, "the appeal window of case %s has closed", c.Number())
	case words == "" && len(fresh) == 0:
		return Case{}, FieldError("appeal", "an appeal needs new words or new files")
	case utf8.RuneCountInString(words) > MaxStatementRunes:
		return Case{}, FieldError("appeal", "at most %d characters", MaxStatementRunes)
	case len(c.Evidence)+len(fresh) > MaxEvidence:
		return Case{}, FieldError("evidence", "at most %d files", MaxEvidence)
	}
	p := s.plan(c, o, ActorBuyer)
	p.ch.Appeal, p.ch.Evidence = true, fresh
	if err := p.move(CaseAppeal, EventDraft{Note: words}); err != nil {
		return Case{}, err
	}
	if err := p.move(CaseEscalate, EventDraft{}); err != nil {
		return Case{}, err
	}
	s.escalated(p)
	return p.apply(ctx)
}

// ChooseRoute sends an approved refund (or one whose payout failed) the
// way the buyer chose, if the policy allows it.
func (s *Service) ChooseRoute(ctx context.Context, caseID, buyer int64, route PayoutRoute) (Case, error) {
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusApproved && c.Status != StatusPayoutFailed {
		return Case{}, Errorf(ECONFLICT, "case %s is %s; no payout to route", c.Number(), c.Status)
	}
	allowed := false
	for _, r := range s.policy.Routes(o) {
		allowed = allowed || r == route
	}
	if !allowed {
		return Case{}, FieldError("route", "route %s is not open to this order", route)
	}
	p := s.plan(c, o, ActorBuyer)
	p.note(EventRouteChosen, EventDraft{Note: string(route)})
	if err := s.startPayout(ctx, p, route, ""); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// RetryPayout sends a failed original-route payout again, to the account
// the buyer gives now.
func (s *Service) RetryPayout(ctx context.Context, caseID, buyer int64, account string) (Case, error) {
	account = strings.TrimSpace(account)
	if account == "" || utf8.RuneCountInString(account) > MaxAccountRunes {
		return Case{}, FieldError("account", "account must be 1-%d characters", MaxAccountRunes)
	}
	c, o, err := s.load(ctx, caseID, buyer)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusPayoutFailed {
		return Case{}, Errorf(ECONFLICT, "case %s is %s; no failed payout to retry", c.Number(), c.Status)
	}
	p := s.plan(c, o, ActorBuyer)
	if err := s.startPayout(ctx, p, RouteOriginal, account); err != nil {
		return Case{}, err
	}
	return p.apply(ctx)
}

// SettlePayout records the shop's answer about a payout. Repeating the
// same answer returns the payout unchanged, also when the repeat races the
// first answer; contradicting a settled payout is an ECONFLICT error.
func (s *Service) SettlePayout(ctx context.Context, st Settlement) (Payout, error) {
	pay, err := s.store.Payout(ctx, st.PayoutID)
	if err != nil {
		return Payout{}, fmt.Errorf("load payout %s: %w", st.PayoutID, err)
	}
	if settled, done, err := settledAlready(pay, st); done {
		return settled, err
	}
	if !st.OK && strings.TrimSpace(st.Error) == "" {
		return Payout{}, FieldError("reason", "a failed payout needs a reason")
	}
	pay, err = s.settle(ctx, pay, st)
	if ErrorCode(err) != ECONFLICT {
		return pay, err
	}
	// A conflict here means the case moved between reading the payout and
	// applying the change: most often a concurrent repeat of this very
	// answer (a shop retrying a confirmation whose reply it never saw)
	// won. The store refused the stale change, as it must; whether that
	// is the repeat the API promises to answer with the payout, or a
	// contradiction, only the payout as it is now can tell.
	now, rerr := s.store.Payout(ctx, st.PayoutID)
	if rerr != nil {
		return Payout{}, fmt.Errorf("load payout %s again after %w: %w", st.PayoutID, err, rerr)
	}
	if settled, done, serr := settledAlready(now, st); done {
		return settled, serr
	}
	return Payout{}, err
}

// settledAlready answers a settlement of a payout that is no longer
// pending: the payout itself when the answer repeats the one recorded, an
// ECONFLICT error when it contradicts it. done is false for a pending
// payout.
func settledAlready(pay Payout, st Settlement) (settled Payout, done bool, err error) {
	switch {
	case pay.Status == PayoutConfirmed && st.OK, pay.Status == PayoutFailed && !st.OK:
		return pay, true, nil
	case pay.Status != PayoutPending:
		return Payout{}, true, Errorf(ECONFLICT, "payout %s is already %s", pay.ID, pay.Status)
	}
	return Payout{}, false, nil
}

// settle applies a settlement to a payout read as pending.
func (s *Service) settle(ctx context.Context, pay Payout, st Settlement) (Payout, error) {
	c, o, err := s.load(ctx, pay.CaseID, 0)
	if err != nil {
		return Payout{}, err
	}
	p := s.plan(c, o, "shop")
	p.ch.Settle = &st
	if st.OK {
		err = p.move(CasePaid, EventDraft{Amount: pay.Amount, Note: pay.ID})
	} else {
		err = p.move(CasePayoutFail, EventDraft{Amount: pay.Amount, Note: st.Error})
	}
	if err != nil {
		return Payout{}, err
	}
	n := p.tell(NoticeStatus)
	n.Route, n.Amount, n.Note = pay.Route, pay.Amount, st.Error
	if _, err := p.apply(ctx); err != nil {
		return Payout{}, err
	}
	return s.store.Payout(ctx, pay.ID)
}

// Verdict is a human reviewer's decision.
type Verdict struct {
	Outcome Outcome
	// Route, when set on an approval, sends the money that way at once
	// instead of letting the buyer choose; it must be open to the order.
	Route PayoutRoute
	// Amount is what to refund when approving; 0 means the amount the
	// policy proposed.
	Amount Money
	Note   string
}

// Decide applies a human reviewer's verdict to a case in human review.
// actor is "agent:<id>".
func (s *Service) Decide(ctx context.Context, caseID int64, actor string, v Verdict) (Case, error) {
	if !strings.HasPrefix(actor, "agent:") {
		return Case{}, FieldError("actor", "a verdict needs an agent")
	}
	c, o, err := s.load(ctx, caseID, 0)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusHumanReview {
		return Case{}, Errorf(ECONFLICT, "case %s is %s, not in human review", c.Number(), c.Status)
	}
	p := s.plan(c, o, actor)
	e := EventDraft{Note: strings.TrimSpace(v.Note)}
	switch v.Outcome {
	case OutcomeApprove:
		facts, err := s.store.Facts(ctx, c, p.ch.At)
		if err != nil {
			return Case{}, fmt.Errorf("facts of case %d: %w", c.ID, err)
		}
		amount := v.Amount
		if amount == 0 {
			amount = c.Decided.Refund
		}
		if left := o.AmountPaid - facts.RefundedBefore; amount <= 0 || amount > left {
			return Case{}, FieldError("amount", "amount must be 0.01-%s", max(left, 0))
		}
		p.ch.Decided = &Amounts{Refund: amount, Fee: c.Decided.Fee, Deduction: c.Decided.Deduction}
		if amount != c.Decided.Refund {
			p.ch.Decided.Fee, p.ch.Decided.Deduction = 0, 0
		}
		e.Amount = amount
		if err := p.move(CaseApprove, e); err != nil {
			return Case{}, err
		}
		if v.Route != "" {
			if !slices.Contains(s.policy.Routes(o), v.Route) {
				return Case{}, FieldError("route", "route %s is not open to this order", v.Route)
			}
			err = s.startPayout(ctx, p, v.Route, "")
		} else {
			err = s.approved(ctx, p)
		}
		if err != nil {
			return Case{}, err
		}
	case OutcomeReject:
		if e.Note == "" {
			return Case{}, FieldError("note", "a refusal must tell the buyer why")
		}
		if err := p.move(CaseReject, e); err != nil {
			return Case{}, err
		}
		s.rejected(p)
	case OutcomeNeedsInfo:
		if e.Note == "" {
			return Case{}, FieldError("note", "say what is missing")
		}
		if err := p.move(CaseAskInfo, e); err != nil {
			return Case{}, err
		}
		s.askedInfo(p)
	default:
		return Case{}, FieldError("outcome", "outcome must be approve, reject or needs_info")
	}
	p.notice.Note = e.Note
	return p.apply(ctx)
}

// Note adds an agent's internal note to a case's log. Buyers never see
// notes; they are for the team and the audit trail.
func (s *Service) Note(ctx context.Context, caseID int64, actor, note string) (Case, error) {
	note = strings.TrimSpace(note)
	switch {
	case !strings.HasPrefix(actor, "agent:"):
		return Case{}, FieldError("actor", "notes are by agents")
	case note == "" || utf8.RuneCountInString(note) > MaxStatementRunes:
		return Case{}, FieldError("note", "a note is 1-%d characters", MaxStatementRunes)
	}
	c, o, err := s.load(ctx, caseID, 0)
	if err != nil {
		return Case{}, err
	}
	p := s.plan(c, o, actor)
	p.note(EventAgentNote, EventDraft{Note: note})
	return p.apply(ctx)
}

// logEvent puts a desk event in a case's history (an agent taking over
// the buyer's chat or handing it back, the buyer's rating), for the
// escalation service.
func (s *Service) logEvent(ctx context.Context, caseID int64, actor string, t EventType, note string) error {
	c, o, err := s.load(ctx, caseID, 0)
	if err != nil {
		return err
	}
	p := s.plan(c, o, actor)
	p.note(t, EventDraft{Note: note})
	_, err = p.apply(ctx)
	return err
}

// Sweep acts on every deadline that has passed: reminders, closing cases
// nobody answered, routing unchosen payouts, flagging late reviews. It
// returns how many cases it moved. A case someone else moved first is
// skipped.
func (s *Service) Sweep(ctx context.Context, limit int) (int, error) {
	now := s.now().UTC()
	due, err := s.store.DueCases(ctx, now, limit)
	if err != nil {
		return 0, fmt.Errorf("due cases: %w", err)
	}
	moved := 0
	for _, c := range due {
		if err := ctx.Err(); err != nil {
			return moved, err
		}
		err := s.sweepOne(ctx, c)
		switch {
		case err == nil:
			moved++
		case ErrorCode(err) == ECONFLICT:
		default:
			return moved, fmt.Errorf("deadline %s of case %s: %w", c.Due.Kind, c.Number(), err)
		}
	}
	return moved, nil
}

func (s *Service) sweepOne(ctx context.Context, c Case) error {
	if c.Due.Kind == DueFirstReview && c.Status == StatusSubmitted {
		_, err := s.Review(ctx, c.ID)
		return err
	}
	o, err := s.store.Order(ctx, c.OrderID)
	if err != nil {
		return fmt.Errorf("load order %s: %w", c.OrderID, err)
	}
	p := s.plan(c, o, ActorSystem)
	switch {
	case c.Due.Kind == DueReminder && c.Status == StatusNeedsInfo:
		closeAt := c.Due.At.Add(s.policy.NeedsInfoTimeout - s.policy.NeedsInfoTimeout/2)
		p.note(EventReminder, EventDraft{})
		p.due(DueClose, closeAt)
		p.tell(NoticeReminder).Deadline = closeAt
	case c.Due.Kind == DueClose && c.Status == StatusNeedsInfo,
		c.Due.Kind == DueAppeal && c.Status == StatusRejected:
		if err := p.move(CaseExpire, EventDraft{Note: string(c.Due.Kind)}); err != nil {
			return err
		}
		p.clearDue()
		p.tell(NoticeStatus).Note = string(c.Due.Kind)
	case c.Due.Kind == DueRoute && (c.Status == StatusApproved):
		if err := s.startPayout(ctx, p, RouteOriginal, ""); err != nil {
			return err
		}
	case c.Due.Kind == DueReview && c.Status == StatusHumanReview:
		p.note(EventReviewOverdue, EventDraft{})
		p.ch.ReviewOverdue = true
		p.clearDue()
		p.tellAgents(NoticeReviewOverdue)
	default:
		// A deadline that no longer fits the status: drop it, on record.
		p.note(EventDeadlineDropped, EventDraft{Note: string(c.Due.Kind)})
		p.clearDue()
	}
	_, err = p.apply(ctx)
	return err
}

// Case returns a case with its evidence, or an ENOTFOUND error: the
// dialogs read cases through the service, their one door to the domain.
func (s *Service) Case(ctx context.Context, id int64) (Case, error) { return s.store.Case(ctx, id) }

// Order returns an order, or an ENOTFOUND error.
func (s *Service) Order(ctx context.Context, id string) (Order, error) { return s.store.Order(ctx, id) }

// CasesByOrder returns an order's cases, newest first.
func (s *Service) CasesByOrder(ctx context.Context, orderID string) ([]Case, error) {
	return s.store.CasesByOrder(ctx, orderID)
}

// Events returns a case's history, oldest first.
func (s *Service) Events(ctx context.Context, caseID int64) ([]Event, error) {
	return s.store.Events(ctx, caseID)
}
