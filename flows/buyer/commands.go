package buyer

import (
	"context"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// The commands and what the dialog says outside its steps.

func (t *turn) inGroup() {
	if t.In.Callback != nil {
		t.Answer = t.Text(locales.GroupPrivateOnly, map[string]any{"Bot": t.d.cfg.BotUsername})
		return
	}
	if t.In.Command == "" || (t.In.CommandTarget != "" && !strings.EqualFold(t.In.CommandTarget, t.d.cfg.BotUsername)) {
		return // chatter in a group is not for the bot
	}
	switch t.In.Command {
	case "start", "refund", "status", "help", "cancel":
		t.Say(locales.GroupPrivateOnly, map[string]any{"Bot": t.d.cfg.BotUsername},
			[]flows.Button{{Text: t.Text(locales.BtnOpenPrivate, nil), URL: "https://t.me/" + t.d.cfg.BotUsername}})
	}
}

func (t *turn) unsupported() {
	switch t.Sess.State {
	case StateCollectingEvidence:
		t.Say(locales.EvidenceWantFile, nil, t.keys().evidence()...)
		return
	case StateAddingEvidence, StateWritingAppeal:
		t.Say(locales.EvidenceWantFile, nil, t.keys().followUp()...)
		return
	}
	t.Say(locales.WantText, nil)
}

func (t *turn) command(ctx context.Context) error {
	args := strings.TrimSpace(t.In.Text)
	switch t.In.Command {
	case "start":
		t.Out = append(t.Out, flows.Message{
			Text:    t.Text(locales.Greeting, map[string]any{"Name": t.In.FirstName}) + "\n\n" + t.Text(locales.ScamWarning, nil),
			Buttons: t.keys().menu(),
		})
		if t.Sess.State != StateIdle {
			t.prompt()
		}
		return nil
	case "help":
		t.Say(locales.Help, nil)
		return nil
	case "refund":
		return t.startRefund(ctx, args)
	case "status":
		if args == "" {
			t.Say(locales.StatusAsk, nil)
			return nil
		}
		return t.lookup().status(ctx, args)
	case "cancel":
		return t.cancel(ctx)
	case "agent", "human":
		return t.askPerson(ctx, refund.EscalateAsked)
	case "verify":
		return t.d.cfg.Desk.Verify(ctx, t.Turn)
	case "lang":
		switch lang := t.d.cfg.Texts.Match(args); {
		case args == "":
			t.Say(locales.LangUsage, nil)
		default:
			t.Sess.Lang, t.Lang, t.Sess.LangChosen = lang, lang, true
			t.Say(locales.LangSet, nil)
		}
		return nil
	}
	t.Say(locales.UnknownCommand, map[string]any{"Command": t.In.Command})
	return nil
}

func (t *turn) cancel(ctx context.Context) error {
	if t.Sess.State == StateIdle {
		t.Say(locales.NothingToCancel, nil, t.keys().menu()...)
		return nil
	}
	if err := t.move(ctx, EventCancel); err != nil {
		return err
	}
	t.reset()
	t.Say(locales.Cancelled, nil, t.keys().menu()...)
	return nil
}
