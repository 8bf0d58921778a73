-- How far an escalation's card went out, so that a delivery retried after
-- a failed evidence send goes on where it stopped instead of calling the
-- card complete: the evidence files posted under the card, and whether
-- the buyer was told their place in the queue.
ALTER TABLE escalations ADD COLUMN evidence_posted int NOT NULL DEFAULT 0
    CONSTRAINT escalations_evidence_posted_check CHECK (evidence_posted >= 0);
ALTER TABLE escalations ADD COLUMN buyer_told boolean NOT NULL DEFAULT false;

-- Escalations whose card was posted before this migration were delivered
-- whole as far as anyone can tell: do not post their evidence again.
UPDATE escalations e SET buyer_told = true,
    evidence_posted = (SELECT count(*) FROM case_evidence v WHERE v.case_id = e.case_id)
    WHERE card_message_id IS NOT NULL;
