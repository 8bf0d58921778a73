-- The queue board: one message per team chat, edited in place. A row with
-- no message yet is a claim to post it, so that of several replicas one does.
CREATE TABLE desk_boards (
    chat_id    bigint      PRIMARY KEY,
    message_id bigint      CONSTRAINT desk_boards_message_id_check CHECK (message_id > 0),
    text       text        NOT NULL DEFAULT '',
    claimed_at timestamptz NOT NULL
);
