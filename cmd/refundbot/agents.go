package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/refundbot/refundbot/refund"
)

// parseAgentList reads AGENT_USER_IDS: comma-separated entries of
// "user_id[:display name[:staff number[:@username]]]". The bare form is
// enough to bootstrap: the staff number defaults, and an agent without a
// configured name is called by the name Telegram reports (Agent.Name),
// which a made-up default here would hide.
func parseAgentList(v string) ([]refund.Agent, error) {
	var agents []refund.Agent
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		id, err := strconv.ParseInt(strings.TrimSpace(parts[0]), 10, 64)
		if err != nil || id <= 0 || len(parts) > 4 {
			return nil, fmt.Errorf("%q: want user_id[:name[:staff number[:@username]]]", entry)
		}
		a := refund.Agent{UserID: id, StaffNumber: "S" + strconv.FormatInt(id%100000, 10), Active: true}
		if len(parts) > 1 && strings.TrimSpace(parts[1]) != "" {
			a.DisplayName = strings.TrimSpace(parts[1])
		}
		if len(parts) > 2 && strings.TrimSpace(parts[2]) != "" {
			a.StaffNumber = strings.ToUpper(strings.TrimSpace(parts[2]))
		}
		if len(parts) > 3 {
			a.Username = refund.NormalizeUsername(parts[3])
		}
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("%q: %s", entry, refund.ErrorMessage(err))
		}
		agents = append(agents, a)
	}
	return agents, nil
}

// bootstrapAgents adds the agents of AGENT_USER_IDS when the staff list is
// empty: it starts a new deployment, and never brings back an agent
// removed with the agents command later (a fired agent must stay out
// however the environment was left).
func bootstrapAgents(ctx context.Context, store refund.AgentStore, agents []refund.Agent) error {
	if len(agents) == 0 {
		return nil
	}
	existing, err := store.Agents(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap agents: %w", err)
	}
	if len(existing) > 0 {
		return nil
	}
	for _, a := range agents {
		if err := store.PutAgent(ctx, a); err != nil {
			return fmt.Errorf("bootstrap agent %d: %w", a.UserID, err)
		}
	}
	return nil
}

// agentsCommand runs "refundbot agents add|remove|list"; loc is the
// shop's time zone, for when Telegram last reported each agent.
func agentsCommand(ctx context.Context, store refund.AgentStore, args []string, out io.Writer, loc *time.Location) error {
	if len(args) == 0 {
		return errors.New("usage: refundbot agents add USER_ID NAME|- STAFF_NO [@username] | remove USER_ID | list")
	}
	switch args[0] {
	case "list":
		agents, err := store.Agents(ctx)
		if err != nil {
			return fmt.Errorf("list agents: %w", err)
		}
		for _, a := range agents {
			fmt.Fprintln(out, agentLine(a, loc))
		}
		return nil
	case "add":
		if len(args) < 4 || len(args) > 5 {
			return errors.New("usage: refundbot agents add USER_ID NAME|- STAFF_NO [@username] (- : the name Telegram reports)")
		}
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("user id %q: not a number", args[1])
		}
		a := refund.Agent{UserID: id, DisplayName: args[2], StaffNumber: strings.ToUpper(args[3]), Active: true}
		if a.DisplayName == "-" {
			a.DisplayName = ""
		}
		if len(args) == 5 {
			a.Username = refund.NormalizeUsername(args[4])
		}
		if err := store.PutAgent(ctx, a); err != nil {
			return fmt.Errorf("add agent %d: %w", id, err)
		}
		fmt.Fprintf(out, "added %s %s (%d)\n", a.StaffNumber, a.Name(), a.UserID)
		return nil
	case "remove":
		if len(args) != 2 {
			return errors.New("usage: refundbot agents remove USER_ID")
		}
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("user id %q: not a number", args[1])
		}
		if err := store.RemoveAgent(ctx, id); err != nil {
			return fmt.Errorf("remove agent %d: %w", id, err)
		}
		fmt.Fprintf(out, "removed %d\n", id)
		return nil
	}
	return fmt.Errorf("unknown agents command %q: want add, remove or list", args[0])
}

// agentLine is one agent in "agents list": staff number, user id, the
// configured name and username, then what Telegram last reported and
// when, so that an operator sees at once whose name comes from where and
// who has left the team chat.
func agentLine(a refund.Agent, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	configured := a.DisplayName
	if configured == "" {
		configured = "-"
	}
	line := fmt.Sprintf("%s\t%d\t%s", a.StaffNumber, a.UserID, configured)
	if a.Username != "" {
		line += " @" + a.Username
	}
	if a.ProfileAt.IsZero() {
		return line + "\ttelegram: not reported yet"
	}
	tg := strings.TrimSpace(a.TelegramFirstName + " " + a.TelegramLastName)
	if tg == "" {
		tg = "-"
	}
	if a.Username != "" {
		tg += " @" + a.Username
	} else {
		tg += " (no username)"
	}
	line += "\ttelegram: " + tg + " at " + a.ProfileAt.In(loc).Format("2006-01-02 15:04 MST")
	if a.LeftTeam {
		line += "\tLEFT THE TEAM CHAT"
	}
	return line
}
