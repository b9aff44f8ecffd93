-- Polls, status edit history, pinned statuses, scheduled statuses, the
-- Idempotency-Key of status creation, per-follow boost and post
-- notification choices, private notes on accounts, and the bot and
-- discoverable flags of accounts, as Mastodon's client API exposes them.

ALTER TABLE accounts
    ADD COLUMN bot boolean NOT NULL DEFAULT false,
    ADD COLUMN discoverable boolean NOT NULL DEFAULT true;

-- show_reblogs false keeps the followed account's boosts out of the
-- follower's home feed; notify true sends the follower a "status"
-- notification for each new post of the followed account.
ALTER TABLE follows
    ADD COLUMN show_reblogs boolean NOT NULL DEFAULT true,
    ADD COLUMN notify boolean NOT NULL DEFAULT false;

-- Both choices act where statuses enter home feeds, so local posts, received
-- posts and boosts of either kind follow them without each writer checking.
-- A boost from an account followed with show_reblogs false is not inserted.
-- A post from an account followed with notify true also creates a "status"
-- notification, as Mastodon's subscriptions do, unless it is a boost, a
-- direct or group-only post, or a reply to someone else. The id has the
-- shape of storage/ids.py.
CREATE FUNCTION home_feed_follow_choices() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    posted statuses;
    choices follows;
BEGIN
    SELECT * INTO posted FROM statuses WHERE id = NEW.status_id;
    IF posted.account_id = NEW.account_id THEN
        RETURN NEW;
    END IF;
    SELECT * INTO choices FROM follows
        WHERE account_id = NEW.account_id AND target_account_id = posted.account_id
            AND accepted;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    IF posted.reblog_of_id IS NOT NULL THEN
        IF NOT choices.show_reblogs THEN
            RETURN NULL;
        END IF;
        RETURN NEW;
    END IF;
    IF choices.notify AND posted.visibility NOT IN ('direct', 'group')
            AND (posted.in_reply_to_account_id IS NULL
                OR posted.in_reply_to_account_id = posted.account_id) THEN
        INSERT INTO notifications (id, account_id, type, from_account_id, status_id)
        VALUES (
            ((extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16)
                | (random() * 65535)::bigint,
            NEW.account_id, 'status', posted.account_id, posted.id)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER home_feed_follow_choices BEFORE INSERT ON home_feed
    FOR EACH ROW EXECUTE FUNCTION home_feed_follow_choices();

-- A poll belongs to one status. options is a JSON array of
-- {"title": text, "votes_count": integer}. The counts of a remote poll are
-- those its origin last sent; those of a local poll are counted here.
CREATE TABLE polls (
    id bigint PRIMARY KEY,
    status_id bigint NOT NULL UNIQUE REFERENCES statuses ON DELETE CASCADE,
    options jsonb NOT NULL,
    multiple boolean NOT NULL DEFAULT false,
    hide_totals boolean NOT NULL DEFAULT false,
    -- NULL never expires.
    expires_at timestamptz,
    votes_count integer NOT NULL DEFAULT 0,
    voters_count integer,
    -- When an edit last replaced the options, which drops every vote.
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- When the "poll" notifications of the ended poll were created; NULL
    -- until then.
    closed_at timestamptz
);
CREATE INDEX polls_open_idx ON polls (expires_at) WHERE closed_at IS NULL;

-- One row per chosen option. uri is the vote Note's id: the local one sent
-- to a remote poll, or the remote one received for a local poll.
CREATE TABLE poll_votes (
    id bigint PRIMARY KEY,
    poll_id bigint NOT NULL REFERENCES polls ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    choice integer NOT NULL CHECK (choice >= 0),
    uri text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (poll_id, account_id, choice)
);
CREATE INDEX poll_votes_account_idx ON poll_votes (account_id, poll_id);

-- Earlier versions of a status, one row per version, oldest first. The
-- current version is the status row itself.
CREATE TABLE status_edits (
    id bigint PRIMARY KEY,
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    content text NOT NULL,
    spoiler_text text NOT NULL DEFAULT '',
    sensitive boolean NOT NULL DEFAULT false,
    -- The poll options of that version, or NULL without a poll.
    poll_options text[],
    media_ids bigint[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);
CREATE INDEX status_edits_status_idx ON status_edits (status_id, id);

-- A private note an account keeps about another account, shown only to its
-- writer in the Relationship entity.
CREATE TABLE account_notes (
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    comment text NOT NULL CHECK (length(comment) BETWEEN 1 AND 2000),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, target_account_id)
);

-- At most five per account (checked by the client API, as in Mastodon).
CREATE TABLE status_pins (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, status_id)
);

-- A status to publish at scheduled_at. params holds the request's fields
-- (text, visibility, media ids, poll) as the publisher reads them.
CREATE TABLE scheduled_statuses (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    scheduled_at timestamptz NOT NULL,
    params jsonb NOT NULL,
    -- The number of failed publishing attempts, and the last error text.
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduled_statuses_due_idx ON scheduled_statuses (scheduled_at);
CREATE INDEX scheduled_statuses_account_idx ON scheduled_statuses (account_id, id DESC);

-- The Idempotency-Key of a status creation: the same key from the same
-- account within an hour returns the status (or scheduled status) made
-- first. Rows older than an hour are removed when keys are written.
CREATE TABLE idempotency_keys (
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    key text NOT NULL,
    status_id bigint,
    scheduled_status_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
