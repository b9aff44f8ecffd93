-- OAuth 2 (RFC 6749) for Mastodon client apps: registered applications,
-- authorization codes, and the app, expiry and scopes of access tokens.
-- Client secrets, codes and tokens are random, and only their SHA-256
-- digests are stored.

CREATE TABLE oauth_apps (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    website text,
    -- Absolute URIs, or urn:ietf:wg:oauth:2.0:oob for the out-of-band flow.
    redirect_uris text[] NOT NULL,
    -- Space-delimited scopes the app may request (RFC 6749, section 3.3).
    scopes text NOT NULL,
    client_id text NOT NULL UNIQUE,
    client_secret_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Tokens issued before this migration act for their account with every scope,
-- as tokens of `pedagogue token create` do from now on.
ALTER TABLE tokens
    ALTER COLUMN account_id DROP NOT NULL,
    ALTER COLUMN scopes SET DEFAULT 'read write follow push profile admin:read admin:write',
    ADD COLUMN app_id bigint REFERENCES oauth_apps ON DELETE CASCADE,
    ADD COLUMN expires_at timestamptz,
    -- A client_credentials token has an app and no account.
    ADD CONSTRAINT tokens_owner_check CHECK (account_id IS NOT NULL OR app_id IS NOT NULL);
UPDATE tokens SET scopes = 'read write follow push profile admin:read admin:write'
    WHERE scopes = 'read write follow';
CREATE INDEX tokens_account_idx ON tokens (account_id) WHERE revoked_at IS NULL;
CREATE INDEX tokens_app_idx ON tokens (app_id);

-- Authorization codes of the code grant (RFC 6749, section 4.1), usable once
-- and for ten minutes. token_id records the token issued for the code, so
-- that a second use of the code can revoke it (RFC 6749, section 4.1.2).
CREATE TABLE oauth_codes (
    code_hash bytea PRIMARY KEY,
    app_id bigint NOT NULL REFERENCES oauth_apps ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES accounts ON DELETE CASCADE,
    redirect_uri text NOT NULL,
    -- Whether the authorization request named redirect_uri, in which case the
    -- token request must repeat it (RFC 6749, section 4.1.3).
    redirect_uri_given boolean NOT NULL,
    scopes text NOT NULL,
    -- PKCE (RFC 7636): the challenge and its method, S256 or plain.
    code_challenge text,
    code_challenge_method text CHECK (code_challenge_method IN ('S256', 'plain')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    token_id bigint REFERENCES tokens ON DELETE SET NULL
);
CREATE INDEX oauth_codes_expires_idx ON oauth_codes (expires_at);
