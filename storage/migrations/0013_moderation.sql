-- Moderation: mutes, domain blocks and the allowlist, reports, the audit log
-- of moderator actions, a moderator role, and admin-edited instance texts.

ALTER TABLE accounts
    ADD COLUMN is_moderator boolean NOT NULL DEFAULT false,
    -- Set on a remote account a moderator silenced: its posts leave public
    -- timelines and its follow requests need approval.
    ADD COLUMN silenced_at timestamptz;

CREATE INDEX blocks_target_idx ON blocks (target_account_id);

-- A mute hides the target from the muter's timelines and, when
-- hide_notifications is set, from the muter's notifications. A NULL
-- expires_at mutes until the muter lifts it.
CREATE TABLE mutes (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    hide_notifications boolean NOT NULL DEFAULT true,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, target_account_id)
);
CREATE INDEX mutes_expiry_idx ON mutes (expires_at) WHERE expires_at IS NOT NULL;

-- Mastodon's domain block levels: 'silence' hides the domain from public
-- timelines and makes its follows need approval, 'suspend' accepts and
-- delivers nothing, 'noop' only applies the reject_* flags.
CREATE TABLE domain_blocks (
    id bigint PRIMARY KEY,
    -- Lower-case host name, with the port when the peer runs on one.
    domain text NOT NULL UNIQUE CHECK (domain = lower(domain) AND domain <> ''),
    severity text NOT NULL CHECK (severity IN ('silence', 'suspend', 'noop')),
    reject_media boolean NOT NULL DEFAULT false,
    reject_reports boolean NOT NULL DEFAULT false,
    obfuscate boolean NOT NULL DEFAULT false,
    -- Shown on the about page; the private comment only to moderators.
    public_comment text NOT NULL DEFAULT '',
    private_comment text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Domains the instance federates with when federation.federation_mode is
-- "allowlist"; ignored otherwise.
CREATE TABLE domain_allows (
    id bigint PRIMARY KEY,
    domain text NOT NULL UNIQUE CHECK (domain = lower(domain) AND domain <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Reports by local teachers, and Flag activities received from other
-- instances (then account_id is the sending actor's account and uri its id).
CREATE TABLE reports (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    target_account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    status_ids bigint[] NOT NULL DEFAULT '{}',
    comment text NOT NULL DEFAULT '',
    category text NOT NULL DEFAULT 'other'
        CHECK (category IN ('spam', 'legal', 'violation', 'other')),
    rule_ids bigint[] NOT NULL DEFAULT '{}',
    forwarded boolean NOT NULL DEFAULT false,
    uri text UNIQUE,
    action_taken boolean NOT NULL DEFAULT false,
    resolved_at timestamptz,
    resolved_by bigint REFERENCES accounts ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_open_idx ON reports (id DESC) WHERE resolved_at IS NULL;
CREATE INDEX reports_target_idx ON reports (target_account_id);

-- Every moderator action, kept when the moderator's account is deleted.
CREATE TABLE moderation_log (
    id bigint PRIMARY KEY,
    account_id bigint REFERENCES accounts ON DELETE SET NULL,
    -- The moderator's handle at the time, so the entry stays readable.
    account_handle text NOT NULL,
    action text NOT NULL,
    target_type text NOT NULL,
    target text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_log_time_idx ON moderation_log (id DESC);

-- Server rules, in display order. Mastodon clients read them, with their ids,
-- from /api/v1/instance and send those ids with reports.
CREATE TABLE server_rules (
    id bigint PRIMARY KEY,
    position integer NOT NULL,
    text text NOT NULL CHECK (text <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Admin-edited texts: 'code_of_conduct', and 'rules_edited' once an admin has
-- saved the rules, after which the instance.rules setting is no longer read.
CREATE TABLE instance_texts (
    name text PRIMARY KEY,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The severity of the strongest domain block on an account's domain
-- (host[:port]), matching the host itself or any parent domain of it, as
-- Mastodon's blocks do; NULL for local accounts and unblocked domains.
CREATE FUNCTION domain_block_severity(account_domain text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT b.severity FROM domain_blocks b
    WHERE account_domain IS NOT NULL AND (
        b.domain = lower(account_domain)
        OR b.domain = lower(split_part(account_domain, ':', 1))
        OR right(lower(split_part(account_domain, ':', 1)), length(b.domain) + 1)
            = '.' || b.domain)
    ORDER BY CASE b.severity WHEN 'suspend' THEN 0 WHEN 'silence' THEN 1 ELSE 2 END
    LIMIT 1
$$;

-- True when the viewer must not see the author's posts in timelines: either
-- blocks the other, or the viewer mutes the author and the mute has not
-- expired. Read paths apply it beside the visibility rules.
CREATE FUNCTION account_hidden_from(author_id bigint, viewer_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT viewer_id IS NOT NULL AND author_id <> viewer_id AND (
        EXISTS (SELECT 1 FROM blocks b
            WHERE (b.account_id = viewer_id AND b.target_account_id = author_id)
               OR (b.account_id = author_id AND b.target_account_id = viewer_id))
        OR EXISTS (SELECT 1 FROM mutes m
            WHERE m.account_id = viewer_id AND m.target_account_id = author_id
              AND (m.expires_at IS NULL OR m.expires_at > now())))
$$;

-- True when an account's posts stay off the public timelines: the account
-- or its domain is silenced or suspended.
CREATE FUNCTION account_kept_off_public(author_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM accounts a WHERE a.id = author_id AND (
        a.silenced_at IS NOT NULL OR a.suspended_at IS NOT NULL
        OR domain_block_severity(a.domain) IN ('silence', 'suspend')))
$$;

-- True when a notification from the sender must not reach the recipient: a
-- block either way, or a live mute that hides notifications.
CREATE FUNCTION notification_hidden(recipient_id bigint, sender_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM blocks b
            WHERE (b.account_id = recipient_id AND b.target_account_id = sender_id)
               OR (b.account_id = sender_id AND b.target_account_id = recipient_id))
        OR EXISTS (SELECT 1 FROM mutes m
            WHERE m.account_id = recipient_id AND m.target_account_id = sender_id
              AND m.hide_notifications
              AND (m.expires_at IS NULL OR m.expires_at > now()))
$$;
