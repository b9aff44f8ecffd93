-- Lists, read markers, bookmarks, the read state of direct conversations,
-- statuses named by filters, and media uploaded through the client API, as
-- Mastodon's client API exposes them.

-- A list holds followed accounts; its timeline shows their statuses. An
-- exclusive list's members are left out of the owner's home timeline.
CREATE TABLE lists (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    -- Which replies the list timeline shows: replies to any followed account,
    -- replies to list members, or none.
    replies_policy text NOT NULL DEFAULT 'list'
        CHECK (replies_policy IN ('followed', 'list', 'none')),
    exclusive boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lists_account_idx ON lists (account_id, id);

-- Each member row hangs on the owner's follow of the member, so an unfollow
-- takes the account out of every list of the owner.
CREATE TABLE list_accounts (
    id bigint PRIMARY KEY,
    list_id bigint NOT NULL REFERENCES lists ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    follow_id bigint NOT NULL REFERENCES follows ON DELETE CASCADE,
    UNIQUE (list_id, account_id)
);
CREATE INDEX list_accounts_account_idx ON list_accounts (account_id);
CREATE INDEX list_accounts_follow_idx ON list_accounts (follow_id);

-- The last read position of the home timeline and of notifications. The
-- version counts the changes, so clients can tell a stale marker.
CREATE TABLE markers (
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    timeline text NOT NULL CHECK (timeline IN ('home', 'notifications')),
    last_read_id bigint NOT NULL,
    version integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, timeline)
);

CREATE TABLE bookmarks (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, status_id)
);
CREATE INDEX bookmarks_account_idx ON bookmarks (account_id, id DESC);
CREATE INDEX favourites_account_idx ON favourites (account_id, id DESC);

-- Direct statuses a local account is mentioned in are found through this.
CREATE INDEX mentions_account_idx ON mentions (account_id, status_id);

-- A conversation is the thread of direct statuses under one root status.
-- Statuses up to last_read_status_id are read; a conversation removed by its
-- participant stays hidden until a status newer than hidden_through_status_id
-- arrives. The root status may be deleted, so it is kept as a plain id.
CREATE TABLE conversation_states (
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    root_status_id bigint NOT NULL,
    last_read_status_id bigint NOT NULL DEFAULT 0,
    hidden_through_status_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, root_status_id)
);

-- Statuses a filter matches by id, besides its keywords.
CREATE TABLE filter_statuses (
    id bigint PRIMARY KEY,
    filter_id bigint NOT NULL REFERENCES filters ON DELETE CASCADE,
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    UNIQUE (filter_id, status_id)
);

-- Local uploads: the uploader, the stored file under the media directory,
-- the focal point (x and y from -1 to 1, the centre at 0,0) and the image
-- size. An upload has no status until a status is posted with it.
ALTER TABLE media_attachments
    ADD COLUMN account_id bigint REFERENCES accounts ON DELETE CASCADE,
    ADD COLUMN file_name text,
    ADD COLUMN focus_x real CHECK (focus_x BETWEEN -1 AND 1),
    ADD COLUMN focus_y real CHECK (focus_y BETWEEN -1 AND 1),
    ADD COLUMN width integer,
    ADD COLUMN height integer,
    ADD COLUMN file_size integer,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX media_attachments_unattached_idx ON media_attachments (account_id)
    WHERE status_id IS NULL;
