-- Orders as the shop reports them, refund cases, their evidence and their
-- append-only history. Money is integer cents; times are timestamptz.

CREATE TABLE orders (
    id                text PRIMARY KEY,
    -- NULL when the shop did not bind the order to a Telegram user; the
    -- buyer must then prove ownership with the contact phone.
    buyer_telegram_id bigint,
    contact_phone     text        NOT NULL,
    product           text        NOT NULL,
    category          text        NOT NULL,
    amount_paid_cents bigint      NOT NULL CONSTRAINT orders_amount_paid_cents_check CHECK (amount_paid_cents >= 0),
    list_price_cents  bigint      NOT NULL CONSTRAINT orders_list_price_cents_check CHECK (list_price_cents >= 0),
    currency          text        NOT NULL,
    payment_method    text        NOT NULL,
    purchased_at      timestamptz NOT NULL,
    -- NULL when the goods were never delivered.
    delivered_at      timestamptz,
    used              boolean     NOT NULL,
    updated_at        timestamptz NOT NULL
);

CREATE TABLE cases (
    -- The public case number is refund.FormatCaseNumber(id), e.g. R-000123.
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id               text        NOT NULL CONSTRAINT cases_order_id_fkey REFERENCES orders (id),
    buyer_user_id          bigint      NOT NULL,
    chat_id                bigint      NOT NULL,
    reason                 text        NOT NULL,
    statement              text        NOT NULL,
    requested_amount_cents bigint      NOT NULL CONSTRAINT cases_requested_amount_cents_check CHECK (requested_amount_cents >= 0),
    -- Must list every refund.Statuses() value; a test compares the two.
    status                 text        NOT NULL CONSTRAINT cases_status_check CHECK (status IN (
        'submitted', 'auto_review', 'needs_info', 'human_review', 'approved', 'rejected',
        'appealed', 'payout_pending', 'payout_failed', 'refunded', 'closed')),
    language               text        NOT NULL,
    submission_key         text        NOT NULL CONSTRAINT cases_submission_key_key UNIQUE,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);

-- One open case per order, enforced here so that two bot instances racing
-- on the same order cannot both win. "Open" matches refund.Status.Open().
CREATE UNIQUE INDEX cases_one_open_per_order ON cases (order_id)
    WHERE status NOT IN ('refunded', 'closed');

-- Serves CasesByOrder, newest first, and the foreign key from cases.
CREATE INDEX cases_order_id_created_at_idx ON cases (order_id, created_at DESC, id DESC);

CREATE TABLE case_evidence (
    case_id        bigint NOT NULL CONSTRAINT case_evidence_case_id_fkey REFERENCES cases (id),
    -- 1-based upload order, which is the order evidence is shown in.
    position       int    NOT NULL,
    kind           text   NOT NULL CONSTRAINT case_evidence_kind_check CHECK (kind IN ('photo', 'document')),
    file_id        text   NOT NULL,
    file_unique_id text   NOT NULL,
    size           bigint NOT NULL,
    mime_type      text   NOT NULL,
    file_name      text   NOT NULL,
    caption        text   NOT NULL,
    CONSTRAINT case_evidence_pkey PRIMARY KEY (case_id, position)
);

-- The refund core looks for the same file submitted to several cases.
CREATE INDEX case_evidence_file_unique_id_idx ON case_evidence (file_unique_id);

CREATE TABLE case_events (
    case_id bigint      NOT NULL CONSTRAINT case_events_case_id_fkey REFERENCES cases (id),
    seq     int         NOT NULL CONSTRAINT case_events_seq_check CHECK (seq > 0),
    type    text        NOT NULL,
    actor   text        NOT NULL,
    -- The case's status after the event.
    status  text        NOT NULL CONSTRAINT case_events_status_check CHECK (status IN (
        'submitted', 'auto_review', 'needs_info', 'human_review', 'approved', 'rejected',
        'appealed', 'payout_pending', 'payout_failed', 'refunded', 'closed')),
    note    text        NOT NULL,
    at      timestamptz NOT NULL,
    CONSTRAINT case_events_pkey PRIMARY KEY (case_id, seq)
);

-- The event log is the audit trail of money decisions: nobody, not even a
-- hand-typed query, may rewrite or erase it.
CREATE FUNCTION case_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER case_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

CREATE TRIGGER case_events_no_truncate
    BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();
