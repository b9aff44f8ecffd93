-- Posting defaults of local accounts, as in the source of Mastodon's
-- CredentialAccount (privacy, sensitive, language), and keyword filters shaped
-- like Mastodon's filters v2.

ALTER TABLE accounts
    ADD COLUMN default_visibility text NOT NULL DEFAULT 'public'
        CHECK (default_visibility IN ('public', 'unlisted', 'private', 'direct')),
    ADD COLUMN default_sensitive boolean NOT NULL DEFAULT false,
    -- ISO 639 code such as "en"; NULL leaves a post's language unset.
    ADD COLUMN default_language text CHECK (default_language ~ '^[a-z]{2,3}$');

-- A filter applies in some contexts (home, notifications, public, thread,
-- account) and either hides matching statuses or shows them collapsed.
CREATE TABLE filters (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    contexts text[] NOT NULL CHECK (
        cardinality(contexts) > 0
        AND contexts <@ ARRAY['home', 'notifications', 'public', 'thread', 'account']
    ),
    action text NOT NULL CHECK (action IN ('hide', 'warn')),
    -- NULL never expires; an expired filter is ignored until it is deleted.
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filters_account_idx ON filters (account_id);

CREATE TABLE filter_keywords (
    id bigint PRIMARY KEY,
    filter_id bigint NOT NULL REFERENCES filters ON DELETE CASCADE,
    keyword text NOT NULL CHECK (length(keyword) BETWEEN 1 AND 200),
    whole_word boolean NOT NULL DEFAULT true
);
CREATE INDEX filter_keywords_filter_idx ON filter_keywords (filter_id);
