-- The agents' side: the staff list, buyer chats escalated to a person,
-- and which messages in the agents' chat belong to which escalation.

CREATE TABLE agents (
    user_id      bigint      PRIMARY KEY CONSTRAINT agents_user_id_check CHECK (user_id > 0),
    -- refund.NormalizeUsername's form: lower case, no @. NULL when the
    -- agent has no username, so that agents without one do not collide.
    username     text        CONSTRAINT agents_username_check CHECK (username <> ''),
    display_name text        NOT NULL,
    staff_number text        NOT NULL,
    -- A removed agent stays, deactivated, for the audit log.
    active       boolean     NOT NULL,
    added_at     timestamptz NOT NULL
);

-- A buyer checking "is @alice_cs really staff?", or an agent signing
-- "K017", must point at exactly one person. Only active agents count, so
-- that a departed agent's username and number can be handed on.
CREATE UNIQUE INDEX agents_username_active ON agents (username) WHERE active;
CREATE UNIQUE INDEX agents_staff_number_active ON agents (staff_number) WHERE active;

CREATE TABLE escalations (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL when the buyer asked for a person before any case existed.
    case_id             bigint      CONSTRAINT escalations_case_id_fkey REFERENCES cases (id),
    buyer_chat_id       bigint      NOT NULL,
    buyer_user_id       bigint      NOT NULL,
    language            text        NOT NULL,
    reason              text        NOT NULL,
    -- Must list every refund.EscalationStatus; a test compares the two.
    status              text        NOT NULL CONSTRAINT escalations_status_check CHECK (status IN ('queued', 'held', 'closed')),
    -- The holder while held; kept on close, for the audit log.
    agent_user_id       bigint,
    -- The case card in the agents' chat; NULL until it is posted.
    card_message_id     bigint,
    -- When the buyer should have an answer; NULL queues after every
    -- escalation that has a deadline.
    due                 timestamptz,
    created_at          timestamptz NOT NULL,
    taken_at            timestamptz,
    last_agent_reply_at timestamptz,
    closed_at           timestamptz,
    CONSTRAINT escalations_held_check
        CHECK (status <> 'held' OR (agent_user_id IS NOT NULL AND taken_at IS NOT NULL)),
    -- A queued escalation carries nothing of an earlier holder, whose
    -- silence must not count against the next one.
    CONSTRAINT escalations_queued_check
        CHECK (status <> 'queued' OR (agent_user_id IS NULL AND taken_at IS NULL AND last_agent_reply_at IS NULL)),
    CONSTRAINT escalations_closed_check CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);

-- One open escalation per buyer chat, enforced here so that two bot
-- instances escalating the same chat at once end up with one. "Open"
-- matches refund.Escalation.Open().
CREATE UNIQUE INDEX escalations_one_open_per_chat ON escalations (buyer_chat_id)
    WHERE status IN ('queued', 'held');

-- Serves the queue: QueuePosition, OpenEscalations and ReleaseSilentHolds only
-- ever look at open escalations.
CREATE INDEX escalations_open_idx ON escalations (due, created_at, id)
    WHERE status IN ('queued', 'held');

-- Every message the bot posts about an escalation in the agents' chat, so
-- that an agent's reply to any of them finds the buyer. The agents' chat
-- is one chat, so its message IDs are unique.
CREATE TABLE escalation_messages (
    message_id    bigint PRIMARY KEY,
    escalation_id bigint NOT NULL CONSTRAINT escalation_messages_escalation_id_fkey REFERENCES escalations (id)
);
