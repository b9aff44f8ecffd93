-- Blocks hide statuses in both directions, as Mastodon's do: a reader who
-- blocks an author no longer reads that author's statuses anywhere (threads,
-- profiles, search, tag pages, boosts by others), just as an account the
-- author blocks does not. Accounts cannot block whole domains, so only
-- account blocks apply here.
--
-- Both functions stay single SQL statements, so PostgreSQL inlines them into
-- the read queries that call them.

CREATE OR REPLACE FUNCTION status_visible_to(status statuses, viewer_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN viewer_id = status.account_id THEN true
        WHEN viewer_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM blocks b
            WHERE (b.account_id = status.account_id AND b.target_account_id = viewer_id)
               OR (b.account_id = viewer_id AND b.target_account_id = status.account_id))
            THEN false
        WHEN status.visibility IN ('public', 'unlisted') THEN true
        WHEN viewer_id IS NULL THEN false
        -- Never readable from another instance, whoever is mentioned.
        WHEN status.visibility = 'local' THEN EXISTS (
            SELECT 1 FROM accounts a WHERE a.id = viewer_id AND a.domain IS NULL)
        WHEN status.visibility = 'group' THEN viewer_id = status.audience_id
            OR EXISTS (
                SELECT 1 FROM follows f
                WHERE f.account_id = viewer_id AND f.target_account_id = status.audience_id
                    AND f.accepted)
            OR EXISTS (
                SELECT 1 FROM group_moderators m
                WHERE m.group_id = status.audience_id AND m.account_id = viewer_id)
            OR EXISTS (
                SELECT 1 FROM remote_group_moderators m
                WHERE m.group_id = status.audience_id AND m.account_id = viewer_id)
        WHEN EXISTS (
            SELECT 1 FROM mentions m
            WHERE m.status_id = status.id AND m.account_id = viewer_id) THEN true
        WHEN status.visibility = 'private' THEN EXISTS (
            SELECT 1 FROM follows f
            WHERE f.account_id = viewer_id AND f.target_account_id = status.account_id
                AND f.accepted)
        ELSE false
    END
$$;

-- True when ``status`` is a boost of a status whose author the viewer must not
-- see in timelines (account_hidden_from: a block either way or a live mute).
-- A mute hides the muted account's statuses when others boost them too, as
-- Mastodon's mutes do. Timelines apply it beside account_hidden_from, which
-- checks the booster.
CREATE FUNCTION boost_hidden_from(status statuses, viewer_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT viewer_id IS NOT NULL AND status.reblog_of_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM statuses boosted
        WHERE boosted.id = status.reblog_of_id
            AND account_hidden_from(boosted.account_id, viewer_id))
$$;

-- Suspending or reinstating a remote account empties every process's cached
-- copy of the domain policy, which also holds the suspended remote actors that
-- the inbox rejects.
CREATE FUNCTION notify_remote_suspension() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pedagogue_domain_policy', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_remote_suspension
    AFTER UPDATE OF suspended_at ON accounts
    FOR EACH ROW
    WHEN (NEW.domain IS NOT NULL
        AND OLD.suspended_at IS DISTINCT FROM NEW.suspended_at)
    EXECUTE FUNCTION notify_remote_suspension();

-- Every reload of the domain policy reads the suspended remote actors; this
-- index keeps that read from scanning all known accounts.
CREATE INDEX accounts_suspended_remote_idx ON accounts (actor_id)
    WHERE domain IS NOT NULL AND suspended_at IS NOT NULL;

-- The inbox looks up the group whose members (followers) collection a
-- received non-public note addresses, once per such note.
CREATE INDEX accounts_group_followers_idx ON accounts (followers_url)
    WHERE actor_type = 'Group';
