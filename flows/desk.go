package flows

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// DefaultHoldTimeout is how long an agent may hold a chat without
// answering before it goes back to the queue.
const DefaultHoldTimeout = 15 * time.Minute

// Desk is the agents' side of the bot: escalations posted to the team
// chat as case cards, takeover of a buyer's chat, the relay both ways, and
// the agent commands. It is optional: without it the bot has no humans.
type Desk struct {
	Agents      refund.AgentStore
	Escalations refund.EscalationStore
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
}

// TopicCreator opens forum topics in a chat.
type TopicCreator interface {
	CreateTopic(ctx context.Context, chatID int64, name string) (threadID int, err error)
}

// place gives an escalation its forum topic, when the team chat is a
// forum and it has none yet, and returns the topic (0 outside forums).
func (d *Desk) place(ctx context.Context, e *refund.Escalation, name string) error {
	if d.Topics == nil || e.ThreadID != 0 {
		return nil
	}
	id, err := d.Topics.CreateTopic(ctx, d.ChatID, name)
	if err != nil {
		return fmt.Errorf("open topic for escalation %d: %w", e.ID, err)
	}
	if err := d.Escalations.SetThread(ctx, e.ID, id); err != nil {
		return fmt.Errorf("record topic of escalation %d: %w", e.ID, err)
	}
	e.ThreadID = id
	return nil
}

// topicName names an escalation's topic so the forum's list reads as a
// queue: number, case and reason.
func topicName(e refund.Escalation, reason string) string {
	name := fmt.Sprintf("#%d", e.ID)
	if e.CaseID != 0 {
		name += " " + refund.FormatCaseNumber(e.CaseID)
	}
	return name + " " + reason
}

// DeskCore is what agents' decisions go through: the same rules, audit
// log and notices as every other change.
type DeskCore interface {
	Core
	Decide(ctx context.Context, caseID int64, actor string, v refund.Verdict) (refund.Case, error)
	Note(ctx context.Context, caseID int64, actor, note string) (refund.Case, error)
}

// Desk button actions ("a:<action>:<escalation id>"), for agents only.
const (
	deskTake    = "take"
	deskApprove = "approve"
	deskReject  = "reject"
	deskInfo    = "info"
)

func deskData(action string, escalationID int64) string {
	return "a:" + action + ":" + strconv.FormatInt(escalationID, 10)
}

func parseDeskData(data string) (action string, id int64, ok bool) {
	parts := strings.Split(data, ":")
	if len(parts) != 3 || parts[0] != "a" {
		return "", 0, false
	}
	switch parts[1] {
	case deskTake, deskApprove, deskReject, deskInfo:
	default:
		return "", 0, false
	}
	id, ok = caseArg(parts[2])
	return parts[1], id, ok
}

// posting is a message to another chat than the input's, sent after the
// replies; link, when set, learns the sent message's ID.
type posting struct {
	chatID int64
	msg    Message
	link   func(ctx context.Context, messageID int) error
}

// staffAsk finds an agent asking a buyer to pay or to hand over secrets,
// beyond what looksLikeScam already catches: staff accounts get stolen.
var staffAsk = regexp.MustCompile(`(?i)(转账|付款|汇款|打款给|缴纳|扫码|充值到)|\b(pay|transfer|send) (me|us|to|the fee|a fee|money)\b`)

func looksLikeStaffScam(text string) bool {
	return looksLikeScam(text) || staffAsk.MatchString(strings.ReplaceAll(unmask(text), " ", ""))
}

// askedForPerson finds a buyer asking for a human.
var askedForPerson = regexp.MustCompile(`(?i)转人工|人工客服|找人工|要人工|^人工$|真人|\bhuman\b|\breal person\b|\bagent\b`)

func (t *turn) desk() *Desk { return t.d.cfg.Desk }

func (t *turn) deskCore() DeskCore {
	dc, _ := t.d.cfg.Core.(DeskCore)
	return dc
}

// deskEnabled reports whether escalation to humans is wired.
func (t *turn) deskEnabled() bool {
	return t.desk() != nil && t.desk().ChatID != 0 && t.deskCore() != nil
}

func (t *turn) post(chatID int64, m Message, link func(context.Context, int) error) {
	t.postings = append(t.postings, posting{chatID: chatID, msg: m, link: link})
}

// deskText renders a text in the team's language.
func (t *turn) deskText(key locales.Key, data map[string]any) string {
	return t.d.cfg.Texts.Text(t.d.cfg.Texts.Match(t.desk().Lang), key, data)
}

// held returns the buyer chat's open escalation when an agent holds it.
func (t *turn) held(ctx context.Context) (refund.Escalation, bool, error) {
	if !t.deskEnabled() || t.in.Chat != ChatPrivate {
		return refund.Escalation{}, false, nil
	}
	e, err := t.desk().Escalations.OpenEscalationByChat(ctx, t.in.ChatID)
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		return refund.Escalation{}, false, nil
	case err != nil:
		return refund.Escalation{}, false, fmt.Errorf("escalation of chat %d: %w", t.in.ChatID, err)
	}
	return e, e.Status == refund.EscalationHeld, nil
}

// relayToAgent passes what the buyer sent to the agent holding the chat.
// The dialog does not answer; /status and the scam warning still do.
func (t *turn) relayToAgent(ctx context.Context, e refund.Escalation) error {
	if t.in.Command == "status" {
		return t.command(ctx)
	}
	if t.in.Callback != nil {
		return t.pressed(ctx, *t.in.Callback)
	}
	if looksLikeScam(t.in.Text) {
		t.say(locales.ScamWarning, nil)
	}
	who := t.buyerName()
	link := t.linker(e.ID)
	text := t.in.Text
	if t.in.Command != "" {
		text = "/" + t.in.Command + " " + text
	}
	if t.in.Unsupported != "" {
		text = t.deskText(locales.DeskUnsupported, map[string]any{"Kind": t.in.Unsupported})
	}
	header := t.deskText(locales.DeskFromBuyer, map[string]any{"Buyer": who}) + "\n"
	for _, m := range relayed(header, text, t.in.Files, Message{ReplyTo: e.CardMessageID, ThreadID: e.ThreadID}) {
		t.post(t.desk().ChatID, m, link)
	}
	return nil
}

// relayed turns what someone sent into messages for the other side of a
// held chat: one per file, the words captioning the first, or the words
// alone; each starts with prefix and carries base's threading. Nothing to
// pass on gives none.
func relayed(prefix, text string, files []refund.Evidence, base Message) []Message {
	if len(files) == 0 {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		base.Text = prefix + text
		return []Message{base}
	}
	out := make([]Message, 0, len(files))
	for i, f := range files {
		m := base
		m.Text = prefix
		if i == 0 && strings.TrimSpace(text) != "" {
			m.Text += text
		}
		m.File = &f
		out = append(out, m)
	}
	return out
}

func (t *turn) buyerName() string {
	name := strings.TrimSpace(t.in.FirstName + " " + t.in.LastName)
	if t.in.Username != "" {
		name += " @" + t.in.Username
	}
	return fmt.Sprintf("%s (id %d)", name, t.in.UserID)
}

func (t *turn) linker(escalationID int64) func(context.Context, int) error {
	return func(ctx context.Context, messageID int) error {
		return t.desk().Escalations.LinkMessage(ctx, escalationID, messageID, false)
	}
}

// escalate puts the buyer's chat in the agents' queue and tells them their
// place in it.
func (t *turn) escalate(ctx context.Context, reason refund.EscalationReason) error {
	if !t.deskEnabled() {
		t.say(locales.NoAgents, nil)
		return nil
	}
	e, created, err := t.desk().Escalations.OpenEscalation(ctx, refund.Escalation{
		CaseID: t.sess.CaseID, BuyerChatID: t.in.ChatID, BuyerUserID: t.in.UserID, Language: t.lang,
		Reason: reason, Status: refund.EscalationQueued, CreatedAt: t.d.cfg.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("escalate chat %d: %w", t.in.ChatID, err)
	}
	pos, err := t.desk().Escalations.QueuePosition(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("queue position of escalation %d: %w", e.ID, err)
	}
	t.say(locales.QueuedForAgent, map[string]any{"Ahead": max(pos-1, 0)})
	if created {
		if err := t.desk().place(ctx, &e, topicName(e, t.deskText(locales.EscalationLabel(reason), nil))); err != nil {
			return err
		}
		card := cardFor(t.d.cfg.Texts, t.desk().Lang, t.d.cfg.Location, e, nil, nil, t.buyerName(), t.in.Text)
		card.ThreadID = e.ThreadID
		t.post(t.desk().ChatID, card, func(ctx context.Context, id int) error {
			return t.desk().Escalations.LinkMessage(ctx, e.ID, id, true)
		})
	}
	return nil
}

// flagToTeam tells the team about a buyer's message that smells of a
// deposit scam: someone may be working on them outside the bot.
func (t *turn) flagToTeam() {
	if !t.deskEnabled() || t.in.Chat != ChatPrivate {
		return
	}
	t.post(t.desk().ChatID, Message{ThreadID: t.teamThread(), Text: t.deskText(locales.DeskScamFlag,
		map[string]any{"Buyer": t.buyerName(), "Text": t.in.Text})}, nil)
}

// teamThread is the buyer's escalation topic, if they have one, so a
// flag about them lands where their case is discussed.
func (t *turn) teamThread() int {
	if t.queued != nil {
		return t.queued.ThreadID
	}
	return 0
}

// verify answers "is this account really staff?".
func (t *turn) verify(ctx context.Context) error {
	if t.desk() == nil {
		t.say(locales.VerifyNotStaff, map[string]any{"Who": strings.TrimSpace(t.in.Text)})
		return nil
	}
	var a refund.Agent
	var err error
	var who string
	switch f := t.in.Forward; {
	case f != nil && f.Hidden:
		t.say(locales.VerifyHidden, map[string]any{"Who": f.Name})
		return nil
	case f != nil:
		who = f.Name
		if f.Username != "" {
			who += " @" + f.Username
		}
		a, err = t.desk().Agents.Agent(ctx, f.UserID)
	default:
		who = strings.Fields(t.in.Text + " ")[0]
		if refund.NormalizeUsername(who) == "" {
			t.say(locales.VerifyUsage, nil)
			return nil
		}
		a, err = t.desk().Agents.AgentByUsername(ctx, who)
	}
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		t.say(locales.VerifyNotStaff, map[string]any{"Who": who})
	case err != nil:
		return fmt.Errorf("verify %q: %w", who, err)
	default:
		t.say(locales.VerifyStaff, map[string]any{"Who": who, "Name": a.DisplayName, "Staff": a.StaffNumber})
	}
	return nil
}

// cardFor renders an escalation's case card for the team.
func cardFor(texts *locales.Bundle, lang string, loc *time.Location, e refund.Escalation, c *refund.Case,
	o *refund.Order, buyer, said string) Message {
	lang = texts.Match(lang)
	text := func(k locales.Key, data map[string]any) string { return texts.Text(lang, k, data) }
	var b strings.Builder
	b.WriteString(text(locales.DeskCardHeader, map[string]any{"ID": e.ID, "Reason": text(locales.EscalationLabel(e.Reason), nil),
		"Buyer": buyer}))
	if c != nil {
		data := map[string]any{"Case": c.Number(), "OrderID": c.OrderID, "Amount": formatMoney(c.RequestedAmount, c.Currency),
			"Proposal": formatMoney(c.Decided.Refund, c.Currency), "Reason": text(locales.ReasonLabel(c.Reason), nil),
			"Statement": c.Statement, "Files": len(c.Evidence), "Status": text(locales.StatusLabel(c.Status), nil),
			"Product": "", "Method": ""}
		if o != nil {
			data["Product"], data["Method"] = o.Product, text(locales.MethodLabel(o.PaymentMethod), nil)
		}
		b.WriteString("\n" + text(locales.DeskCardCase, data))
	}
	if said != "" {
		b.WriteString("\n" + text(locales.DeskCardSaid, map[string]any{"Text": said}))
	}
	if !e.Due.IsZero() {
		b.WriteString("\n" + text(locales.DeskCardDue, map[string]any{
			"Due": e.Due.In(loc).Format(text(locales.DateTimeLayout, nil))}))
	}
	rows := [][]Button{{{Text: text(locales.BtnDeskTake, nil), Data: deskData(deskTake, e.ID)}}}
	if c != nil {
		rows = append(rows, []Button{
			{Text: text(locales.BtnDeskApprove, nil), Data: deskData(deskApprove, e.ID)},
			{Text: text(locales.BtnDeskReject, nil), Data: deskData(deskReject, e.ID)},
			{Text: text(locales.BtnDeskInfo, nil), Data: deskData(deskInfo, e.ID)},
		})
	}
	return Message{Text: b.String(), Buttons: rows}
}
