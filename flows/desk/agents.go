package desk

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// agentChat handles the agents' team chat: card buttons, commands in a
// case's thread, and replies relayed to the buyer.
func (t *turn) agentChat(ctx context.Context) error {
	agent, isAgent, err := t.asAgent(ctx)
	if err != nil {
		return err
	}
	at := &agentTurn{turn: t, agent: agent} // only used once isAgent is known
	if cb := t.In.Callback; cb != nil {
		action, id, ok := parseDeskData(cb.Data)
		switch {
		case !ok:
			t.Answer = t.team(locales.InvalidButton, nil)
		case !isAgent:
			t.refuseNonAgent(ctx, "button "+action)
		default:
			return at.deskButton(ctx, action, id)
		}
		return nil
	}
	if !isAgent {
		if t.In.Command != "" {
			t.refuseNonAgent(ctx, "/"+t.In.Command)
		}
		return nil // team chatter is not for the bot
	}
	switch t.In.Command {
	case "queue", "mine":
		return at.queue(ctx, t.In.Command == "mine")
	case "next":
		return at.next(ctx)
	case "online", "offline":
		return at.presence(ctx, t.In.Command == "online")
	}
	e, err := t.escalationOf(ctx)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		if t.In.Command != "" {
			t.deskSay(locales.DeskReplyToCard, nil)
		}
		return nil
	case err != nil:
		return err
	}
	return at.onEscalation(ctx, e)
}

// onEscalation runs an agent's message about one escalation: a reply to
// relay, or a command.
func (t *agentTurn) onEscalation(ctx context.Context, e refund.Escalation) error {
	switch t.In.Command {
	case "":
		return t.relayToBuyer(ctx, e)
	case "take":
		return t.take(ctx, e)
	case "release":
		return t.release(ctx, e)
	case "approve":
		v, ok := parseApprove(t.In.Text)
		if !ok {
			t.deskSay(locales.DeskApproveUsage, nil)
			return nil
		}
		return t.decide(ctx, e, v)
	case "reject", "info":
		v := refund.Verdict{Outcome: refund.OutcomeReject, Note: strings.TrimSpace(t.In.Text)}
		if t.In.Command == "info" {
			v.Outcome = refund.OutcomeNeedsInfo
		}
		if v.Note == "" {
			t.deskSay(locales.DeskNeedsReason, map[string]any{"Command": t.In.Command})
			return nil
		}
		return t.decide(ctx, e, v)
	case "note":
		return t.note(ctx, e)
	}
	t.deskSay(locales.DeskUnknownCommand, map[string]any{"Command": t.In.Command})
	return nil
}

// escalationOf finds the escalation a team-chat message is about: by its
// forum topic, or by the card or relayed message it replies to.
func (t *turn) escalationOf(ctx context.Context) (refund.Escalation, error) {
	switch {
	case t.In.ThreadID != 0:
		e, err := t.d.cfg.Escalations.ByThread(ctx, t.In.ThreadID)
		if err != nil && refund.ErrorCode(err) != refund.ENOTFOUND {
			return e, fmt.Errorf("escalation of topic %d: %w", t.In.ThreadID, err)
		}
		if err == nil || t.In.ReplyToMessageID == 0 {
			return e, err
		}
	case t.In.ReplyToMessageID == 0:
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "not about an escalation")
	}
	e, err := t.d.cfg.Escalations.ByMessage(ctx, t.In.ReplyToMessageID)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		// A card or relay is linked to its escalation once the dispatcher
		// has sent it; an agent quick enough to answer before that is
		// understood by the number the message starts with.
		if m := relayedID.FindStringSubmatch(t.In.ReplyToText); m != nil {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			return t.d.cfg.Escalations.Escalation(ctx, id)
		}
	case err != nil:
		return e, fmt.Errorf("escalation of message %d: %w", t.In.ReplyToMessageID, err)
	}
	return e, err
}

// asAgent returns the sender if they are active staff.
func (t *turn) asAgent(ctx context.Context) (refund.Agent, bool, error) {
	a, err := t.d.cfg.Escalations.Agent(ctx, t.In.UserID)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		return refund.Agent{}, false, nil
	case err != nil:
		return refund.Agent{}, false, fmt.Errorf("agent %d: %w", t.In.UserID, err)
	}
	if a, err = t.noteProfile(ctx, a); err != nil {
		return refund.Agent{}, false, fmt.Errorf("agent %d: %w", t.In.UserID, err)
	}
	return a, true, nil
}

// refuseNonAgent answers someone who is not staff and keeps a record:
// a stranger in the team chat pressing Approve is worth a look.
func (t *turn) refuseNonAgent(ctx context.Context, what string) {
	t.d.cfg.Logger.WarnContext(ctx, "non-agent tried an agent action", "user_id", t.In.UserID,
		"username", t.In.Username, "chat_id", t.In.ChatID, "action", what)
	if t.In.Callback != nil {
		t.Answer = t.team(locales.DeskNotAgent, nil)
		return
	}
	t.deskSay(locales.DeskNotAgent, nil)
}

// deskSay replies in the team chat, to the message being answered.
func (t *turn) deskSay(key locales.Key, data map[string]any) {
	reply := t.In.ReplyToMessageID
	if t.In.Callback != nil {
		reply = t.In.Callback.MessageID
	}
	t.Out = append(t.Out, flows.Message{Text: t.team(key, data), ReplyTo: reply, ThreadID: t.In.ThreadID})
}

func (t *agentTurn) deskButton(ctx context.Context, action string, id int64) error {
	e, err := t.d.cfg.Escalations.Escalation(ctx, id)
	if err != nil {
		return fmt.Errorf("escalation %d: %w", id, err)
	}
	switch action {
	case deskTake:
		return t.take(ctx, e)
	case deskApprove:
		return t.decide(ctx, e, refund.Verdict{Outcome: refund.OutcomeApprove})
	case deskReject:
		t.Answer = t.team(locales.DeskNeedsReason, map[string]any{"Command": "reject"})
	case deskInfo:
		t.Answer = t.team(locales.DeskNeedsReason, map[string]any{"Command": "info"})
	}
	return nil
}

// take gives the buyer's chat to the agent; one agent holds it at a time.
func (t *agentTurn) take(ctx context.Context, e refund.Escalation) error {
	got, err := t.d.cfg.Escalations.Take(ctx, e.ID, t.agent)
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		return t.takenBy(ctx, e.ID)
	case refund.EFORBIDDEN:
		t.d.cfg.Logger.WarnContext(ctx, "agent out of the team chat tried to take a chat", "agent", t.agent.UserID,
			"escalation", e.ID)
		t.deskOrAnswer(locales.DeskTakeLeftTeam, agentData(t.agent))
		return nil
	default:
		return err
	}
	return t.joinedNow(ctx, got, locales.DeskTookOver)
}

func (t *agentTurn) takenBy(ctx context.Context, id int64) error {
	e, err := t.d.cfg.Escalations.Escalation(ctx, id)
	if err != nil {
		return fmt.Errorf("escalation %d: %w", id, err)
	}
	key, data := locales.DeskClosed, map[string]any{"ID": id}
	if e.Status == refund.EscalationHeld {
		holder, err := t.d.cfg.Escalations.Agent(ctx, e.AgentUserID)
		if err != nil && refund.ErrorCode(err) != refund.ENOTFOUND {
			return fmt.Errorf("holder of escalation %d: %w", id, err)
		}
		key, data = locales.DeskTakenBy, map[string]any{"ID": id, "Name": holder.Name(), "Staff": holder.StaffNumber}
	}
	if t.In.Callback != nil {
		t.Answer = t.team(key, data)
		return nil
	}
	t.deskSay(key, data)
	return nil
}

// release hands the chat back to the bot.
func (t *agentTurn) release(ctx context.Context, e refund.Escalation) error {
	got, err := t.d.cfg.Escalations.Release(ctx, e.ID, t.agent)
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		t.deskSay(locales.DeskNotHolder, nil)
		return nil
	default:
		return err
	}
	t.d.closed(ctx, got)
	t.onCard(got, t.team(locales.DeskReleased, map[string]any{"ID": got.ID}))
	t.Post(got.BuyerChatID, flows.Message{Text: t.TextIn(got.Language, locales.AgentLeft, agentData(t.agent))}, nil)
	t.askRating(got)
	return nil
}

// relayToBuyer sends the holder's reply to the buyer, signed. A reply that
// asks for money or secrets is held back and shown to the team instead.
func (t *agentTurn) relayToBuyer(ctx context.Context, e refund.Escalation) error {
	if e.Status != refund.EscalationHeld || e.AgentUserID != t.agent.UserID {
		t.deskSay(locales.DeskTakeFirst, map[string]any{"ID": e.ID})
		return nil
	}
	if looksLikeStaffScam(t.In.Text) {
		t.d.cfg.Logger.WarnContext(ctx, "agent reply held back", "agent", t.agent.UserID, "escalation", e.ID)
		t.deskSay(locales.DeskHeldBack, agentData(t.agent))
		return nil
	}
	sign := t.TextIn(e.Language, locales.AgentSays, agentData(t.agent))
	msgs := relayed(sign, t.In.Text, t.In.Files, flows.Message{})
	if len(msgs) == 0 {
		t.deskSay(locales.DeskCannotRelay, nil)
		return nil
	}
	// A buyer who blocked the bot cannot be reached; the agent hears so,
	// once for the reply, where they wrote it.
	unreachable := flows.Posting{ChatID: t.In.ChatID, Msg: flows.Message{Text: t.team(locales.DeskBuyerUnreachable,
		map[string]any{"ID": e.ID}), ReplyTo: t.In.MessageID, ThreadID: t.In.ThreadID}}
	for i, m := range msgs {
		if i == 0 {
			t.PostOr(flows.Posting{ChatID: e.BuyerChatID, Msg: m}, unreachable)
			continue
		}
		t.Post(e.BuyerChatID, m, nil)
	}
	err := t.d.cfg.Escalations.Replied(ctx, e.ID, t.agent)
	switch refund.ErrorCode(err) {
	case "":
		return nil
	case refund.ECONFLICT:
		// Released (or timed out) a moment ago: the reply is not sent.
		t.Postings = nil
		t.deskSay(locales.DeskTakeFirst, map[string]any{"ID": e.ID})
		return nil
	}
	return err
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
func (t *agentTurn) decide(ctx context.Context, e refund.Escalation, v refund.Verdict) error {
	if e.CaseID == 0 {
		t.deskOrAnswer(locales.DeskNoCase, nil)
		return nil
	}
	c, err := t.d.cfg.Escalations.Decide(ctx, e, t.agent, v)
	switch refund.ErrorCode(err) {
	case "":
	case refund.ECONFLICT:
		fresh, lerr := t.d.cfg.Cases.Case(ctx, e.CaseID)
		if lerr != nil {
			return fmt.Errorf("reload case %d: %w", e.CaseID, lerr)
		}
		t.deskOrAnswer(locales.DeskCaseMoved, map[string]any{"Case": fresh.Number(),
			"Status": t.team(locales.StatusLabel(fresh.Status), nil)})
		return nil
	case refund.EINVALID:
		t.deskOrAnswer(locales.DeskInvalid, map[string]any{"Problem": refund.ErrorMessage(err)})
		return nil
	default:
		return fmt.Errorf("decide case %d: %w", e.CaseID, err)
	}
	t.d.closed(ctx, e)
	data := map[string]any{"Case": c.Number(), "Status": t.team(locales.StatusLabel(c.Status), nil),
		"Name": t.agent.Name(), "Staff": t.agent.StaffNumber}
	if t.In.Callback != nil {
		t.Answer = t.team(locales.DeskDecided, data)
	}
	t.onCard(e, t.team(locales.DeskDecided, data))
	t.askRating(e)
	return nil
}

func (t *turn) deskOrAnswer(key locales.Key, data map[string]any) {
	if t.In.Callback != nil {
		t.Answer = t.team(key, data)
		return
	}
	t.deskSay(key, data)
}

func (t *agentTurn) note(ctx context.Context, e refund.Escalation) error {
	if e.CaseID == 0 {
		t.deskSay(locales.DeskNoCase, nil)
		return nil
	}
	_, err := t.d.cfg.Escalations.Note(ctx, e, t.agent, t.In.Text)
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
func (t *agentTurn) queue(ctx context.Context, mine bool) error {
	open, err := t.d.cfg.Escalations.Open(ctx)
	if err != nil {
		return fmt.Errorf("open escalations: %w", err)
	}
	var b strings.Builder
	b.WriteString(t.team(locales.DeskQueueHeader, map[string]any{"Mine": mine}))
	n := 0
	for _, e := range open {
		if mine && (e.Status != refund.EscalationHeld || e.AgentUserID != t.agent.UserID) {
			continue
		}
		n++
		state := t.team(locales.DeskQueued, nil)
		if e.Status == refund.EscalationHeld {
			holder, err := t.d.cfg.Escalations.Agent(ctx, e.AgentUserID)
			if err != nil && refund.ErrorCode(err) != refund.ENOTFOUND {
				return fmt.Errorf("holder of escalation %d: %w", e.ID, err)
			}
			state = t.team(locales.DeskHeldBy, agentData(holder))
		}
		c := "—"
		if e.CaseID != 0 {
			c = refund.FormatCaseNumber(e.CaseID)
		}
		due := "—"
		if !e.Due.IsZero() {
			due = t.d.formatTime(e.Due)
		}
		fmt.Fprintf(&b, "\n#%d %s %s · %s · %s", e.ID, c, t.team(locales.EscalationLabel(e.Reason), nil), due, state)
	}
	if n == 0 {
		b.WriteString("\n" + t.team(locales.DeskQueueEmpty, nil))
	}
	t.Out = append(t.Out, flows.Message{Text: b.String(), ThreadID: t.In.ThreadID})
	return nil
}
