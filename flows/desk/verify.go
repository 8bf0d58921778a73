package desk

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// Who is staff: /verify answers, and the check that holds back a staff
// account asking a buyer for money.

// staffAskCJK and staffAskLatin find an agent asking a buyer to pay,
// beyond what flows.LooksLikeScam already catches: staff accounts get
// stolen. The CJK words are matched without spaces, the English ones on
// words, as LooksLikeScam does.
var (
	staffAskCJK   = regexp.MustCompile(`转账|付款|汇款|打款给|缴纳|扫码|充值到`)
	staffAskLatin = regexp.MustCompile(`\b(pay|transfer|send) (me|us|to|the fee|a fee|money)\b`)
)

// Verify implements buyer.Desk: "is this account really staff?". It
// answers from the staff records, whose usernames are what Telegram last
// reported for each agent, so a username an agent gave up is no longer
// vouched for. A name made to look like an agent's is called out as an
// imitation of that agent, which a plain "not staff" would leave the buyer
// to puzzle over.
func (d *roster) Verify(ctx context.Context, t *flows.Turn) error {
	var (
		a        refund.Agent
		err      error
		who      string
		username string
	)
	switch f := t.In.Forward; {
	case f != nil && f.Hidden:
		t.Say(locales.VerifyHidden, map[string]any{"Who": f.Name})
		return nil
	case f != nil:
		who, username = f.Name, f.Username
		if f.Username != "" {
			who += " @" + f.Username
		}
		a, err = d.cfg.Agents.Agent(ctx, f.UserID)
	default:
		who = strings.Fields(t.In.Text + " ")[0]
		username = who
		if refund.NormalizeUsername(who) == "" {
			t.Say(locales.VerifyUsage, nil)
			return nil
		}
		a, err = d.cfg.Agents.AgentByUsername(ctx, who)
	}
	switch {
	case refund.ErrorCode(err) == refund.ENOTFOUND:
		return d.verifyStranger(ctx, t, who, username)
	case err != nil:
		return fmt.Errorf("verify %q: %w", who, err)
	}
	t.Say(locales.VerifyStaff, map[string]any{"Who": who, "Name": a.Name(), "Staff": a.StaffNumber})
	return nil
}

// verifyStranger answers for an account that is not staff: an imitation
// of an agent's username, or simply not staff.
func (d *roster) verifyStranger(ctx context.Context, t *flows.Turn, who, username string) error {
	if username != "" {
		staff, err := d.cfg.Agents.Agents(ctx)
		if err != nil {
			return fmt.Errorf("verify %q: %w", who, err)
		}
		if agent, ok := refund.Imitates(username, staff); ok {
			d.cfg.Logger.WarnContext(ctx, "buyer asked about a look-alike of an agent", "asked", username,
				"agent", agent.UserID, "user_id", t.In.UserID)
			t.Say(locales.VerifyImitation, map[string]any{"Who": who, "Username": agent.Username,
				"Name": agent.Name(), "Staff": agent.StaffNumber})
			return nil
		}
	}
	t.Say(locales.VerifyNotStaff, map[string]any{"Who": who})
	return nil
}

func looksLikeStaffScam(text string) bool {
	return flows.LooksLikeScam(text) || flows.MatchWords(text, staffAskCJK, staffAskLatin)
}
