-- The buyer's side of the queue: the message telling a queued buyer their
-- place, edited as it moves; when each escalation was first taken, which
-- the wait estimate reads; what buyers write while they wait, kept for the
-- agent who takes the chat; and the comment a buyer may add to a rating.

ALTER TABLE escalations
    -- The place message in the buyer's chat; NULL until it is sent. Its
    -- chat is the buyer's, so it is not in escalation_messages, whose IDs
    -- are the team chat's.
    ADD COLUMN place_message_id bigint CONSTRAINT escalations_place_message_id_check CHECK (place_message_id > 0),
    -- What the place message shows, so that an unchanged place is not
    -- edited again, and when it was last edited, for the per-buyer throttle.
    ADD COLUMN place_text text NOT NULL DEFAULT '',
    ADD COLUMN place_edited_at timestamptz,
    -- Unlike taken_at, kept when a hold goes back to the queue.
    ADD COLUMN first_taken_at timestamptz,
    -- Bounded as refund.MaxRatingCommentRunes, counted in characters.
    ADD COLUMN rating_comment text
        CONSTRAINT escalations_rating_comment_check CHECK (char_length(rating_comment) BETWEEN 1 AND 500),
    ADD CONSTRAINT escalations_rating_comment_rated_check CHECK (rating_comment IS NULL OR rating IS NOT NULL);

-- Escalations taken before this migration were first taken when they were
-- taken, as far as anyone can tell (a release back to the queue cleared it).
UPDATE escalations SET first_taken_at = taken_at WHERE taken_at IS NOT NULL;

-- Serves RecentWaits: the latest first takes.
CREATE INDEX escalations_first_taken_idx ON escalations (first_taken_at DESC) WHERE first_taken_at IS NOT NULL;

-- What a queued buyer wrote for the agent, oldest first by seq; at most
-- refund.MaxWaitingMessages per escalation, which KeepWaiting checks as it
-- inserts. Gone with the escalation's close, or once handed to an agent.
CREATE TABLE escalation_waiting (
    seq           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id bigint      NOT NULL CONSTRAINT escalation_waiting_escalation_id_fkey
        REFERENCES escalations (id) ON DELETE CASCADE,
    text          text        NOT NULL CONSTRAINT escalation_waiting_text_check CHECK (text <> ''),
    at            timestamptz NOT NULL
);
CREATE INDEX escalation_waiting_escalation_idx ON escalation_waiting (escalation_id, seq);
