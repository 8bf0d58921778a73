package desk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/refundbot/refundbot/flows"
	"github.com/refundbot/refundbot/locales"
	"github.com/refundbot/refundbot/refund"
)

// roster is the Desk's part that knows who is staff: the set private
// updates are routed by, refreshed from Telegram with the agents'
// profiles, and /verify's answers (verify.go).
type roster struct {
	*core
	// staff is who is staff, in memory so that routing a private update
	// costs nothing; refreshed with the staff.
	mu    sync.RWMutex
	staff map[int64]bool
}

// DefaultStaffRefresh is how often the agents' profiles are read from
// Telegram: often enough that a username given up stops being vouched for
// within minutes, rarely enough that a large team costs few calls.
const DefaultStaffRefresh = 10 * time.Minute

// Members tells who a user is in a chat, as Telegram reports it now
// (getChatMember); *bot.Sender implements it.
type Members interface {
	ChatMember(ctx context.Context, chatID, userID int64) (refund.AgentProfile, error)
}

// setStaff replaces the set of agents whose private chats the desk serves.
func (d *roster) setStaff(agents []refund.Agent) {
	ids := make(map[int64]bool, len(agents))
	for _, a := range agents {
		ids[a.UserID] = true
	}
	d.mu.Lock()
	d.staff = ids
	d.mu.Unlock()
}

func (d *roster) isStaff(userID int64) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.staff[userID]
}

// RefreshStaff asks Telegram for every active agent's names, username and
// membership of the team chat, and records them: replies are then signed
// with the name Telegram shows, and /verify vouches only for usernames
// Telegram still gives the agent. An agent first seen out of the team
// chat is flagged to the team with one message (the store decides who saw
// it first, so many replicas refreshing say it once), and so is one seen
// back. An agent Telegram cannot report on keeps the recorded profile;
// the failures are returned together, after every agent was tried. It
// returns how many agents were refreshed.
func (d *roster) RefreshStaff(ctx context.Context, members Members, send flows.Sender) (int, error) {
	agents, err := d.cfg.Escalations.Staff(ctx)
	if err != nil {
		return 0, err
	}
	d.setStaff(agents)
	var (
		problems []error
		n        int
	)
	for _, a := range agents {
		p, err := members.ChatMember(ctx, d.cfg.ChatID, a.UserID)
		if err != nil {
			problems = append(problems, fmt.Errorf("profile of agent %d: %w", a.UserID, err))
			continue
		}
		ch, err := d.cfg.Escalations.RecordProfile(ctx, a.UserID, p)
		switch {
		case refund.ErrorCode(err) == refund.ENOTFOUND:
			continue // removed meanwhile
		case err != nil:
			problems = append(problems, err)
			continue
		}
		n++
		if err := d.announceMembership(ctx, ch, send); err != nil {
			problems = append(problems, err)
		}
	}
	return n, errors.Join(problems...)
}

// announceMembership tells the team of an agent who left the team chat,
// or came back to it.
func (d *roster) announceMembership(ctx context.Context, ch refund.ProfileChange, send flows.Sender) error {
	var key locales.Key
	switch {
	case ch.Left():
		key = locales.DeskAgentLeftTeam
		d.cfg.Logger.WarnContext(ctx, "agent left the team chat", "agent", ch.After.UserID)
	case ch.Returned():
		key = locales.DeskAgentBack
		d.cfg.Logger.InfoContext(ctx, "agent is back in the team chat", "agent", ch.After.UserID)
	default:
		return nil
	}
	team := d.cfg.Texts.Match(d.cfg.Lang)
	if err := send.Send(ctx, d.cfg.ChatID, flows.Message{Text: d.cfg.Texts.Text(team, key, agentData(ch.After))}); err != nil {
		return fmt.Errorf("tell the team of agent %d: %w", ch.After.UserID, err)
	}
	return nil
}

// noteProfile records the names and username an agent's own update shows,
// when they differ from the record: Telegram tells the bot of a new name
// with every update, between two refreshes. An update says nothing of
// the team chat's membership, so that stays as the refresh found it.
func (t *turn) noteProfile(ctx context.Context, a refund.Agent) (refund.Agent, error) {
	in := t.In
	if a.TelegramFirstName == in.FirstName && a.TelegramLastName == in.LastName &&
		a.Username == refund.NormalizeUsername(in.Username) && !a.ProfileAt.IsZero() {
		return a, nil
	}
	ch, err := t.d.cfg.Escalations.RecordProfile(ctx, a.UserID, refund.AgentProfile{FirstName: in.FirstName,
		LastName: in.LastName, Username: in.Username, Membership: refund.MembershipUnknown, At: t.d.cfg.Now()})
	if err != nil {
		return a, err
	}
	return ch.After, nil
}

// agentData is what the texts about an agent show of them.
func agentData(a refund.Agent) map[string]any {
	return map[string]any{"Name": a.Name(), "Staff": a.StaffNumber}
}
