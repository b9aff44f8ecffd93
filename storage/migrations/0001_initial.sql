-- Accounts, follows, statuses, the inbox and delivery queues, and client tokens.

CREATE TABLE accounts (
    id bigint PRIMARY KEY,
    username text NOT NULL,
    -- NULL for local accounts; host[:port] of the actor id for remote ones.
    domain text,
    actor_id text NOT NULL UNIQUE,
    actor_type text NOT NULL DEFAULT 'Person',
    display_name text NOT NULL DEFAULT '',
    summary text NOT NULL DEFAULT '',
    inbox_url text,
    shared_inbox_url text,
    outbox_url text,
    followers_url text,
    following_url text,
    url text,
    icon_url text,
    manually_approves_followers boolean NOT NULL DEFAULT false,
    private_key_pem text,
    password_hash text,
    created_at timestamptz NOT NULL DEFAULT now(),
    fetched_at timestamptz,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX accounts_handle_idx
    ON accounts (lower(username), coalesce(lower(domain), ''));

CREATE TABLE account_keys (
    key_id text PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    public_key_pem text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_keys_account_idx ON account_keys (account_id);

CREATE TABLE follows (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    uri text UNIQUE,
    accepted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, target_account_id)
);
CREATE INDEX follows_target_idx ON follows (target_account_id) WHERE accepted;

CREATE TABLE statuses (
    id bigint PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    url text,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    local boolean NOT NULL,
    object_type text NOT NULL DEFAULT 'Note',
    name text NOT NULL DEFAULT '',
    content text NOT NULL DEFAULT '',
    source_text text,
    spoiler_text text NOT NULL DEFAULT '',
    visibility text NOT NULL
        CHECK (visibility IN ('public', 'unlisted', 'private', 'direct')),
    sensitive boolean NOT NULL DEFAULT false,
    language text,
    in_reply_to_id bigint REFERENCES statuses ON DELETE SET NULL,
    in_reply_to_uri text,
    in_reply_to_account_id bigint REFERENCES accounts ON DELETE SET NULL,
    reblog_of_id bigint REFERENCES statuses ON DELETE CASCADE,
    activity_uri text,
    to_uris text[] NOT NULL DEFAULT '{}',
    cc_uris text[] NOT NULL DEFAULT '{}',
    replies_count integer NOT NULL DEFAULT 0,
    reblogs_count integer NOT NULL DEFAULT 0,
    favourites_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    edited_at timestamptz,
    deleted_at timestamptz
);
CREATE INDEX statuses_account_idx ON statuses (account_id, id DESC);
CREATE INDEX statuses_reply_idx ON statuses (in_reply_to_id) WHERE in_reply_to_id IS NOT NULL;
CREATE INDEX statuses_reply_uri_idx ON statuses (in_reply_to_uri)
    WHERE in_reply_to_uri IS NOT NULL AND in_reply_to_id IS NULL;
CREATE UNIQUE INDEX statuses_one_reblog_idx ON statuses (account_id, reblog_of_id)
    WHERE reblog_of_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX statuses_public_idx ON statuses (id DESC)
    WHERE visibility = 'public' AND deleted_at IS NULL AND reblog_of_id IS NULL;

CREATE TABLE mentions (
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    PRIMARY KEY (status_id, account_id)
);

CREATE TABLE status_tags (
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    name text NOT NULL,
    PRIMARY KEY (status_id, name)
);
CREATE INDEX status_tags_name_idx ON status_tags (name, status_id DESC);

CREATE TABLE media_attachments (
    id bigint PRIMARY KEY,
    status_id bigint REFERENCES statuses ON DELETE CASCADE,
    remote_url text,
    media_type text NOT NULL DEFAULT 'unknown',
    mime_type text,
    description text,
    blurhash text,
    position integer NOT NULL DEFAULT 0
);
CREATE INDEX media_attachments_status_idx ON media_attachments (status_id);

CREATE TABLE favourites (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    uri text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, status_id)
);

CREATE TABLE blocks (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    uri text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, target_account_id)
);

-- Home timelines are written when a status arrives (fan-out on write), so a
-- timeline read is one index range scan.
CREATE TABLE home_feed (
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    PRIMARY KEY (account_id, status_id)
);
CREATE INDEX home_feed_status_idx ON home_feed (status_id);

CREATE TABLE notifications (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    type text NOT NULL,
    from_account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    status_id bigint REFERENCES statuses ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_account_idx ON notifications (account_id, id DESC);
CREATE UNIQUE INDEX notifications_once_idx
    ON notifications (account_id, type, from_account_id, coalesce(status_id, 0));

-- Activities created by local actions; each dereferences at its uri.
CREATE TABLE activities (
    id bigint PRIMARY KEY,
    uri text NOT NULL UNIQUE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    type text NOT NULL,
    object_uri text,
    public boolean NOT NULL DEFAULT false,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activities_outbox_idx ON activities (account_id, id DESC) WHERE public;

-- Received activities, stored before the 202 and processed by workers.
CREATE TABLE inbox_queue (
    id bigserial PRIMARY KEY,
    activity_id text NOT NULL,
    activity_type text NOT NULL,
    actor_id text NOT NULL,
    key_id text NOT NULL,
    recipient text,
    body text NOT NULL,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'done', 'ignored', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    received_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE UNIQUE INDEX inbox_queue_activity_idx ON inbox_queue (activity_id);
CREATE INDEX inbox_queue_ready_idx ON inbox_queue (next_attempt_at, id)
    WHERE state = 'queued';

-- One row per activity and recipient inbox.
CREATE TABLE deliveries (
    id bigserial PRIMARY KEY,
    activity_id bigint NOT NULL REFERENCES activities ON DELETE CASCADE,
    inbox_url text NOT NULL,
    host text NOT NULL,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'delivered', 'failed', 'gone')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    deadline_at timestamptz NOT NULL,
    last_status integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (activity_id, inbox_url)
);
CREATE INDEX deliveries_ready_idx ON deliveries (next_attempt_at, id)
    WHERE state = 'queued';

CREATE TABLE hosts (
    host text PRIMARY KEY,
    failure_count integer NOT NULL DEFAULT 0,
    first_failure_at timestamptz,
    last_failure_at timestamptz,
    last_success_at timestamptz,
    unreachable boolean NOT NULL DEFAULT false,
    -- 'rfc9421' or 'cavage' once the host has told us which it accepts.
    signature_scheme text
);

-- Actors that answered 410 Gone: deliveries to their inboxes stop.
CREATE TABLE gone_inboxes (
    inbox_url text PRIMARY KEY,
    gone_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tokens (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    scopes text NOT NULL DEFAULT 'read write follow',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_used_at timestamptz
);
