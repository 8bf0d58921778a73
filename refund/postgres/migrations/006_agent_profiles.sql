-- What Telegram reports of each agent (getChatMember in the team chat, and
-- the agent's own updates), so that replies are signed with the agent's
-- real name and a username is vouched for only while Telegram still shows
-- it for that agent. agents.username becomes what Telegram last reported.

-- A display name is now optional: empty means the Telegram name.
ALTER TABLE agents
    ADD COLUMN telegram_first_name text        NOT NULL DEFAULT '',
    ADD COLUMN telegram_last_name  text        NOT NULL DEFAULT '',
    -- NULL until Telegram first reports the agent.
    ADD COLUMN profile_at          timestamptz,
    -- Telegram reports the agent out of the team chat (left or kicked).
    ADD COLUMN left_team           boolean     NOT NULL DEFAULT false;
