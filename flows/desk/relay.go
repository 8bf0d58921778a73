package desk

import (
	"context"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// The relay from a held buyer chat to its agent: Hold finds the chat's
// escalation, relayToAgent passes the buyer's words and files on, and
// relayed shapes them into messages for either side.

// Hold is the middleware in front of the buyer dialog: it finds the
// chat's open escalation and, while an agent holds the chat, passes what
// the buyer sends to the agent instead. /status and buttons still reach
// the dialog, and a scam warning is still given.
func (d *Desk) Hold(next flows.Handler) flows.Handler {
	return flows.HandlerFunc(func(ctx context.Context, ft *flows.Turn) error {
		if ft.In.Chat != flows.ChatPrivate {
			return next.Serve(ctx, ft)
		}
		if cb := ft.In.Callback; cb != nil && strings.HasPrefix(cb.Data, ratePrefix) {
			id, rating, ok := parseRating(cb.Data)
			if !ok {
				ft.Answer = ft.Text(locales.InvalidButton, nil)
				return nil
			}
			rated, err := (&turn{Turn: ft, d: d}).rate(ctx, id, rating)
			if err != nil || !rated {
				return err
			}
			// The dialog asks for a comment, when the buyer is free to
			// give one.
			ft.Rated = id
			return next.Serve(ctx, ft)
		}
		if !ft.MaybeEscalated {
			return next.Serve(ctx, ft)
		}
		e, err := d.cfg.Escalations.OpenByChat(ctx, ft.In.ChatID)
		switch {
		case refund.ErrorCode(err) == refund.ENOTFOUND:
			// A mark left by a crash between the database and Redis: the
			// database is right, and the mark goes.
			if err := d.cfg.Marks.ClearEscalated(ctx, ft.In.ChatID); err != nil {
				return err
			}
			return next.Serve(ctx, ft)
		case err != nil:
			return err
		}
		ft.Escalation = &e
		if e.Status != refund.EscalationHeld || ft.In.Command == "status" || ft.In.Callback != nil {
			return next.Serve(ctx, ft)
		}
		return (&turn{Turn: ft, d: d}).relayToAgent(ctx, e)
	})
}

// relayToAgent passes what the buyer sent to the agent holding the chat.
// The dialog does not answer; a scam warning is still given.
func (t *turn) relayToAgent(ctx context.Context, e refund.Escalation) error {
	if flows.LooksLikeScam(t.In.Text) {
		t.Say(locales.ScamWarning, nil)
	}
	link := &flows.Link{Escalation: e.ID}
	text := t.In.Text
	if t.In.Command != "" {
		text = "/" + t.In.Command + " " + text
	}
	if t.In.Unsupported != "" {
		text = t.team(locales.DeskUnsupported, map[string]any{"Kind": t.In.Unsupported})
	}
	to, private, err := t.d.relayTarget(ctx, e)
	if err != nil {
		return err
	}
	// The number lets a reply find its case even before the relayed
	// message's link is recorded (the dispatcher does so once it is sent).
	header := t.team(locales.DeskFromBuyer, map[string]any{"ID": e.ID, "Buyer": buyerName(t.In)}) + "\n"
	inTeam := relayed(header, text, t.In.Files, flows.Message{ReplyTo: e.CardMessageID, ThreadID: e.ThreadID})
	if !private {
		for _, m := range inTeam {
			t.Post(to, m, link)
		}
		return nil
	}
	// The agent answers by replying to it; the number routes the reply.
	// An agent who blocked the bot since gets it under the card instead.
	header = t.team(locales.DeskFromBuyerPrivate, map[string]any{"ID": e.ID, "Case": caseLabel(e),
		"Buyer": buyerName(t.In)}) + "\n"
	for i, m := range relayed(header, text, t.In.Files, flows.Message{}) {
		t.PostOr(flows.Posting{ChatID: to, Msg: m}, flows.Posting{ChatID: t.d.cfg.ChatID, Msg: inTeam[i], Link: link})
	}
	return nil
}

// relayed turns what someone sent into messages for the other side of a
// held chat: one per file, the words captioning the first, or the words
// alone; each starts with prefix and carries base's threading. Nothing to
// pass on gives none.
func relayed(prefix, text string, files []refund.Evidence, base flows.Message) []flows.Message {
	if len(files) == 0 {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		base.Text = prefix + text
		return []flows.Message{base}
	}
	out := make([]flows.Message, 0, len(files))
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
