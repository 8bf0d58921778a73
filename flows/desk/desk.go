// Package desk is the agents' side of refundbot: escalations posted to
// the team chat as case cards, takeover of a buyer's chat, the relay both
// ways, the agent commands and the queue. Every change of an escalation
// goes through refund.EscalationService; the buyer dialog reaches the desk
// through buyer.Desk, which *Desk implements, and the chats an agent holds
// go through Hold, a flows.Middleware in front of the buyer dialog.
package desk

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// DefaultHoldTimeout is how long an agent may hold a chat without
// answering before it goes back to the queue.
const DefaultHoldTimeout = 15 * time.Minute

// Cases is what the desk reads of cases and orders for its cards.
type Cases interface {
	Case(ctx context.Context, id int64) (refund.Case, error)
	Order(ctx context.Context, id string) (refund.Order, error)
}

// Config wires a Desk.
type Config struct {
	Escalations *refund.EscalationService
	// Marks keep which buyer chats may have an open escalation, so that
	// the other chats' turns cost no database query.
	Marks flows.EscalationMarks
	// AgentChats, when set, relays a held chat in its agent's private
	// chat with the bot (private.go); nil relays in the team chat.
	AgentChats flows.AgentChats
	// Agents is the staff directory, for "is this account staff?".
	Agents refund.AgentStore
	Cases  Cases
	Texts  *locales.Bundle
	// ChatID is the agents' team chat (a supergroup).
	ChatID int64
	// Lang is the team's language for cards and answers.
	Lang string
	// HoldTimeout returns a silent hold to the queue; DefaultHoldTimeout
	// if 0.
	HoldTimeout time.Duration
	// Topics, when set, gives each escalation its own forum topic (the
	// team chat is a forum); nil threads cards by replies instead.
	Topics TopicCreator
	// AutoAssign gives each new escalation to an online agent with fewer
	// than AgentCap chats (DefaultAgentCap if 0), the least loaded first.
	AutoAssign bool
	AgentCap   int
	// Hours are when agents work (DESK_HOURS); outside them a buyer is
	// told when the desk opens. The zero value is always open.
	Hours refund.DeskHours
	// Ratings counts the buyers' ratings; nil counts nothing.
	Ratings RatingObserver
	// PlaceEditGap is the least time between two edits of one buyer's
	// place message (DefaultPlaceEditGap if 0), and PlaceEdits the most
	// edits one refresh makes (DefaultPlaceEdits if 0): every edit counts
	// against Telegram's limits as a message does.
	PlaceEditGap time.Duration
	PlaceEdits   int
	// Undeliverable reports whether a send error will never go away (the
	// buyer blocked the bot, the chat is gone), so that it is not retried;
	// nil takes every error for a passing one.
	Undeliverable func(error) bool
	// Location is the shop's time zone.
	Location *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
}

// TopicCreator opens forum topics in a chat.
type TopicCreator interface {
	CreateTopic(ctx context.Context, chatID int64, name string) (threadID int, err error)
}

// Desk is the agents' desk.
//
// Its own methods are where the buyer dialog, the router and the workers
// reach it (buyer.Desk, flows.Handler, the middlewares, the agents'
// outbox), and they tie its parts together. Each part is embedded, so that
// its methods are the Desk's: places (place.go) keeps the queued buyers'
// place messages, roster (staff.go, verify.go) who is staff, waitingWords
// (waiting.go) what queued buyers write, and teamChat (cards.go,
// queue.go) what the desk posts in the team chat outside a turn. They
// share one core.
type Desk struct {
	*core
	places
	roster
	waitingWords
	teamChat
}

// core is what every part of the Desk shares: the configuration, and the
// reads of where a held chat's agent is that several parts make
// (private.go), clearing a closed chat's mark and the team's time format.
type core struct {
	cfg Config
}

// New checks cfg and returns the desk; a missing part is named.
func New(cfg Config) (*Desk, error) {
	switch {
	case cfg.Escalations == nil:
		return nil, errors.New("desk: Escalations is required")
	case cfg.Agents == nil:
		return nil, errors.New("desk: Agents is required")
	case cfg.Marks == nil:
		return nil, errors.New("desk: Marks is required (the session store keeps them)")
	case cfg.Cases == nil:
		return nil, errors.New("desk: Cases is required")
	case cfg.Texts == nil:
		return nil, errors.New("desk: Texts is required")
	case cfg.ChatID == 0:
		return nil, errors.New("desk: the team chat (AGENT_CHAT_ID) is required")
	}
	if cfg.HoldTimeout <= 0 {
		cfg.HoldTimeout = DefaultHoldTimeout
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.AgentCap <= 0 {
		cfg.AgentCap = DefaultAgentCap
	}
	if cfg.PlaceEditGap <= 0 {
		cfg.PlaceEditGap = DefaultPlaceEditGap
	}
	if cfg.PlaceEdits <= 0 {
		cfg.PlaceEdits = DefaultPlaceEdits
	}
	if cfg.Undeliverable == nil {
		cfg.Undeliverable = func(error) bool { return false }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &core{cfg: cfg}
	return &Desk{core: c, places: places{c}, roster: roster{core: c}, waitingWords: waitingWords{c},
		teamChat: teamChat{c}}, nil
}

// SyncMarks marks every chat with an open escalation, at start: marks
// lost with Redis, or escalations opened before marks existed, would
// otherwise leave a held chat unrelayed.
func (d *Desk) SyncMarks(ctx context.Context) (int, error) {
	staff, err := d.cfg.Escalations.Staff(ctx)
	if err != nil {
		return 0, err
	}
	d.setStaff(staff)
	open, err := d.cfg.Escalations.Open(ctx)
	if err != nil {
		return 0, err
	}
	for _, e := range open {
		if err := d.cfg.Marks.MarkEscalated(ctx, e.BuyerChatID); err != nil {
			return 0, err
		}
	}
	return len(open), nil
}

// closed clears the mark of a chat whose escalation closed. The mark goes
// only after the database says closed: failing here leaves a stray mark,
// which the chat's next turn clears.
func (d *core) closed(ctx context.Context, e refund.Escalation) {
	if err := d.cfg.Marks.ClearEscalated(ctx, e.BuyerChatID); err != nil {
		d.cfg.Logger.WarnContext(ctx, "clear escalation mark", "chat_id", e.BuyerChatID, "err", err)
	}
}

// ChatID is the team chat, for flows.Route.
func (d *Desk) ChatID() int64 { return d.cfg.ChatID }

// Link implements flows.Linker: a card or relayed message the dispatcher
// sent is tied to its escalation, so that replies to it reach the buyer,
// and a buyer's place message is kept to be edited as the place moves.
func (d *Desk) Link(ctx context.Context, escalationID int64, messageID int, kind flows.LinkKind) error {
	if kind == flows.LinkPlace {
		return d.cfg.Escalations.LinkPlace(ctx, escalationID, messageID)
	}
	return d.cfg.Escalations.Link(ctx, escalationID, messageID, kind == flows.LinkCard)
}

// Enabled implements buyer.Desk: a desk always has a team.
func (d *Desk) Enabled() bool { return true }

// turn is one input on the desk's side: it finds who sent it and what it
// is about, and says the desk's answers. An active agent's input goes on
// as an agentTurn; a held buyer's is relayed (relay.go) or rates the chat.
type turn struct {
	*flows.Turn
	d *Desk
}

// agentTurn is a turn of an active agent, acting as them: the queue
// commands, and taking, answering, deciding and handing back the chats
// they hold (agents.go, work.go, private.go).
type agentTurn struct {
	*turn
	agent refund.Agent
}

// Serve implements flows.Handler for the team chat: card buttons, commands
// in a case's thread, and replies relayed to the buyer.
func (d *Desk) Serve(ctx context.Context, t *flows.Turn) error {
	return (&turn{Turn: t, d: d}).agentChat(ctx)
}

// team renders a text in the team's language.
func (t *turn) team(key locales.Key, data map[string]any) string {
	return t.TextIn(t.d.cfg.Lang, key, data)
}

// formatTime is a time as the team reads it, in the shop's zone.
func (d *core) formatTime(at time.Time) string {
	lang := d.cfg.Texts.Match(d.cfg.Lang)
	return at.In(d.cfg.Location).Format(d.cfg.Texts.Text(lang, locales.DateTimeLayout, nil))
}

// Escalate implements buyer.Desk: it puts the buyer's chat in the agents'
// queue, posts its card when it is new, and tells the buyer their place.
func (d *Desk) Escalate(ctx context.Context, t *flows.Turn, caseID int64, reason refund.EscalationReason) error {
	if err := d.cfg.Marks.MarkEscalated(ctx, t.In.ChatID); err != nil {
		return err
	}
	e, created, err := d.cfg.Escalations.Escalate(ctx, refund.Escalation{
		CaseID: caseID, BuyerChatID: t.In.ChatID, BuyerUserID: t.In.UserID, Language: t.Lang, Reason: reason,
	})
	if err != nil {
		return err
	}
	var assigned *refund.Agent
	if created && d.cfg.AutoAssign {
		agent, ok, err := d.cfg.Escalations.Assign(ctx, e, d.cfg.AgentCap)
		if err != nil {
			return err
		}
		if ok {
			assigned = &agent
		}
	}
	if assigned != nil {
		t.Say(locales.AgentJoined, agentData(*assigned))
	} else if err := d.tellPlaceIn(ctx, t, e); err != nil {
		return err
	}
	if !created {
		return nil
	}
	dt := &turn{Turn: t, d: d}
	if err := d.openTopic(ctx, &e, topicName(e, dt.team(locales.EscalationLabel(reason), nil))); err != nil {
		return err
	}
	card := cardFor(d.cfg.Texts, d.cfg.Lang, d.cfg.Location, e, nil, nil, buyerName(t.In), t.In.Text)
	card.ThreadID = e.ThreadID
	if assigned != nil {
		card.Text += "\n\n" + dt.team(locales.DeskAssigned, map[string]any{"ID": e.ID, "Name": assigned.Name(),
			"Staff": assigned.StaffNumber})
		e.AgentUserID = assigned.UserID
		m, ok, err := d.privateTook(ctx, e)
		if err != nil {
			return err
		}
		if ok {
			t.Post(assigned.UserID, m, nil)
		}
	}
	t.Post(d.cfg.ChatID, card, &flows.Link{Escalation: e.ID, Kind: flows.LinkCard})
	return nil
}

// Flag implements buyer.Desk: the team hears of a buyer's message that
// smells of a deposit scam, in the buyer's topic if they have one.
func (d *Desk) Flag(_ context.Context, t *flows.Turn) {
	if t.In.Chat != flows.ChatPrivate {
		return
	}
	thread := 0
	if t.Escalation != nil {
		thread = t.Escalation.ThreadID
	}
	t.Post(d.cfg.ChatID, flows.Message{ThreadID: thread, Text: t.TextIn(d.cfg.Lang, locales.DeskScamFlag,
		map[string]any{"Buyer": buyerName(t.In), "Text": t.In.Text})}, nil)
}
