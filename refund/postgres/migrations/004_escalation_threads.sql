-- Forum topics: when the agents' chat is a forum, each escalation gets a
-- topic of its own, and a message in the topic finds the escalation by it.

-- The topic's message thread ID; NULL until one is opened, or always when
-- the agents' chat is not a forum. Telegram's thread IDs are message IDs,
-- so bigint as card_message_id is.
ALTER TABLE escalations ADD COLUMN thread_id bigint
    CONSTRAINT escalations_thread_id_check CHECK (thread_id > 0);

-- A topic belongs to one escalation, closed ones included, so that a
-- message in an old topic finds the escalation it was about rather than a
-- newer one. Also serves EscalationByThread.
CREATE UNIQUE INDEX escalations_thread_id_key ON escalations (thread_id);
