-- Account migration: the aliases an account lists as alsoKnownAs, and the
-- account it moved to (ActivityPub Move, as Mastodon sends it).

ALTER TABLE accounts
    ADD COLUMN also_known_as text[] NOT NULL DEFAULT '{}',
    ADD COLUMN moved_to_actor_id text,
    ADD COLUMN moved_at timestamptz;
