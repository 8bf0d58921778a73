package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/refundbot/refundbot/refund"
)

// agents is the DB's part that keeps the desk's staff (refund.AgentStore).
type agents struct{ pool *pgxpool.Pool }

// Constraint names from 003_agents.sql that PutAgent reports as conflicts.
const (
	constraintAgentUsername    = "agents_username_active"
	constraintAgentStaffNumber = "agents_staff_number_active"
)

// PutAgent adds an agent or updates one, making it active. Active and
// AddedAt are the store's: AddedAt is when the agent was first put, kept
// through updates and removals so that the audit log can say since when
// someone has been staff. A staff number or username held by another
// active agent is an ECONFLICT error naming the field, decided by the
// unique indexes so that two admins adding agents at once cannot both
// take the same one.
func (db *agents) PutAgent(ctx context.Context, a refund.Agent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `
		INSERT INTO agents (user_id, username, display_name, staff_number, active, added_at)
		VALUES ($1, NULLIF($2, ''), $3, $4, true, now())
		ON CONFLICT (user_id) DO UPDATE SET
			username     = EXCLUDED.username,
			display_name = EXCLUDED.display_name,
			staff_number = EXCLUDED.staff_number,
			active       = true`,
		a.UserID, a.Username, a.DisplayName, a.StaffNumber)
	if pe, ok := pgError(err, uniqueViolation); ok {
		switch pe.ConstraintName {
		case constraintAgentStaffNumber:
			return &refund.Error{Code: refund.ECONFLICT, Field: "staff_number",
				Message: fmt.Sprintf("staff number %s belongs to another agent", a.StaffNumber)}
		case constraintAgentUsername:
			return &refund.Error{Code: refund.ECONFLICT, Field: "username",
				Message: fmt.Sprintf("username @%s belongs to another agent", a.Username)}
		}
	}
	if err != nil {
		return fmt.Errorf("put agent %d: %w", a.UserID, err)
	}
	return nil
}

// RemoveAgent deactivates an agent, or returns an ENOTFOUND error for a
// user who was never one. Removing an agent twice is not an error: the
// second admin to click wanted the same outcome.
func (db *agents) RemoveAgent(ctx context.Context, userID int64) error {
	tag, err := db.pool.Exec(ctx, `UPDATE agents SET active = false WHERE user_id = $1`, userID)
	if err != nil {
		return fmt.Errorf("remove agent %d: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
	}
	return nil
}

const agentColumns = `user_id, COALESCE(username, ''), display_name, staff_number, active, added_at,
	telegram_first_name, telegram_last_name, profile_at, left_team, online`

func scanAgent(row pgx.Row) (refund.Agent, error) {
	var (
		a         refund.Agent
		profileAt *time.Time
	)
	err := row.Scan(&a.UserID, &a.Username, &a.DisplayName, &a.StaffNumber, &a.Active, &a.AddedAt,
		&a.TelegramFirstName, &a.TelegramLastName, &profileAt, &a.LeftTeam, &a.Online)
	a.AddedAt = a.AddedAt.UTC()
	if profileAt != nil {
		a.ProfileAt = profileAt.UTC()
	}
	return a, err
}

// RecordProfile records what Telegram reported of an active agent and
// returns the record before and after. The agent's row is locked while
// the change is worked out, so that of two replicas refreshing at once
// exactly one sees the agent first leave the team chat (and tells the
// team). A username now reported for this agent is cleared from any other
// active agent's record first, as the unique index needs. An unknown or
// removed agent is an ENOTFOUND error.
func (db *agents) RecordProfile(ctx context.Context, userID int64, p refund.AgentProfile) (refund.ProfileChange, error) {
	var ch refund.ProfileChange
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		before, err := scanAgent(tx.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents
			WHERE user_id = $1 AND active FOR UPDATE`, userID))
		if errors.Is(err, pgx.ErrNoRows) {
			return refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
		}
		if err != nil {
			return fmt.Errorf("lock agent: %w", err)
		}
		after := before.WithProfile(p)
		if after.Username != "" && after.Username != before.Username {
			if _, err := tx.Exec(ctx, `UPDATE agents SET username = NULL
				WHERE username = $1 AND user_id <> $2 AND active`, after.Username, userID); err != nil {
				return fmt.Errorf("take username from another agent: %w", err)
			}
		}
		var profileAt *time.Time
		if !after.ProfileAt.IsZero() {
			profileAt = &after.ProfileAt
		}
		if _, err := tx.Exec(ctx, `UPDATE agents SET username = NULLIF($2, ''), telegram_first_name = $3,
			telegram_last_name = $4, profile_at = $5, left_team = $6 WHERE user_id = $1`,
			userID, after.Username, after.TelegramFirstName, after.TelegramLastName, profileAt, after.LeftTeam); err != nil {
			return fmt.Errorf("update agent: %w", err)
		}
		ch = refund.ProfileChange{Before: before, After: after}
		return nil
	})
	var appErr *refund.Error
	if errors.As(err, &appErr) {
		return refund.ProfileChange{}, appErr
	}
	if err != nil {
		return refund.ProfileChange{}, fmt.Errorf("record profile of agent %d: %w", userID, err)
	}
	return ch, nil
}

// Agent returns an active agent, or an ENOTFOUND error: a removed agent
// must lose the agent buttons at once.
func (db *agents) Agent(ctx context.Context, userID int64) (refund.Agent, error) {
	a, err := scanAgent(db.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents
		WHERE user_id = $1 AND active`, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Agent{}, refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
	}
	if err != nil {
		return refund.Agent{}, fmt.Errorf("load agent %d: %w", userID, err)
	}
	return a, nil
}

// AgentByUsername returns the active agent with this username, given in
// any case and with or without @, or an ENOTFOUND error. An empty
// username finds nobody, though agents without one exist.
func (db *agents) AgentByUsername(ctx context.Context, username string) (refund.Agent, error) {
	// An agent without a username is stored as NULL, which no lookup
	// equals, so "" finds nobody.
	name := refund.NormalizeUsername(username)
	a, err := scanAgent(db.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents
		WHERE username = $1 AND active`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return refund.Agent{}, refund.Errorf(refund.ENOTFOUND, "agent @%s not found", name)
	}
	if err != nil {
		return refund.Agent{}, fmt.Errorf("load agent @%s: %w", name, err)
	}
	return a, nil
}

// Agents lists active agents by staff number. The byte-wise collation
// keeps the order the same on every server, whatever its locale, and the
// same as the in-memory store's.
func (db *agents) Agents(ctx context.Context) ([]refund.Agent, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+agentColumns+` FROM agents WHERE active
		ORDER BY staff_number COLLATE "C", user_id`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	agents, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (refund.Agent, error) { return scanAgent(row) })
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return agents, nil
}

// SetOnline implements refund.AgentStore.
func (db *agents) SetOnline(ctx context.Context, userID int64, online bool) error {
	tag, err := db.pool.Exec(ctx, `UPDATE agents SET online = $2 WHERE user_id = $1 AND active`, userID, online)
	if err != nil {
		return fmt.Errorf("set agent %d online %v: %w", userID, online, err)
	}
	if tag.RowsAffected() == 0 {
		return refund.Errorf(refund.ENOTFOUND, "agent %d not found", userID)
	}
	return nil
}
