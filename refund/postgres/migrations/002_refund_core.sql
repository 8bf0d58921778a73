-- The refund core: partial use and gifts on orders, decisions and deadlines
-- on cases, payouts, the platform balance and the outbox. The money
-- invariants live here as constraints, so that no code path, however
-- buggy or concurrent, can pay an order back twice.

ALTER TABLE orders
    -- Partial use, for pro-rata refunds; zero/NULL means none.
    ADD COLUMN usage_term_days        int         NOT NULL DEFAULT 0
        CONSTRAINT orders_usage_term_days_check CHECK (usage_term_days >= 0),
    ADD COLUMN usage_activated_at     timestamptz,
    ADD COLUMN usage_consumed_cents   bigint      NOT NULL DEFAULT 0
        CONSTRAINT orders_usage_consumed_cents_check CHECK (usage_consumed_cents >= 0),
    ADD COLUMN usage_progress_percent int         NOT NULL DEFAULT 0
        CONSTRAINT orders_usage_progress_percent_check CHECK (usage_progress_percent BETWEEN 0 AND 100),
    ADD COLUMN gift_value_cents       bigint      NOT NULL DEFAULT 0
        CONSTRAINT orders_gift_value_cents_check CHECK (gift_value_cents >= 0),
    ADD COLUMN gift_returned          boolean     NOT NULL DEFAULT false,
    -- What live payouts (pending or confirmed) take back from the order.
    -- Every payout adds to it in the transaction that creates it, and a
    -- failed one gives its amount back, so the CHECK below is the invariant
    -- "refunded per order <= amount paid" even under concurrent approvals.
    ADD COLUMN refunded_cents         bigint      NOT NULL DEFAULT 0,
    ADD CONSTRAINT orders_refunded_within_paid
        CHECK (refunded_cents >= 0 AND refunded_cents <= amount_paid_cents);

ALTER TABLE cases
    ADD COLUMN currency                text    NOT NULL DEFAULT '',
    -- The latest review's amounts; zero until a review ends.
    ADD COLUMN decided_refund_cents    bigint  NOT NULL DEFAULT 0
        CONSTRAINT cases_decided_refund_cents_check CHECK (decided_refund_cents >= 0),
    ADD COLUMN decided_fee_cents       bigint  NOT NULL DEFAULT 0
        CONSTRAINT cases_decided_fee_cents_check CHECK (decided_fee_cents >= 0),
    ADD COLUMN decided_deduction_cents bigint  NOT NULL DEFAULT 0
        CONSTRAINT cases_decided_deduction_cents_check CHECK (decided_deduction_cents >= 0),
    -- '' until the buyer or the deadline chooses.
    ADD COLUMN route                   text    NOT NULL DEFAULT ''
        CONSTRAINT cases_route_check CHECK (route IN ('', 'original', 'balance')),
    -- The next deadline; both NULL when there is none.
    ADD COLUMN due_kind                text,
    ADD COLUMN due_at                  timestamptz,
    ADD COLUMN appeals                 int     NOT NULL DEFAULT 0
        CONSTRAINT cases_appeals_check CHECK (appeals >= 0),
    ADD COLUMN review_overdue          boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT cases_due_check CHECK ((due_kind IS NULL) = (due_at IS NULL));

-- Cases created before this migration take their order's currency; later
-- ones must name it, so the default goes once the old rows are filled.
UPDATE cases SET currency = o.currency FROM orders o WHERE o.id = cases.order_id;
ALTER TABLE cases ALTER COLUMN currency DROP DEFAULT;

-- Serves DueCases: only open cases with a deadline are ever scanned.
CREATE INDEX cases_due_at_idx ON cases (due_at, id)
    WHERE due_at IS NOT NULL AND status NOT IN ('refunded', 'closed');

-- Serves the "frequent refunds" fact.
CREATE INDEX cases_buyer_refunded_idx ON cases (buyer_user_id, updated_at)
    WHERE status = 'refunded';

-- Adding columns with constant defaults rewrites no row, so the
-- append-only triggers on case_events are not fired.
ALTER TABLE case_events
    -- The codes of the policy rules behind a decision.
    ADD COLUMN rules        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN amount_cents bigint NOT NULL DEFAULT 0;

CREATE TABLE payouts (
    id            text        PRIMARY KEY,
    -- Insertion order, for listing a case's payouts oldest first when two
    -- share a created_at.
    seq           bigint      GENERATED ALWAYS AS IDENTITY CONSTRAINT payouts_seq_key UNIQUE,
    case_id       bigint      NOT NULL CONSTRAINT payouts_case_id_fkey REFERENCES cases (id),
    order_id      text        NOT NULL CONSTRAINT payouts_order_id_fkey REFERENCES orders (id),
    buyer_user_id bigint      NOT NULL,
    route         text        NOT NULL CONSTRAINT payouts_route_check CHECK (route IN ('original', 'balance')),
    -- The original payment method, for original-route payouts.
    method        text        NOT NULL,
    amount_cents  bigint      NOT NULL CONSTRAINT payouts_amount_cents_check CHECK (amount_cents > 0),
    currency      text        NOT NULL,
    -- '' means the account the buyer paid from.
    account       text        NOT NULL,
    status        text        NOT NULL CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'confirmed', 'failed')),
    error         text        NOT NULL,
    created_at    timestamptz NOT NULL,
    -- NULL exactly while the payout is pending.
    settled_at    timestamptz,
    CONSTRAINT payouts_settled_check CHECK ((status = 'pending') = (settled_at IS NULL))
);

-- One payout per approval: a case has at most one payout that is on its
-- way or arrived. Only a failed payout makes room for another.
CREATE UNIQUE INDEX payouts_one_live_per_case ON payouts (case_id)
    WHERE status IN ('pending', 'confirmed');

-- Serves PayoutsByCase and the "refunded before" fact.
CREATE INDEX payouts_case_id_idx ON payouts (case_id, created_at, seq);
CREATE INDEX payouts_order_id_idx ON payouts (order_id) WHERE status IN ('pending', 'confirmed');

-- The platform balance is the sum of its ledger: rows are only ever
-- added, so the balance at any time can be explained entry by entry.
CREATE TABLE balance_ledger (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL,
    currency     text        NOT NULL,
    amount_cents bigint      NOT NULL CONSTRAINT balance_ledger_amount_cents_check CHECK (amount_cents <> 0),
    case_id      bigint      NOT NULL CONSTRAINT balance_ledger_case_id_fkey REFERENCES cases (id),
    -- The payout the entry pays, when the change that made it had one.
    payout_id    text        CONSTRAINT balance_ledger_payout_id_fkey REFERENCES payouts (id),
    created_at   timestamptz NOT NULL
);

-- One approval credits once: one entry per payout, and one entry per case
-- for a credit that comes without a payout.
CREATE UNIQUE INDEX balance_ledger_one_per_payout ON balance_ledger (payout_id)
    WHERE payout_id IS NOT NULL;
CREATE UNIQUE INDEX balance_ledger_one_per_case ON balance_ledger (case_id)
    WHERE payout_id IS NULL;

-- Serves Balance.
CREATE INDEX balance_ledger_user_idx ON balance_ledger (user_id, currency);

-- The same refusal as case_events', naming whichever table it guards, so
-- that further append-only tables need no function of their own.
CREATE FUNCTION append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER balance_ledger_no_update_or_delete
    BEFORE UPDATE OR DELETE ON balance_ledger
    FOR EACH ROW EXECUTE FUNCTION append_only();

CREATE TRIGGER balance_ledger_no_truncate
    BEFORE TRUNCATE ON balance_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();

-- Messages written in the same transaction as the change they announce,
-- delivered at least once by workers that lease them.
CREATE TABLE outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL,
    key          text        NOT NULL,
    payload      bytea       NOT NULL,
    attempts     int         NOT NULL DEFAULT 0,
    -- When the item may be claimed next: its creation, then the end of
    -- each lease or the time a retry asked for.
    available_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    delivered_at timestamptz,
    last_error   text        NOT NULL DEFAULT '',
    -- Writing the same message twice (a retried change) sends it once.
    CONSTRAINT outbox_kind_key_key UNIQUE (kind, key)
);

-- Serves ClaimOutbox: only undelivered items are ever claimed.
CREATE INDEX outbox_claim_idx ON outbox (kind, available_at, id)
    WHERE delivered_at IS NULL;
