-- Web interface accounts: admin role, time zone, suspension, browser sessions,
-- invites, sign-up requests awaiting approval, password reset links and
-- sign-in attempts for rate limiting.

ALTER TABLE accounts
    ADD COLUMN is_admin boolean NOT NULL DEFAULT false,
    -- IANA zone name such as Europe/Paris; NULL shows times in the instance's zone.
    ADD COLUMN time_zone text,
    ADD COLUMN suspended_at timestamptz;

-- A browser session. The cookie carries a random token and only its SHA-256
-- is stored, so a copy of the table cannot be replayed as cookies.
CREATE TABLE web_sessions (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    -- Compared with the csrf_token field of every form posted in this session.
    csrf_token text NOT NULL,
    user_agent text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_account_idx ON web_sessions (account_id);

-- Invite links; the code is stored as its SHA-256 and shown once on creation.
CREATE TABLE invites (
    id bigint PRIMARY KEY,
    code_hash bytea NOT NULL UNIQUE,
    created_by bigint REFERENCES accounts ON DELETE SET NULL,
    note text NOT NULL DEFAULT '',
    max_uses integer NOT NULL DEFAULT 1 CHECK (max_uses > 0),
    uses integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- Sign-ups under open registration wait here until an admin approves them;
-- the account and its actor exist only after approval.
CREATE TABLE sign_up_requests (
    id bigint PRIMARY KEY,
    username text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    reason text NOT NULL DEFAULT '',
    time_zone text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sign_up_requests_username_idx ON sign_up_requests (lower(username));

CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX password_resets_account_idx ON password_resets (account_id);

-- Failed sign-ins, counted per lower-cased username and per client address.
CREATE TABLE sign_in_failures (
    id bigserial PRIMARY KEY,
    username text NOT NULL,
    address text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_username_idx ON sign_in_failures (username, failed_at);
CREATE INDEX sign_in_failures_address_idx ON sign_in_failures (address, failed_at);
