package flows

import (
	"context"
	"fmt"
	"strings"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// agentChat handles the agents' team chat: card buttons, commands in a
// case's thread, and replies relayed to the buyer.
func (t *turn) agentChat(ctx context.Context) error {
	agent, isAgent, err := t.agent(ctx)
	if err != nil {
		return err
	}
	if cb := t.in.Callback; cb != nil {
		action, id, ok := parseDeskData(cb.Data)
		switch {
		case !ok:
			t.answer = t.deskText(locales.InvalidButton, nil)
		case !isAgent:
			t.refuseNonAgent(ctx, "button "+action)
		default:
			return t.deskButton(ctx, agent, action, id)
		}
		return nil
	}
	if !isAgent {
		if t.in.Command != "" {
			t.refuseNonAgent(ctx, "/"+t.in.Command)
		}
		return nil // team chatter is not for the bot
	}
	switch t.in.Command {
	case "queue", "mine":
		return t.queue(ctx, agent, t.in.Command == "mine")
	}
	e, err := t.escalationOf(ctx)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		if t.in.Command != "" {
			t.deskSay(locales.DeskReplyToCard, nil)
		}
		return nil
	case err != nil:
		return err
	}
	switch t.in.Command {
	case "":
		return t.relayToBuyer(ctx, agent, e)
	case "take":
		return t.take(ctx, agent, e)
	case "release":
		return t.release(ctx, agent, e)
	case "approve":
		v, ok := parseApprove(t.in.Text)
		if !ok {
			t.deskSay(locales.DeskApproveUsage, nil)
			return nil
		}
		return t.decide(ctx, agent, e, v)
	case "reject", "info":
		v := refund.Verdict{Outcome: refund.OutcomeReject, Note: strings.TrimSpace(t.in.Text)}
		if t.in.Command == "info" {
			v.Outcome = refund.OutcomeNeedsInfo
		}
		if v.Note == "" {
			t.deskSay(locales.DeskNeedsReason, map[string]any{"Command": t.in.Command})
			return nil
		}
		return t.decide(ctx, agent, e, v)
	case "note":
		return t.note(ctx, agent, e)
	}
	t.deskSay(locales.DeskUnknownCommand, map[string]any{"Command": t.in.Command})
	return nil
}

// escalationOf finds the escalation a team-chat message is about: by its
// forum topic, or by the card or relayed message it replies to.
func (t *turn) escalationOf(ctx context.Context) (refund.Escalation, error) {
	switch {
	case t.in.ThreadID != 0:
		e, err := t.desk().Escalations.EscalationByThread(ctx, t.in.ThreadID)
		if err != nil && refund.ErrorCode(err) != refund.ENOTFOUND {
			return e, fmt.Errorf("escalation of topic %d: %w", t.in.ThreadID, err)
		}
		if err == nil || t.in.ReplyToMessageID == 0 {
			return e, err
		}
	case t.in.ReplyToMessageID == 0:
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "not about an escalation")
	}
	e, err := t.desk().Escalations.EscalationByMessage(ctx, t.in.ReplyToMessageID)
	if err != nil && refund.ErrorCode(err) != refund.ENOTFOUND {
		return e, fmt.Errorf("escalation of message %d: %w", t.in.ReplyToMessageID, err)
	}
	return e, err
}

// agent returns the sender if they are active staff.
func (t *turn) agent(ctx context.Context) (refund.Agent, bool, error) {
	a, err := t.desk().Agents.Agent(ctx, t.in.UserID)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		return refund.Agent{}, false, nil
	case err != nil:
		return refund.Agent{}, false, fmt.Errorf("agent %d: %w", t.in.UserID, err)
	}
	return a, true, nil
}

// refuseNonAgent answers someone who is not staff and keeps a record:
// a stranger in the team chat pressing Approve is worth a look.
func (t *turn) refuseNonAgent(ctx context.Context, what string) {
	t.d.cfg.Logger.WarnContext(ctx, "non-agent tried an agent action", "user_id", t.in.UserID,
		"username", t.in.Username, "chat_id", t.in.ChatID, "action", what)
	if t.in.Callback != nil {
		t.answer = t.deskText(locales.DeskNotAgent, nil)
		return
	}
	t.deskSay(locales.DeskNotAgent, nil)
}

// deskSay replies in the team chat, to the message being answered.
func (t *turn) deskSay(key locales.Key, data map[string]any) {
	reply := t.in.ReplyToMessageID
	if t.in.Callback != nil {
		reply = t.in.Callback.MessageID
	}
	t.out = append(t.out, Message{Text: t.deskText(key, data), ReplyTo: reply, ThreadID: t.in.ThreadID})
}

func (t *turn) deskButton(ctx context.Context, agent refund.Agent, action string, id int64) error {
	e, err := t.desk().Escalations.Escalation(ctx, id)
	if err != nil {
		return fmt.Errorf("escalation %d: %w", id, err)
	}
	switch action {
	case deskTake:
		return t.take(ctx, agent, e)
	case deskApprove:
		return t.decide(ctx, agent, e, refund.Verdict{Outcome: refund.OutcomeApprove})
	case deskReject:
		t.answer = t.deskText(locales.DeskNeedsReason, map[string]any{"Command": "reject"})
	case deskInfo:
		t.answer = t.deskText(locales.DeskNeedsReason, map[string]any{"Command": "info"})
	}
	return nil
}

func agentData(a refund.Agent) map[string]any {
	return map[string]any{"Name": a.DisplayName, "Staff": a.StaffNumber}
}

// take gives the buyer's chat to the agent; one agent holds it at a time.
func (t *turn) take(ctx context.Context, agent refund.Agent, e refund.Escalation) error {
	got, err := t.desk().Escalations.Take(ctx, e.ID, agent.UserID, t.d.cfg.Now().UTC())
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		return t.takenBy(ctx, e.ID)
	default:
		return fmt.Errorf("take escalation %d: %w", e.ID, err)
	}
	if t.in.Callback != nil {
		t.answer = t.deskText(locales.DeskTaken, agentData(agent))
	}
	t.out = append(t.out, Message{Text: t.deskText(locales.DeskTookOver, map[string]any{"ID": got.ID,
		"Name": agent.DisplayName, "Staff": agent.StaffNumber}), ReplyTo: got.CardMessageID, ThreadID: got.ThreadID})
	t.post(got.BuyerChatID, Message{Text: t.d.cfg.Texts.Text(t.d.cfg.Texts.Match(got.Language), locales.AgentJoined,
		agentData(agent))}, nil)
	t.logHandOver(ctx, got, agent, "took over the chat")
	return nil
}

// logHandOver puts a takeover or release in the case's log. The hand-over
// itself is done and the people are told, so a failure here is logged
// rather than undoing the turn.
func (t *turn) logHandOver(ctx context.Context, e refund.Escalation, agent refund.Agent, what string) {
	if e.CaseID == 0 {
		return
	}
	if _, err := t.deskCore().Note(ctx, e.CaseID, refund.ActorAgent(agent.UserID), what); err != nil {
		t.d.cfg.Logger.ErrorContext(ctx, "log hand-over", "case", refund.FormatCaseNumber(e.CaseID), "what", what, "err", err)
	}
}

func (t *turn) takenBy(ctx context.Context, id int64) error {
	e, err := t.desk().Escalations.Escalation(ctx, id)
	if err != nil {
		return fmt.Errorf("escalation %d: %w", id, err)
	}
	key, data := locales.DeskClosed, map[string]any{"ID": id}
	if e.Status == refund.EscalationHeld {
		holder, err := t.desk().Agents.Agent(ctx, e.AgentUserID)
		if err != nil && refund.ErrorCode(err) != refund.ENOTFOUND {
			return fmt.Errorf("holder of escalation %d: %w", id, err)
		}
		key, data = locales.DeskTakenBy, map[string]any{"ID": id, "Name": holder.DisplayName, "Staff": holder.StaffNumber}
	}
	if t.in.Callback != nil {
		t.answer = t.deskText(key, data)
		return nil
	}
	t.deskSay(key, data)
	return nil
}

// release hands the chat back to the bot.
func (t *turn) release(ctx context.Context, agent refund.Agent, e refund.Escalation) error {
	got, err := t.desk().Escalations.Release(ctx, e.ID, agent.UserID)
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		t.deskSay(locales.DeskNotHolder, nil)
		return nil
	default:
		return fmt.Errorf("release escalation %d: %w", e.ID, err)
	}
	// A released chat is done with: the buyer is back with the bot, and
	// asks for a person again if they need one.
	if err := t.desk().Escalations.CloseEscalation(ctx, got.ID, t.d.cfg.Now().UTC()); err != nil {
		return fmt.Errorf("close escalation %d: %w", got.ID, err)
	}
	t.logHandOver(ctx, got, agent, "released the chat")
	t.deskSay(locales.DeskReleased, map[string]any{"ID": got.ID})
	t.post(got.BuyerChatID, Message{Text: t.d.cfg.Texts.Text(t.d.cfg.Texts.Match(got.Language), locales.AgentLeft,
		agentData(agent))}, nil)
	return nil
}

// relayToBuyer sends the holder's reply to the buyer, signed. A reply that
// asks for money or secrets is held back and shown to the team instead.
func (t *turn) relayToBuyer(ctx context.Context, agent refund.Agent, e refund.Escalation) error {
	if e.Status != refund.EscalationHeld || e.AgentUserID != agent.UserID {
		t.deskSay(locales.DeskTakeFirst, map[string]any{"ID": e.ID})
		return nil
	}
	if looksLikeStaffScam(t.in.Text) {
		t.d.cfg.Logger.WarnContext(ctx, "agent reply held back", "agent", agent.UserID, "escalation", e.ID)
		t.deskSay(locales.DeskHeldBack, map[string]any{"Name": agent.DisplayName, "Staff": agent.StaffNumber})
		return nil
	}
	lang := t.d.cfg.Texts.Match(e.Language)
	sign := t.d.cfg.Texts.Text(lang, locales.AgentSays, agentData(agent))
	msgs := relayed(sign, t.in.Text, t.in.Files, Message{})
	if len(msgs) == 0 {
		t.deskSay(locales.DeskCannotRelay, nil)
		return nil
	}
	for _, m := range msgs {
		t.post(e.BuyerChatID, m, nil)
	}
	err := t.desk().Escalations.TouchAgentReply(ctx, e.ID, agent.UserID, t.d.cfg.Now().UTC())
	switch refund.ErrorCode(err) {
	case "":
		return nil
	case refund.ECONFLICT:
		// Released (or timed out) a moment ago: the reply is not sent.
		t.postings = nil
		t.deskSay(locales.DeskTakeFirst, map[string]any{"ID": e.ID})
		return nil
	}
	return fmt.Errorf("touch escalation %d: %w", e.ID, err)
}

// parseApprove reads "/approve [amount] [balance|original]".
func parseApprove(args string) (refund.Verdict, bool) {
	v := refund.Verdict{Outcome: refund.OutcomeApprove}
	for _, w := range strings.Fields(args) {
		switch strings.ToLower(w) {
		case "balance", "余额":
			v.Route = refund.RouteBalance
		case "original", "原路":
			v.Route = refund.RouteOriginal
		default:
			m, err := refund.ParseMoney(strings.TrimPrefix(w, "¥"))
			if err != nil || v.Amount != 0 || m == 0 {
				return refund.Verdict{}, false
			}
			v.Amount = m
		}
	}
	return v, true
}

// decide applies an agent's verdict through the refund core; the buyer
// hears of it by the core's notice. A decided case ends the escalation.
func (t *turn) decide(ctx context.Context, agent refund.Agent, e refund.Escalation, v refund.Verdict) error {
	if e.CaseID == 0 {
		t.deskOrAnswer(locales.DeskNoCase, nil)
		return nil
	}
	c, err := t.deskCore().Decide(ctx, e.CaseID, refund.ActorAgent(agent.UserID), v)
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		fresh, lerr := t.d.cfg.Store.Case(ctx, e.CaseID)
		if lerr != nil {
			return fmt.Errorf("reload case %d: %w", e.CaseID, lerr)
		}
		t.deskOrAnswer(locales.DeskCaseMoved, map[string]any{"Case": fresh.Number(),
			"Status": t.deskText(locales.StatusLabel(fresh.Status), nil)})
		return nil
	case refund.EINVALID:
		t.deskOrAnswer(locales.DeskInvalid, map[string]any{"Problem": refund.ErrorMessage(err)})
		return nil
	default:
		return fmt.Errorf("decide case %d: %w", e.CaseID, err)
	}
	if err := t.desk().Escalations.CloseEscalation(ctx, e.ID, t.d.cfg.Now().UTC()); err != nil {
		return fmt.Errorf("close escalation %d: %w", e.ID, err)
	}
	data := map[string]any{"Case": c.Number(), "Status": t.deskText(locales.StatusLabel(c.Status), nil),
		"Name": agent.DisplayName, "Staff": agent.StaffNumber}
	if t.in.Callback != nil {
		t.answer = t.deskText(locales.DeskDecided, data)
	}
	t.out = append(t.out, Message{Text: t.deskText(locales.DeskDecided, data), ReplyTo: e.CardMessageID, ThreadID: e.ThreadID})
	return nil
}

func (t *turn) deskOrAnswer(key locales.Key, data map[string]any) {
	if t.in.Callback != nil {
		t.answer = t.deskText(key, data)
		return
	}
	t.deskSay(key, data)
}

func (t *turn) note(ctx context.Context, agent refund.Agent, e refund.Escalation) error {
	if e.CaseID == 0 {
		t.deskSay(locales.DeskNoCase, nil)
		return nil
	}
	_, err := t.deskCore().Note(ctx, e.CaseID, refund.ActorAgent(agent.UserID), t.in.Text)
	switch refund.ErrorCode(err) {
	case "":
		t.deskSay(locales.DeskNoted, nil)
	case refund.EINVALID:
		t.deskSay(locales.DeskInvalid, map[string]any{"Problem": refund.ErrorMessage(err)})
	default:
		return fmt.Errorf("note on case %d: %w", e.CaseID, err)
	}
	return nil
}

// queue lists open escalations by deadline, or the agent's own holds.
func (t *turn) queue(ctx context.Context, agent refund.Agent, mine bool) error {
	open, err := t.desk().Escalations.OpenEscalations(ctx)
	if err != nil {
		return fmt.Errorf("open escalations: %w", err)
	}
	var b strings.Builder
	b.WriteString(t.deskText(locales.DeskQueueHeader, map[string]any{"Mine": mine}))
	n := 0
	for _, e := range open {
		if mine && (e.Status != refund.EscalationHeld || e.AgentUserID != agent.UserID) {
			continue
		}
		n++
		state := t.deskText(locales.DeskQueued, nil)
		if e.Status == refund.EscalationHeld {
			holder, err := t.desk().Agents.Agent(ctx, e.AgentUserID)
			if err != nil && refund.ErrorCode(err) != refund.ENOTFOUND {
				return fmt.Errorf("holder of escalation %d: %w", e.ID, err)
			}
			state = t.deskText(locales.DeskHeldBy, agentData(holder))
		}
		c := "—"
		if e.CaseID != 0 {
			c = refund.FormatCaseNumber(e.CaseID)
		}
		due := "—"
		if !e.Due.IsZero() {
			due = t.formatTime(e.Due)
		}
		fmt.Fprintf(&b, "\n#%d %s %s · %s · %s", e.ID, c, t.deskText(locales.EscalationLabel(e.Reason), nil), due, state)
	}
	if n == 0 {
		b.WriteString("\n" + t.deskText(locales.DeskQueueEmpty, nil))
	}
	t.out = append(t.out, Message{Text: b.String(), ThreadID: t.in.ThreadID})
	return nil
}
