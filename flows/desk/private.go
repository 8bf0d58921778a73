package desk

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Relays in the agent's private chat. Telegram lets a bot send about 20
// messages a minute into one group, and a held chat's conversation is
// most of what the desk sends: in the team chat, ten agents with a few
// chats each would share those 20. In each agent's private chat with the
// bot the budget is a message a second per agent (30 a second for the
// bot), so the team chat keeps only the cards, decisions and the queue
// board. A bot cannot open a private chat: an agent who never wrote to it
// there gets their relays in the team chat, as before.

// Private is the middleware in front of the buyer dialog for agents'
// private chats: an agent writing to the bot is at work, not a buyer.
func (d *Desk) Private(next flows.Handler) flows.Handler {
	return flows.HandlerFunc(func(ctx context.Context, ft *flows.Turn) error {
		if ft.In.Chat != flows.ChatPrivate || d.cfg.AgentChats == nil || !d.isStaff(ft.In.UserID) {
			return next.Serve(ctx, ft)
		}
		return (&turn{Turn: ft, d: d}).agentPrivate(ctx)
	})
}

// relayedID finds the escalation a relayed message or a card names
// ("#12 …", "🆕 #12 …").
var relayedID = regexp.MustCompile(`^(?:🆕 )?#([0-9]{1,18}) `)

// agentPrivate serves an agent in their private chat: the queue commands,
// and replies to a held chat's relayed messages, which go to its buyer.
func (t *turn) agentPrivate(ctx context.Context) error {
	agent, ok, err := t.asAgent(ctx)
	if err != nil || !ok {
		return err // removed since the set was loaded: nothing to do
	}
	at := &agentTurn{turn: t, agent: agent}
	if err := t.d.cfg.AgentChats.SetAgentChat(ctx, agent.UserID, true); err != nil {
		return err
	}
	switch t.In.Command {
	case "start", "help":
		t.deskSay(locales.DeskPrivateHello, agentData(agent))
		return nil
	case "queue", "mine":
		return at.queue(ctx, t.In.Command == "mine")
	case "next":
		return at.next(ctx)
	case "online", "offline":
		return at.presence(ctx, t.In.Command == "online")
	}
	e, err := at.privateEscalation(ctx)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		t.deskSay(locales.DeskPrivateWhich, nil)
		return nil
	case err != nil:
		return err
	}
	return at.onEscalation(ctx, e)
}

// privateEscalation is the escalation an agent's private message is about:
// the one the answered relay names, or the one chat the agent holds.
func (t *agentTurn) privateEscalation(ctx context.Context) (refund.Escalation, error) {
	if m := relayedID.FindStringSubmatch(t.In.ReplyToText); m != nil {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return t.d.cfg.Escalations.Escalation(ctx, id)
	}
	open, err := t.d.cfg.Escalations.Open(ctx)
	if err != nil {
		return refund.Escalation{}, err
	}
	var mine []refund.Escalation
	for _, e := range open {
		if e.Status == refund.EscalationHeld && e.AgentUserID == t.agent.UserID {
			mine = append(mine, e)
		}
	}
	if len(mine) != 1 {
		return refund.Escalation{}, refund.Errorf(refund.ENOTFOUND, "agent %d holds %d chats", t.agent.UserID, len(mine))
	}
	return mine[0], nil
}

// relayTarget is where a held chat's messages go: the holder's private
// chat when they have one with the bot, the card in the team chat if not.
func (d *core) relayTarget(ctx context.Context, e refund.Escalation) (chatID int64, private bool, err error) {
	if private, err = d.holderChat(ctx, e); err != nil || !private {
		return d.cfg.ChatID, false, err
	}
	return e.AgentUserID, true, nil
}

// holderChat reports whether the escalation's holder has a private chat
// with the bot.
func (d *core) holderChat(ctx context.Context, e refund.Escalation) (bool, error) {
	if d.cfg.AgentChats == nil || e.AgentUserID == 0 {
		return false, nil
	}
	open, err := d.cfg.AgentChats.AgentChat(ctx, e.AgentUserID)
	if err != nil {
		return false, fmt.Errorf("private chat of escalation %d's agent: %w", e.ID, err)
	}
	return open, nil
}

// privateTook is the note in a holder's private chat that the chat is
// theirs; ok is false when they have no private chat with the bot.
func (d *core) privateTook(ctx context.Context, e refund.Escalation) (flows.Message, bool, error) {
	private, err := d.holderChat(ctx, e)
	if err != nil || !private {
		return flows.Message{}, false, err
	}
	team := d.cfg.Texts.Match(d.cfg.Lang)
	return flows.Message{Text: d.cfg.Texts.Text(team, locales.DeskPrivateTook, map[string]any{"ID": e.ID,
		"Case": caseLabel(e)})}, true, nil
}
