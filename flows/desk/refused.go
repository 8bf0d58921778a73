package desk

import (
	"context"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/refund"
)

// Refused hears of a message Telegram refused for good (flows.Dispatcher's
// OnRefused). A staff member's private chat that refuses the bot's
// messages (they blocked it, or deleted the chat) is forgotten, so that
// their relays go under the card in the team chat until they write to the
// bot again; the refused message itself went there as its fallback.
func (d *Desk) Refused(ctx context.Context, env flows.Envelope, err error) {
	if d.cfg.AgentChats == nil || env.ChatID <= 0 {
		return
	}
	if _, aerr := d.cfg.Escalations.Agent(ctx, env.ChatID); aerr != nil {
		if refund.ErrorCode(aerr) != refund.ENOTFOUND {
			d.cfg.Logger.WarnContext(ctx, "look up the staff member of a refused chat", "chat_id", env.ChatID, "err", aerr)
		}
		return
	}
	d.cfg.Logger.WarnContext(ctx, "an agent's private chat refuses the bot; their relays go to the team chat",
		"agent", env.ChatID, "err", err)
	if serr := d.cfg.AgentChats.SetAgentChat(ctx, env.ChatID, false); serr != nil {
		d.cfg.Logger.WarnContext(ctx, "forget an agent's private chat", "agent", env.ChatID, "err", serr)
	}
}
