package desk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Pulled and assigned work, and the buyers' ratings (the desk's hours are
// the place message's: openingText in place.go).

// DefaultAgentCap is how many chats auto-assignment gives one agent at
// most, as Chatwoot's capacity rule does.
const DefaultAgentCap = 5

// RatingObserver counts the buyers' ratings, for metrics.
type RatingObserver interface {
	DeskRated(rating int)
}

// presence handles /online and /offline.
func (t *agentTurn) presence(ctx context.Context, online bool) error {
	if err := t.d.cfg.Escalations.SetOnline(ctx, t.agent, online); err != nil {
		return err
	}
	key := locales.DeskOffline
	if online {
		key = locales.DeskOnline
	}
	data := agentData(t.agent)
	data["Cap"] = t.d.cfg.AgentCap
	t.deskSay(key, data)
	return nil
}

// next gives the agent the most urgent queued chat.
func (t *agentTurn) next(ctx context.Context) error {
	got, err := t.d.cfg.Escalations.Next(ctx, t.agent)
	switch refund.ErrorCode(err) {
	case "":
	case refund.ENOTFOUND:
		t.deskOrAnswer(locales.DeskNextNone, nil)
		return nil
	case refund.EFORBIDDEN:
		t.deskOrAnswer(locales.DeskTakeLeftTeam, agentData(t.agent))
		return nil
	default:
		return err
	}
	return t.joinedNow(ctx, got, locales.DeskTookOver)
}

// joinedNow tells the team (on the card), the buyer and, in their private
// chat, the agent that agent holds the chat now.
func (t *agentTurn) joinedNow(ctx context.Context, e refund.Escalation, key locales.Key) error {
	if t.In.Callback != nil {
		t.Answer = t.team(locales.DeskTaken, agentData(t.agent))
	}
	m, ok, err := t.d.privateTook(ctx, e)
	if err != nil {
		return err
	}
	note := t.team(key, map[string]any{"ID": e.ID, "Name": t.agent.Name(), "Staff": t.agent.StaffNumber})
	if ok && t.In.ChatID == e.AgentUserID {
		// Taken in the private chat (/next there): the team reads the note
		// on the card, the agent how to answer where they are.
		t.Post(t.d.cfg.ChatID, flows.Message{Text: note, ReplyTo: e.CardMessageID, ThreadID: e.ThreadID}, nil)
		t.Out = append(t.Out, m)
	} else {
		t.onCard(e, note)
	}
	t.Post(e.BuyerChatID, flows.Message{Text: t.TextIn(e.Language, locales.AgentJoined, agentData(t.agent))}, nil)
	if ok && t.In.ChatID != e.AgentUserID {
		t.Post(e.AgentUserID, m, nil)
	}
	return t.handWaiting(ctx, e)
}

// onCard says text under the escalation's card in the team chat; said in
// an agent's private chat, the agent reads it there too.
func (t *turn) onCard(e refund.Escalation, text string) {
	card := flows.Message{Text: text, ReplyTo: e.CardMessageID, ThreadID: e.ThreadID}
	if t.In.ChatID == t.d.cfg.ChatID {
		t.Out = append(t.Out, card)
		return
	}
	t.Post(t.d.cfg.ChatID, card, nil)
	t.Out = append(t.Out, flows.Message{Text: text})
}

// assign gives a new escalation to an online agent when auto-assignment
// is on, and says so on its card and to the buyer. It sends itself, for
// the agents' outbox, which has no turn.
func (d *Desk) assign(ctx context.Context, e refund.Escalation, send flows.Sender) error {
	if !d.cfg.AutoAssign {
		return nil
	}
	agent, ok, err := d.cfg.Escalations.Assign(ctx, e, d.cfg.AgentCap)
	if err != nil || !ok {
		return err
	}
	team := d.cfg.Texts.Match(d.cfg.Lang)
	_, terr := send.Post(ctx, d.cfg.ChatID, flows.Message{ReplyTo: e.CardMessageID, ThreadID: e.ThreadID,
		Text: d.cfg.Texts.Text(team, locales.DeskAssigned, map[string]any{"ID": e.ID, "Name": agent.Name(),
			"Staff": agent.StaffNumber})})
	berr := send.Send(ctx, e.BuyerChatID, flows.Message{Text: d.cfg.Texts.Text(d.cfg.Texts.Match(e.Language),
		locales.AgentJoined, agentData(agent))})
	e.AgentUserID = agent.UserID
	m, ok, perr := d.privateTook(ctx, e)
	if ok {
		perr = send.Send(ctx, agent.UserID, m)
	}
	return errors.Join(terr, berr, perr, d.sendWaiting(ctx, e, send))
}

// Rating buttons are "r:<escalation>:<1-5>", pressed in the buyer's chat.
const ratePrefix = "r:"

// askRating asks the buyer, once the escalation is over, how it went.
func (t *agentTurn) askRating(e refund.Escalation) {
	row := make([]flows.Button, 5)
	for i := range row {
		n := strconv.Itoa(i + 1)
		row[i] = flows.Button{Text: n + "⭐", Data: ratePrefix + strconv.FormatInt(e.ID, 10) + ":" + n}
	}
	t.Post(e.BuyerChatID, flows.Message{Text: t.TextIn(e.Language, locales.RateAsk, agentData(t.agent)),
		Buttons: [][]flows.Button{row}}, nil)
}

// parseRating reads a rating button.
func parseRating(data string) (escalationID int64, rating int, ok bool) {
	rest, found := strings.CutPrefix(data, ratePrefix)
	id, n, two := strings.Cut(rest, ":")
	if !found || !two || len(n) != 1 || n[0] < '1' || n[0] > '5' {
		return 0, 0, false
	}
	escalationID, ok = flows.ParseID(id)
	return escalationID, int(n[0] - '0'), ok
}

// rate takes a buyer's press of a rating button; rated reports a rating
// recorded by this press, which the dialog may ask a comment on.
func (t *turn) rate(ctx context.Context, id int64, rating int) (rated bool, err error) {
	_, err = t.d.cfg.Escalations.Rate(ctx, id, t.In.UserID, rating)
	switch refund.ErrorCode(err) {
	case "":
		t.Answer = t.Text(locales.RateThanks, map[string]any{"Rating": rating})
		t.RemoveKeyboard = true
		if t.d.cfg.Ratings != nil {
			t.d.cfg.Ratings.DeskRated(rating)
		}
		return true, nil
	case refund.ECONFLICT:
		t.Answer = t.Text(locales.RateAlready, nil)
		t.RemoveKeyboard = true
	case refund.ENOTFOUND, refund.EINVALID:
		t.Answer = t.Text(locales.InvalidButton, nil)
	default:
		return false, fmt.Errorf("rate escalation %d: %w", id, err)
	}
	return false, nil
}

// Comment implements buyer.Desk: the buyer's words on the rating they
// gave escalationID go with the rating and into its case's log. done is
// false when the words do not fit (too long, or nothing left of them),
// and the buyer may try again.
func (d *Desk) Comment(ctx context.Context, t *flows.Turn, escalationID int64, text string) (done bool, err error) {
	_, err = d.cfg.Escalations.CommentRating(ctx, escalationID, t.In.UserID, text)
	switch refund.ErrorCode(err) {
	case "":
		t.Say(locales.RateCommentThanks, nil)
	case refund.EINVALID:
		if refund.ErrorField(err) == "comment" {
			t.Say(locales.RateCommentTooLong, map[string]any{"Max": refund.MaxRatingCommentRunes})
			return false, nil
		}
		// Not rated: a forged or lost state, nothing to comment on.
		t.Say(locales.RateCommentThanks, nil)
	case refund.ECONFLICT, refund.ENOTFOUND:
		t.Say(locales.RateCommentThanks, nil)
	default:
		return false, fmt.Errorf("comment on escalation %d: %w", escalationID, err)
	}
	return true, nil
}
