-- Pulled and assigned work: agents say whether they take new chats
-- (/online, /offline), and buyers rate a closed escalation once.
ALTER TABLE agents ADD COLUMN online boolean NOT NULL DEFAULT false;

ALTER TABLE escalations
    ADD COLUMN rating   smallint CONSTRAINT escalations_rating_check CHECK (rating BETWEEN 1 AND 5),
    ADD COLUMN rated_at timestamptz,
    ADD CONSTRAINT escalations_rated_closed_check CHECK (rating IS NULL OR status = 'closed');
