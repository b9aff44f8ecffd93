-- Two visibilities beyond Mastodon's four. 'local' statuses are shown only to
-- accounts of this instance and never federated. 'group' statuses are shown to
-- the members and moderators of the group in audience_id.
--
-- status_visible() is the one rule for who may read a status. The read paths
-- in web/reading.py (pages, the client API, ActivityPub fetches, collections,
-- notifications) call it, in SQL for lists and through can_see for one status.

ALTER TABLE statuses DROP CONSTRAINT statuses_visibility_check;
ALTER TABLE statuses ADD CONSTRAINT statuses_visibility_check CHECK (
    visibility IN ('public', 'unlisted', 'private', 'direct', 'local', 'group'));
-- The group a group-only status is addressed to (its ActivityStreams audience).
ALTER TABLE statuses ADD COLUMN audience_id bigint REFERENCES accounts ON DELETE SET NULL;
CREATE INDEX statuses_audience_idx ON statuses (audience_id) WHERE audience_id IS NOT NULL;

-- Whether the account viewer_id (NULL for an anonymous visitor) may read the
-- status itself, without regard to a boosted status. The author always may,
-- and an account the author blocks never may.
CREATE FUNCTION status_visible_to(status statuses, viewer_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN viewer_id = status.account_id THEN true
        WHEN viewer_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM blocks b
            WHERE b.account_id = status.account_id AND b.target_account_id = viewer_id)
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

-- Whether viewer_id may read the status and, for a boost, the boosted status.
CREATE FUNCTION status_visible(status statuses, viewer_id bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT status_visible_to(status, viewer_id) AND (
        status.reblog_of_id IS NULL OR EXISTS (
            SELECT 1 FROM statuses boosted
            WHERE boosted.id = status.reblog_of_id
                AND status_visible_to(boosted, viewer_id)))
$$;
